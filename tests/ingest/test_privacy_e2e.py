"""PII sent to the collector never reaches the store; ``forget`` leaves no trace anywhere."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.helpers import new_project, running_server

from microfunnel.config import Project
from microfunnel.ingest.runtime import Runtime
from microfunnel.store.base import Store

PII = ["jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "5500-0000-0000-0004"]


def _all_text(store: Store) -> str:
    parts = []
    for table in ("events", "quarantine"):
        cols = store.query(f"SELECT * FROM {table}").to_pylist()
        parts.extend(str(row) for row in cols)
    return "\n".join(parts)


def _pii_events() -> list[dict[str, object]]:
    return [
        {
            "event": "newsletter_signup",
            "event_id": "pii-1",
            "anonymous_id": "anon-pii",
            "properties": {"note": f"mail me at {PII[0]} or call {PII[1]}", "source": "footer"},
            "context": {
                "page_url": f"https://shop.example/signup?email={PII[0]}&utm_source=ig",
                "ip": "203.0.113.77",
            },
        },
        {
            "event": "add_payment_info",
            "event_id": "pii-2",
            "anonymous_id": "anon-pii",
            "properties": {
                "currency": "EUR",
                "value": 12.5,
                "payment_type": f"card {PII[2]}",
                "items": [{"item_id": "sku-1", "item_name": f"gift for {PII[3]}"}],
            },
        },
        {  # fails the plan: the quarantine copy must be scrubbed too
            "event": "Bad Name",
            "event_id": "pii-3",
            "properties": {"contact": PII[0]},
        },
    ]


def _send(project: Project, key: str, events: list[dict[str, object]]) -> None:
    with running_server(project) as url:
        r = httpx.post(
            f"{url}/v1/events", json={"batch": events}, headers={"Authorization": f"Bearer {key}"}
        )
        r.raise_for_status()


def test_pii_never_reaches_the_store(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    _send(created.project, created.write_key, _pii_events())
    with created.project.open_store() as store:
        assert store.count_events() == 2 and len(store.quarantine_rows()) == 1
        text = _all_text(store)
        ips = (
            store.query("SELECT context FROM events WHERE event_id = 'pii-1'").column(0)[0].as_py()
        )
    for value in PII:
        assert value not in text
    assert "utm_source=ig" in text  # the rest of the URL is kept
    assert "203.0.113.77" not in ips and "203.0.113.0" in ips


def test_the_check_would_see_pii_when_scrubbing_is_off(tmp_path: Path) -> None:
    """The same check fails when scrubbing is off, so the test above can fail."""
    created = new_project(tmp_path / "p")
    toml = tmp_path / "p" / "microfunnel.toml"
    toml.write_text(toml.read_text() + "scrub_pii = false\n")
    _send(Project(tmp_path / "p"), created.write_key, _pii_events())
    with Project(tmp_path / "p").open_store() as store:
        assert PII[0] in _all_text(store)


def test_forget_erases_events_quarantine_identities_and_spool(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    events = [
        {"event": "page_view", "event_id": "f1", "anonymous_id": "anon-f"},
        {
            "event": "$identify",
            "event_id": "f2",
            "anonymous_id": "anon-f",
            "user_id": "user-forget",
        },
        {"event": "page_view", "event_id": "f3", "user_id": "user-forget"},
        {"event": "Bad Event", "event_id": "f4", "user_id": "user-forget"},
        {"event": "page_view", "event_id": "keep", "anonymous_id": "someone-else"},
    ]
    _send(created.project, created.write_key, events)
    spool = created.project.spool_path
    assert any(b"user-forget" in p.read_bytes() for p in spool.glob("*.log"))
    with Runtime(created.project) as runtime:
        removed = runtime.forget("user-forget")
        assert removed == 3
        text = _all_text(runtime.store)
        identities = runtime.store.query("SELECT * FROM identities").num_rows
    assert "user-forget" not in text and "anon-f" not in text
    assert identities == 0
    assert not any(b"user-forget" in p.read_bytes() for p in spool.glob("*") if p.is_file())
    with created.project.open_store() as store:
        assert store.count_events() == 1
