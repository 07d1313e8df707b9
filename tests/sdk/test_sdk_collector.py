"""The Python SDK against the real collector over HTTP on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import new_project, running_server

from microfunnel.config import Project
from microfunnel.sdk import Client


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, str]:
    created = new_project(tmp_path / "shop")
    return created.project, created.write_key


def view_item(i: int) -> dict[str, object]:
    return {"currency": "EUR", "value": 30.0, "items": [{"item_id": f"SKU-{i}", "price": 30.0}]}


def test_events_reach_the_store_through_the_real_collector(project: tuple[Project, str]) -> None:
    proj, write_key = project
    with running_server(proj) as url:
        client = Client(write_key, url, flush_at=50, flush_interval=0.05)
        for i in range(120):
            client.track("view_item", view_item(i), anonymous_id=f"anon-{i % 10}")
        client.identify("user-1", {"plan": "pro"}, anonymous_id="anon-1")
        client.track("add_to_cart", {"value": 5}, anonymous_id="anon-1")  # no currency, no items
        assert client.flush(timeout=20)
        client.shutdown()
    assert (client.delivered, client.quarantined, client.dropped) == (122, 1, 0)
    with proj.open_store() as store:
        assert store.count_events("view_item") == 120
        assert store.count_events("$identify") == 1
        assert len(store.quarantine_rows()) == 1


def test_the_collector_refusing_a_key_is_counted_not_retried(project: tuple[Project, str]) -> None:
    proj, _ = project
    with running_server(proj) as url:
        client = Client("mfw_not_a_key", url, flush_interval=0.05)
        client.track("view_item", view_item(1), anonymous_id="anon-1")
        assert client.flush(timeout=20)
        client.shutdown()
    assert client.drop_reasons == {"rejected": 1}
    assert "unknown write key" in client.last_error


def test_events_without_consent_are_stored_without_identity(project: tuple[Project, str]) -> None:
    proj, write_key = project
    with running_server(proj) as url:
        client = Client(write_key, url, consent=False, flush_interval=0.05)
        client.track("view_item", view_item(1), anonymous_id="anon-1", user_id="user-1")
        client.shutdown()
    with proj.open_store() as store:
        rows = store.query("SELECT anonymous_id, user_id FROM events").to_pylist()
    assert rows == [{"anonymous_id": None, "user_id": None}]
