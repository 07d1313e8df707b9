"""The real tracking clients from PyPI against the real collector on 127.0.0.1.

Every event lands exactly once with the right name, ids, time and properties, including after a
forced retry (a proxy swallows the first answer, so the client resends what was already stored)
and with gzip on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from microfunnel.config import Project
from microfunnel.project import CreatedProject
from tests.compat.proxy import DroppingProxy
from tests.helpers import new_project, running_server

WHEN = datetime(2026, 11, 2, 12, 34, 56, 789000, tzinfo=UTC)
PROPS = {"currency": "EUR", "value": 19.99, "items": [{"item_id": "SKU-123", "price": 19.99}]}


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[CreatedProject, str, int]]:
    created = new_project(tmp_path / "p")
    with running_server(created.project) as url:
        yield created, url, int(url.rsplit(":", 1)[1])


def _stored(project: Project) -> list[dict[str, Any]]:
    with project.open_store() as store:
        return store.query(
            "SELECT event_id, event, user_id, anonymous_id, person_id, timestamp, properties, "
            "source FROM events ORDER BY event_id"
        ).to_pylist()


def _wait_for(project_url: str, secret: str, n: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = httpx.get(
            f"{project_url}/api/events/count", headers={"Authorization": f"Bearer {secret}"}
        ).json()["count"]
        if got >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"expected {n} events, still {got}")


def _check_add_to_cart(rows: list[dict[str, Any]], event_id: str, source: str) -> None:
    import json

    row = next(r for r in rows if r["event_id"] == event_id)
    assert row["event"] == "add_to_cart"
    assert row["person_id"] == "user-42"
    assert row["source"] == source
    ts = row["timestamp"].replace(tzinfo=None)
    assert abs((ts - WHEN.replace(tzinfo=None)).total_seconds()) < 3
    props = json.loads(row["properties"])
    assert props["value"] == 19.99 and props["currency"] == "EUR"
    assert props["items"][0]["item_id"] == "SKU-123"


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_segment_and_rudderstack_with_a_forced_retry_and_gzip(
    shop: tuple[CreatedProject, str, int], library: str
) -> None:
    created, url, port = shop
    proxy = DroppingProxy(port, drop=1)
    if library == "segment":
        from segment.analytics.client import Client
    else:
        from rudderstack.analytics.client import Client  # type: ignore[no-redef]
    logging.getLogger("segment").setLevel(logging.CRITICAL)
    logging.getLogger("rudder").setLevel(logging.CRITICAL)
    client = Client(
        created.write_key,
        host=f"http://127.0.0.1:{proxy.port}",
        gzip=True,
        max_retries=3,
        upload_interval=0.05,
    )
    client.track(
        user_id="user-42",
        anonymous_id="anon-7f3c9a",
        event="add_to_cart",
        properties=PROPS,
        timestamp=WHEN,
        message_id=f"{library}-1",
        context={"page": {"url": "https://shop.example/p/sku-123?utm_source=newsletter"}},
    )
    client.identify(user_id="user-42", anonymous_id="anon-7f3c9a", message_id=f"{library}-2")
    client.flush()
    proxy.close()
    assert proxy.dropped == 1  # the first answer was swallowed: the client retried
    _wait_for(url, created.secret_key, 2)
    rows = _stored(created.project)
    assert [r["event_id"] for r in rows] == [f"{library}-1", f"{library}-2"]
    _check_add_to_cart(rows, f"{library}-1", "segment")
    assert {r["person_id"] for r in rows} == {"user-42"}


def test_posthog_v0_with_a_forced_retry(shop: tuple[CreatedProject, str, int]) -> None:
    from posthog import Posthog

    created, url, port = shop
    proxy = DroppingProxy(port, drop=1)
    logging.getLogger("posthog").setLevel(logging.CRITICAL)
    client = Posthog(
        created.write_key,
        host=f"http://127.0.0.1:{proxy.port}",
        sync_mode=True,
        gzip=True,
        max_retries=3,
    )
    client.capture(
        "add_to_cart",
        distinct_id="user-42",
        properties=PROPS,
        timestamp=WHEN,
        uuid="0192f1c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
    )
    client.flush()
    client.shutdown()
    proxy.close()
    assert proxy.dropped == 1
    _wait_for(url, created.secret_key, 1)
    rows = _stored(created.project)
    assert len(rows) == 1
    _check_add_to_cart(rows, "0192f1c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e", "posthog")


def test_snowplow_post_and_get(shop: tuple[CreatedProject, str, int]) -> None:
    from snowplow_tracker import Emitter, SelfDescribing, SelfDescribingJson, Subject, Tracker

    created, url, port = shop
    for method in ("post", "get"):
        emitter = Emitter("127.0.0.1", protocol="http", port=port, method=method, batch_size=1)
        tracker = Tracker(
            f"ns-{method}",
            emitter,
            subject=Subject().set_user_id("user-42"),
            app_id=created.write_key,
        )
        tracker.track(
            SelfDescribing(
                SelfDescribingJson("iglu:com.example.shop/add_to_cart/jsonschema/1-0-0", PROPS),
                true_timestamp=WHEN.timestamp() * 1000,
            )
        )
        tracker.flush()
    _wait_for(url, created.secret_key, 2)
    rows = _stored(created.project)
    assert len(rows) == 2
    for row in rows:
        _check_add_to_cart(rows, row["event_id"], "snowplow")


def test_ga4_measurement_protocol_and_validation(shop: tuple[CreatedProject, str, int]) -> None:
    created, url, _ = shop
    body = {
        "client_id": "anon-7f3c9a",
        "user_id": "user-42",
        "timestamp_micros": int(WHEN.timestamp() * 1_000_000),
        "events": [{"name": "add_to_cart", "params": PROPS}],
    }
    query = {"measurement_id": "G-TEST", "api_secret": created.write_key}
    first = httpx.post(f"{url}/mp/collect", params=query, json=body)
    again = httpx.post(f"{url}/mp/collect", params=query, json=body)  # a resend
    debug = httpx.post(
        f"{url}/debug/mp/collect",
        params=query,
        json={"client_id": "x", "events": [{"name": "Bad Name"}]},
    )
    assert first.status_code == 200 and again.status_code == 200
    assert debug.status_code == 200 and debug.json()["validationMessages"]
    _wait_for(url, created.secret_key, 1)
    rows = _stored(created.project)
    assert len(rows) == 1
    _check_add_to_cart(rows, rows[0]["event_id"], "ga4")


def test_malformed_payloads_get_client_errors_and_bad_items_are_quarantined(
    shop: tuple[CreatedProject, str, int],
) -> None:
    created, url, _ = shop
    basic = {
        "Authorization": "Basic "
        + __import__("base64").b64encode(f"{created.write_key}:".encode()).decode()
    }
    cases = [
        httpx.post(f"{url}/v1/batch", content=b"{not json", headers=basic),
        httpx.post(f"{url}/batch/", json={"api_key": created.write_key, "batch": "nope"}),
        httpx.post(f"{url}/com.snowplowanalytics.snowplow/tp2", json={"schema": 3}),
        httpx.post(f"{url}/mp/collect", params={"api_secret": created.write_key}, content=b"[]"),
        httpx.post(
            f"{url}/v1/batch", json={"batch": []}, headers={"Authorization": "Basic Zm9vOg=="}
        ),
    ]
    for r in cases:
        assert r.status_code in (400, 401, 403), (r.request.url, r.status_code, r.text)
        assert r.json()["error"]["message"]
    bad_item = httpx.post(
        f"{url}/v1/batch",
        json={"batch": [{"type": "track", "messageId": "m1", "userId": "u"}]},  # no event name
        headers=basic,
    )
    assert bad_item.status_code == 200
    with pytest.raises(AssertionError):
        _wait_for(url, created.secret_key, 1, timeout=2)  # nothing reached events ...
    quarantined = httpx.get(
        f"{url}/api/quarantine", headers={"Authorization": f"Bearer {created.secret_key}"}
    ).json()
    assert len(quarantined) == 1 and quarantined[0]["reasons"]  # ... it is quarantined with reasons
