"""A corpus of e-mail addresses, phone and card numbers in every field, through every entrance,
never reaches the store (events and quarantine); ``forget`` leaves no trace, spool included."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx

from microfunnel.ingest.runtime import Runtime
from microfunnel.store.base import Store
from tests.helpers import new_project, running_server

EMAILS = ["jane.doe@example.com", "o'brien+shop@mail.example.co.uk", "X_Y-z@sub.domain.org"]
PHONES = ["+44 20 7946 0958", "(555) 867-5309", "+1-202-555-0143", "+49 30 901820"]
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011 0009 9013 9424"]
CORPUS = EMAILS + PHONES + CARDS


def _store_text(store: Store) -> str:
    rows = store.query("SELECT * FROM events").to_pylist()
    rows += store.query("SELECT * FROM quarantine").to_pylist()
    rows += store.query("SELECT * FROM identities").to_pylist()
    return json.dumps(rows, default=str)


def _native(i: int, pii: str) -> dict[str, object]:
    return {
        "event": "add_to_cart" if i % 3 else "Not A Planned Event",  # some go to quarantine
        "event_id": f"n{i}",
        "anonymous_id": f"anon-{i}",
        "user_id": pii if i % 4 == 0 else f"user-{i}",
        "properties": {
            "currency": "EUR",
            "value": 10.0,
            "note": f"contact {pii} please",
            "items": [{"item_id": "sku-1", "item_name": f"gift for {pii}", "price": 10.0}],
            "nested": {"deeper": [f"x {pii} y"]},
        },
        "context": {
            "page_url": f"https://shop.example/p?ref={pii}&utm_source=mail",
            "referrer": f"https://mail.example/?to={pii}",
            "page_path": "/p",
        },
    }


def test_corpus_never_reaches_the_store_through_any_entrance(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    key = created.write_key
    basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    with running_server(created.project) as url:
        native = [_native(i, pii) for i, pii in enumerate(CORPUS)]
        httpx.post(
            f"{url}/v1/events", json={"batch": native}, headers={"Authorization": f"Bearer {key}"}
        ).raise_for_status()
        segment = [
            {
                "type": "track",
                "event": "add_to_cart",
                "messageId": f"s{i}",
                "userId": f"u{i}",
                "properties": {"currency": "EUR", "value": 1.0, "comment": pii},
                "context": {
                    "page": {"url": f"https://shop.example/?email={pii}"},
                    "traits": {"email": pii},
                },
            }
            for i, pii in enumerate(CORPUS)
        ]
        httpx.post(f"{url}/v1/batch", json={"batch": segment}, headers=basic).raise_for_status()
        posthog = [
            {
                "event": "add_to_cart",
                "distinct_id": f"d{i}",
                "uuid": f"00000000-0000-4000-8000-{i:012d}",
                "properties": {
                    "currency": "EUR",
                    "value": 1.0,
                    "$current_url": f"https://s.example/?p={pii}",
                    "msg": pii,
                },
            }
            for i, pii in enumerate(CORPUS)
        ]
        httpx.post(f"{url}/batch/", json={"api_key": key, "batch": posthog}).raise_for_status()
        ga4 = {
            "client_id": "c1",
            "events": [
                {"name": "add_to_cart", "params": {"currency": "EUR", "value": 1.0, "coupon": pii}}
                for pii in CORPUS[:20]
            ],
        }
        httpx.post(f"{url}/mp/collect", params={"api_secret": key}, json=ga4).raise_for_status()
    with created.project.open_store() as store:
        text = _store_text(store)
        kept = store.count_events() + len(store.quarantine_rows(1000))
    assert kept == 4 * len(CORPUS) - (len(CORPUS) - 20 if len(CORPUS) > 20 else 0)
    leaked = [pii for pii in CORPUS if pii in text]
    assert not leaked, f"reached the store: {leaked}"


def test_forget_leaves_no_trace_of_a_person(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    key = created.write_key
    events = [
        {"event": "page_view", "event_id": f"f{i}", "anonymous_id": "dev-9", "user_id": "cust-9"}
        for i in range(5)
    ] + [{"event": "Unplanned Thing", "event_id": "fq", "user_id": "cust-9"}]
    with running_server(created.project) as url:
        httpx.post(
            f"{url}/v1/events", json={"batch": events}, headers={"Authorization": f"Bearer {key}"}
        ).raise_for_status()
        httpx.post(
            f"{url}/v1/events",
            json={
                "event": "$identify",
                "event_id": "id1",
                "anonymous_id": "dev-9",
                "user_id": "cust-9",
            },
            headers={"Authorization": f"Bearer {key}"},
        ).raise_for_status()
        answer = httpx.post(
            f"{url}/api/forget",
            json={"user_id": "cust-9"},
            headers={"Authorization": f"Bearer {created.secret_key}"},
        )
        assert answer.status_code == 200 and answer.json()["events_removed"] == 6
    with Runtime(created.project) as runtime:
        text = _store_text(runtime.store)
    assert "cust-9" not in text and "dev-9" not in text
    for path in created.project.spool_path.iterdir():
        if path.is_file():
            assert b"cust-9" not in path.read_bytes(), path.name
