"""Preparation workers: the same answers and stored rows as preparing in the server, and
nothing acknowledged that is not spooled when a worker dies."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers import new_project, running_server
from tests.reliability.common import bearer, stored_ids, until, with_settings

import microfunnel.ingest.workers as workers_module
from microfunnel.config import Project
from microfunnel.errors import Unavailable
from microfunnel.events.formats import native
from microfunnel.events.formats.common import decompress
from microfunnel.events.model import utcnow
from microfunnel.events.plan import TrackingPlan
from microfunnel.events.privacy import PrivacySettings
from microfunnel.ingest.pipeline import Ingestor, RecentIds
from microfunnel.ingest.records import decode_batch, event_arrays
from microfunnel.ingest.workers import PrepareRequest, Workers, fill_request_context
from microfunnel.server.serve import ServerThread


def _events(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "event": "add_to_cart" if i % 3 else "view_item",
            "event_id": f"{prefix}{i}",
            "anonymous_id": f"anon-{i % 5}",
            "timestamp": f"2026-11-01T10:{i % 60:02d}:00Z",
            "properties": {"currency": "EUR", "value": 10.0 + i, "items": [{"item_id": "s1"}]},
            "context": {"page_url": f"https://shop.example/p?email=jane{i}@example.com"},
        }
        for i in range(n)
    ]


def _session(folder: Path, workers: int) -> tuple[Project, list[Any]]:
    """Requests of every kind against a server with ``workers`` workers; the answers."""
    created = new_project(folder)
    project = with_settings(folder, ingest_workers=workers)
    key = created.write_key
    answers: list[Any] = []
    with running_server(project) as url, httpx.Client(base_url=url, timeout=30) as client:
        batch = {"batch": [*_events(40, "e"), {"event": "Bad Name", "event_id": "bad"}]}
        answers.append(client.post("/v1/events", json=batch, headers=bearer(key)).json())
        answers.append(  # a retry, gzip this time: every event is a duplicate
            client.post(
                "/v1/events",
                content=gzip.compress(json.dumps(batch).encode()),
                headers={**bearer(key), "Content-Encoding": "gzip"},
            ).json()
        )
        # the browser snippet's form: the write key in the body, text/plain
        body = json.dumps({"batch": _events(5, "b"), "write_key": key})
        answers.append(
            client.post("/v1/events", content=body, headers={"Content-Type": "text/plain"}).json()
        )
        for bad in (b"{not json", json.dumps({"batch": _events(1, "x") * 20_000}).encode()):
            r = client.post("/v1/events", content=bad, headers=bearer(key))
            answers.append((r.status_code, r.json()))
        r = client.post("/v1/events", json={"batch": _events(1, "k"), "write_key": "nope"})
        answers.append((r.status_code, r.json()))
    return project, answers


def _rows(project: Project) -> list[dict[str, Any]]:
    with Project(project.path).open_store() as store:
        table = store.query(
            "SELECT * EXCLUDE (received_at, properties, context, person_key, event_code) "
            "FROM events ORDER BY event_id"
        )
        props = store.query("SELECT properties, context FROM events ORDER BY event_id")
    rows = table.to_pylist()
    for row, extra in zip(rows, props.to_pylist(), strict=True):
        row["properties"] = json.loads(extra["properties"])
        context = json.loads(extra["context"])
        row["context"] = {k: v for k, v in context.items() if k != "ip"}
    return rows


def test_workers_answer_and_store_what_the_server_alone_does(tmp_path: Path) -> None:
    alone, answers_alone = _session(tmp_path / "alone", workers=0)
    helped, answers_helped = _session(tmp_path / "helped", workers=1)
    assert answers_helped == answers_alone
    assert answers_helped[0] == {"accepted": 40, "quarantined": 1, "duplicates": 0}
    assert answers_helped[1]["duplicates"] == 41  # the quarantined item too
    assert answers_helped[3][0] == 400 and answers_helped[4][0] == 413
    assert answers_helped[5][0] == 403
    rows = _rows(helped)
    assert rows == _rows(alone)
    assert len(rows) == 45 and all(r["session_id"] for r in rows)
    assert not any("jane" in json.dumps(r, default=str) for r in rows)  # scrubbed in the worker


def _workers_of(pid: int) -> list[int]:
    """Worker processes started by any thread of ``pid``."""
    children = [
        int(c)
        for task in Path(f"/proc/{pid}/task").glob("*/children")
        for c in task.read_text().split()
    ]
    return [
        c
        for c in children
        if b"microfunnel.ingest.workers" in Path(f"/proc/{c}/cmdline").read_bytes()
    ]


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_killed_worker_is_replaced_and_no_acknowledged_event_is_lost(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    project = with_settings(tmp_path / "p", ingest_workers=1)
    acked: set[str] = set()
    statuses: list[int] = []
    with running_server(project) as url, httpx.Client(base_url=url, timeout=30) as client:
        for k in range(30):
            events = _events(20, f"r{k}-")
            r = client.post("/v1/events", json={"batch": events}, headers=bearer(created.write_key))
            statuses.append(r.status_code)
            if r.status_code == 200:
                acked.update(e["event_id"] for e in events)
            else:
                assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            if k == 10:
                workers = _workers_of(os.getpid())
                assert len(workers) == 1
                os.kill(workers[0], signal.SIGKILL)
                assert until(lambda pid=workers[0]: _gone(pid))
    assert statuses[-1] == 200 and statuses.count(200) >= 28
    counts = stored_ids(project)
    assert acked <= counts.keys() and set(counts.values()) == {1}


def test_drain_returns_once_the_store_has_every_accepted_event(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    server = ServerThread([created.project])
    url = server.start()
    try:
        batch = {"batch": _events(50, "d")}
        r = httpx.post(f"{url}/v1/events", json=batch, headers=bearer(created.write_key))
        assert r.json()["accepted"] == 50
        server.drain()  # the writer inserts at most every 200 ms: without this, likely 0
        runtime = server.server.config.app.state.hub.runtimes[0]  # type: ignore[union-attr]
        assert runtime.store.count_events() == 50
    finally:
        server.stop()


class _SilentWorker:
    """A worker that takes requests and never answers."""

    def __init__(self) -> None:
        self.pending: dict[int, Any] = {}
        self.reader_task = object()
        self.alive = True
        self.lock = asyncio.Lock()
        self.writer = self

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


def test_a_worker_that_does_not_answer_in_time_is_a_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers_module, "_REPLY_TIMEOUT", 0.05)
    pool = Workers(tmp_path, 1)
    silent = _SilentWorker()
    pool._workers[0] = silent  # type: ignore[assignment]

    async def ask() -> None:
        await pool.prepare(
            route=0,
            decoder="microfunnel.events.formats.native:decode",
            body=b"{}",
            encoding=None,
            content_type=None,
            query={},
            received=utcnow(),
            ip=None,
        )

    with pytest.raises(Unavailable, match="took too long"):
        asyncio.run(ask())
    assert silent.pending == {}


@pytest.mark.parametrize("ip", ["203.0.113.77", "2001:db8::1", "not-an-address", None])
@pytest.mark.parametrize("truncate", [True, False])
def test_a_worker_stores_the_request_ip_as_the_server_alone_does(
    tmp_path: Path, ip: str | None, truncate: bool
) -> None:
    events = [
        {"event": "view_item", "event_id": "a", "anonymous_id": "p"},
        {"event": "view_item", "event_id": "b", "context": {"ip": "198.51.100.9"}},
        {"event": "view_item", "event_id": "c", "context": {"consent": {"analytics": False}}},
    ]
    body = json.dumps({"batch": events}).encode()
    received = utcnow()

    def ingestor() -> Ingestor:
        return Ingestor(
            TrackingPlan.default(),
            PrivacySettings(truncate_ip=truncate),
            spool=None,
            recent=RecentIds(capacity=0),
        )

    alone = native.decode(body, content_type=None, query={}, received_at=received)
    fill_request_context(alone.events, ip, received)
    expected = event_arrays(ingestor().prepare(alone).batch)
    request = PrepareRequest(1, "x", body, None, None, {}, workers_module._micros(received), ip)
    reply = workers_module._prepare(
        request,
        native.decode,
        ingestor(),
        Project(new_project(tmp_path).project.path).settings,
        decompress,
    )
    assert reply.payload is not None
    assert event_arrays(decode_batch(reply.payload)) == expected
