"""The collector over real HTTP on 127.0.0.1: keys, limits, errors, dedupe, restart."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import httpx
import pytest
from tests.helpers import new_project, running_server

from microfunnel.config import Project


def _events(n: int, prefix: str = "e") -> list[dict[str, object]]:
    return [
        {
            "event": "view_item",
            "event_id": f"{prefix}{i}",
            "anonymous_id": f"anon-{i % 7}",
            "timestamp": "2026-11-01T10:00:00Z",
            "properties": {"currency": "EUR", "value": 10.0, "items": [{"item_id": f"sku-{i}"}]},
            "context": {"page_url": "https://shop.example/p?utm_source=mail", "device": "mobile"},
        }
        for i in range(n)
    ]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, str, str]:
    created = new_project(tmp_path / "p")
    return created.project, created.write_key, created.secret_key


def test_events_arrive_once_and_survive_restart(project: tuple[Project, str, str]) -> None:
    proj, write, _ = project
    auth = {"Authorization": f"Bearer {write}"}
    with running_server(proj) as url:
        r1 = httpx.post(f"{url}/v1/events", json={"batch": _events(120)}, headers=auth)
        r2 = httpx.post(  # a client retry of the same batch, gzip this time
            f"{url}/v1/events",
            content=gzip.compress(json.dumps({"batch": _events(120)}).encode()),
            headers={**auth, "Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        r3 = httpx.post(
            f"{url}/v1/events",
            content=zlib.compress(json.dumps(_events(1, "single")[0]).encode()),
            headers={**auth, "Content-Encoding": "deflate"},
        )
    assert r1.status_code == 200 and r1.json() == {
        "accepted": 120,
        "quarantined": 0,
        "duplicates": 0,
    }
    assert r2.json()["duplicates"] == 120 and r2.json()["accepted"] == 0
    assert r3.json()["accepted"] == 1
    # the server is stopped: everything is in the store file, exactly once
    with proj.open_store() as store:
        assert store.count_events() == 121
        assert store.scalar("SELECT count(DISTINCT event_id) FROM events") == 121
    with running_server(proj) as url:  # restart, same retry again: still once
        r4 = httpx.post(f"{url}/v1/events", json={"batch": _events(120)}, headers=auth)
    assert r4.status_code == 200
    with proj.open_store() as store:
        assert store.count_events() == 121


def test_keys_and_errors_are_json_with_reasons(project: tuple[Project, str, str]) -> None:
    proj, write, secret = project
    with running_server(proj) as url:
        no_key = httpx.post(f"{url}/v1/events", json=_events(1)[0])
        wrong = httpx.post(
            f"{url}/v1/events", json=_events(1)[0], headers={"Authorization": "Bearer nope"}
        )
        secret_in = httpx.post(
            f"{url}/v1/events", json=_events(1)[0], headers={"Authorization": f"Bearer {secret}"}
        )
        broken = httpx.post(
            f"{url}/v1/events",
            content=b'{"batch": [1,',
            headers={"Authorization": f"Bearer {write}"},
        )
        big = httpx.post(
            f"{url}/v1/events",
            content=b"x" * (proj.settings.max_body_bytes + 10),
            headers={"Authorization": f"Bearer {write}"},
        )
        bomb = httpx.post(
            f"{url}/v1/events",
            content=gzip.compress(b" " * (proj.settings.max_body_bytes * 2)),
            headers={"Authorization": f"Bearer {write}", "Content-Encoding": "gzip"},
        )
        health = httpx.get(f"{url}/healthz")
    assert no_key.status_code == 401 and "write key" in no_key.json()["error"]["message"]
    assert wrong.status_code == 403
    assert secret_in.status_code == 403 and "write key" in secret_in.json()["error"]["message"]
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "decode"
    assert big.status_code == 413 and "limit" in big.json()["error"]["message"]
    assert bomb.status_code == 413
    assert health.json()["status"] == "ok"


def test_batch_limit_is_a_clear_413(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    (tmp_path / "p" / "microfunnel.toml").write_text(
        (tmp_path / "p" / "microfunnel.toml").read_text() + "max_batch_events = 10\n"
    )
    proj = Project(tmp_path / "p")
    with running_server(proj) as url:
        r = httpx.post(
            f"{url}/v1/events",
            json={"batch": _events(11)},
            headers={"Authorization": f"Bearer {created.write_key}"},
        )
    assert r.status_code == 413 and "split" in r.json()["error"]["message"]


def test_two_projects_share_a_server_and_keys_stay_apart(tmp_path: Path) -> None:
    a, b = new_project(tmp_path / "a"), new_project(tmp_path / "b")
    with running_server(a.project, b.project) as url:
        httpx.post(
            f"{url}/v1/events",
            json={"batch": _events(3)},
            headers={"Authorization": f"Bearer {a.write_key}"},
        ).raise_for_status()
        httpx.post(
            f"{url}/v1/events",
            json={"batch": _events(5, "b")},
            headers={"Authorization": f"Bearer {b.write_key}"},
        ).raise_for_status()
    with a.project.open_store() as sa, b.project.open_store() as sb:
        assert (sa.count_events(), sb.count_events()) == (3, 5)


def test_bad_events_are_quarantined_with_reasons_and_replayed_after_a_plan_fix(
    project: tuple[Project, str, str],
) -> None:
    proj, write, _ = project
    bad = {"event": "gift_wrap_click", "event_id": "gw1", "properties": {"color": "red"}}
    with running_server(proj) as url:
        r = httpx.post(f"{url}/v1/events", json=bad, headers={"Authorization": f"Bearer {write}"})
    assert r.json() == {"accepted": 0, "quarantined": 1, "duplicates": 0}
    with proj.open_store() as store:
        rows = store.quarantine_rows()
    assert rows[0]["event"] == "gift_wrap_click"
    assert any("gift_wrap_click" in reason for reason in rows[0]["reasons"])
    assert rows[0]["raw"]["properties"] == {"color": "red"}
    # the plan is fixed: the event becomes known
    plan = proj.plan_path.read_text()
    proj.plan_path.write_text(
        plan.replace(
            "events:\n", "events:\n  gift_wrap_click:\n    description: Gift wrap chosen\n", 1
        )
    )
    from microfunnel.ingest.runtime import Runtime

    with Runtime(proj) as runtime:
        first = runtime.replay_quarantine()
        second = runtime.replay_quarantine()
    assert (first.replayed, second.replayed) == (1, 0)
    with proj.open_store() as store:
        assert store.count_events("gift_wrap_click") == 1


def test_the_browser_snippet_is_served(project: tuple[Project, str, str]) -> None:
    proj, _, _ = project
    with running_server(proj) as url:
        r = httpx.get(f"{url}/microfunnel.js", headers={"Origin": "https://shop.example"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert "sendBeacon" in r.text


def test_a_clickhouse_project_collects_the_same_way(tmp_path: Path) -> None:
    created = new_project(tmp_path / "ch", engine="clickhouse")
    auth = {"Authorization": f"Bearer {created.write_key}"}
    with running_server(created.project) as url:
        first = httpx.post(f"{url}/v1/events", json={"batch": _events(30)}, headers=auth)
        retry = httpx.post(f"{url}/v1/events", json={"batch": _events(30)}, headers=auth)
    assert first.json()["accepted"] == 30 and retry.json()["duplicates"] == 30
    with created.project.open_store() as store:
        assert store.engine == "clickhouse"
        assert store.count_events() == 30
