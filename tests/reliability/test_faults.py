"""Faults under a running collector: a full disk, a failing or locked store.

The collector either keeps spooling (the store is down, the spool is fine) or answers 503 with
``Retry-After`` (the spool cannot write); it never acknowledges what it cannot keep, and heals by
itself once the fault clears.

A full disk is a real one where this process may mount a small tmpfs (root); everywhere the
spool's fault hook (``Spool.fault``) raises ENOSPC just before a group is written, the same
``OSError`` a full disk gives, and the store refuses inserts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from microfunnel.config import Project
from microfunnel.errors import StoreError
from microfunnel.ingest.runtime import Runtime
from microfunnel.ingest.spool import Spool
from microfunnel.server.serve import ServerThread
from tests.helpers import new_project
from tests.reliability.common import bearer, page_views, stored_ids, until


@contextlib.contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    server = ServerThread([runtime])  # type: ignore[list-item]  # create_app takes runtimes too
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path(f"/tmp/mf-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True
        )
        if ok.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    except OSError:
        return False
    finally:
        probe.rmdir()


DISKS = ["hook", "tmpfs"] if _can_mount() else ["hook"]


class FullDisk:
    """Fill and free a disk: a real tmpfs with a filler file, or the spool and store hooks."""

    def __init__(self, kind: str, folder: Path):
        self.kind = kind
        self.folder = folder
        self.runtime: Runtime | None = None
        self._insert: Any = None

    def fill(self) -> None:
        if self.kind == "tmpfs":
            with open(self.folder / "filler", "wb") as f, contextlib.suppress(OSError):
                for _ in range(10_000):  # 640 MB at most, far over the mount's size
                    f.write(b"\0" * 65536)
                    f.flush()
            return
        assert self.runtime is not None
        self.runtime.spool.fault = _enospc
        self._insert = self.runtime.store.insert_json

        def insert(*_: Any, **__: Any) -> Any:
            raise StoreError("insert into DuckDB failed: No space left on device")

        self.runtime.store.insert_json = insert  # type: ignore[method-assign]

    def free(self) -> None:
        if self.kind == "tmpfs":
            (self.folder / "filler").unlink()
            return
        assert self.runtime is not None
        self.runtime.spool.fault = None
        self.runtime.store.insert_json = self._insert  # type: ignore[method-assign]


def _enospc() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def disk_root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    kind: str = request.param
    if kind == "hook":
        yield kind, tmp_path
        return
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield kind, mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize("disk_root", DISKS, indirect=True)
def test_full_disk_answers_503_acknowledges_nothing_and_heals(disk_root: tuple[str, Path]) -> None:
    kind, root = disk_root
    created = new_project(root / "p")
    disk = FullDisk(kind, root)
    runtime = Runtime(created.project)
    disk.runtime = runtime
    acked: set[str] = set()
    refused: list[httpx.Response] = []
    with serving(runtime) as url, httpx.Client(base_url=url, timeout=30) as client:

        def send(batch: list[dict[str, Any]]) -> httpx.Response:
            r = client.post("/v1/events", json={"batch": batch}, headers=bearer(created.write_key))
            if r.status_code == 200:
                acked.update(e["event_id"] for e in batch)
            return r

        assert send(page_views(50, "before-")).status_code == 200
        disk.fill()
        for k in range(10):
            r = send(page_views(50, f"full{k}-"))
            if r.status_code != 200:
                refused.append(r)
        disk.free()
        # the first requests after the fault may still meet the store catching up: never a 5xx
        # other than a 503 with Retry-After, and the collector accepts again by itself
        after = [send(page_views(50, f"after{k}-")) for k in range(5)]
        healthy = until(lambda: client.get("/healthz").json()["status"] == "ok", seconds=20)
    assert refused, "a full disk was never noticed"
    for r in refused:
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "unavailable"
        assert "retry" in r.json()["error"]["message"]
    assert all(r.status_code in (200, 503) for r in after)
    assert after[-1].status_code == 200
    assert healthy
    counts = stored_ids(created.project)
    assert acked <= counts.keys() and max(counts.values()) == 1
    assert not any(k.startswith("full") and k not in acked for k in counts)


def test_a_failing_store_keeps_the_collector_spooling_and_catches_up(tmp_path: Path) -> None:
    """The store refuses writes (locked, broken): events are still acknowledged from the spool,
    /healthz says degraded, and the writer applies everything once the store is back."""
    created = new_project(tmp_path / "p")
    runtime = Runtime(created.project)
    real_insert = runtime.store.insert_json
    failures = 0

    def broken(*_: Any, **__: Any) -> Any:
        nonlocal failures
        failures += 1
        raise StoreError("insert into DuckDB failed: IO Error: database is locked")

    runtime.store.insert_json = broken  # type: ignore[method-assign]
    with serving(runtime) as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [
            client.post(
                "/v1/events",
                json={"batch": page_views(100, f"s{k}-")},
                headers=bearer(created.write_key),
            )
            for k in range(5)
        ]
        assert until(lambda: failures > 0)
        degraded = client.get("/healthz").json()
        runtime.store.insert_json = real_insert  # type: ignore[method-assign]
        healthy = until(lambda: client.get("/healthz").json()["status"] == "ok")
    assert [a.status_code for a in answers] == [200] * 5
    assert degraded["status"] == "degraded" and "locked" in degraded["projects"][0]["writer_error"]
    assert healthy
    counts = stored_ids(created.project)
    assert len(counts) == 500 and set(counts.values()) == {1}


def test_a_store_locked_by_another_process_stops_start_up_with_a_clear_error(
    tmp_path: Path,
) -> None:
    created = new_project(tmp_path / "p")
    Runtime(created.project).close()  # creates the store file
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(created.project.store_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(StoreError, match="cannot open the store"):
            Runtime(Project(created.project.path))
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    with Runtime(Project(created.project.path)) as runtime:  # the lock is gone: it opens
        assert runtime.store.count_events() == 0


def test_the_spool_thread_survives_an_unexpected_error(tmp_path: Path) -> None:
    """Any error while writing a group fails that group (503) and the next group is written."""
    spool = Spool(tmp_path / "spool", group_ms=0)
    calls = 0

    def boom() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the write path")
        _enospc() if calls == 2 else None

    spool.fault = boom
    try:
        with pytest.raises(Exception, match="a bug in the write path"):
            spool.append(b"one", timeout=5)
        with pytest.raises(Exception, match="No space left"):
            spool.append(b"two", timeout=5)
        end = spool.append(b"three", timeout=5)
    finally:
        spool.close()
    reopened = Spool(tmp_path / "spool", group_ms=0)
    try:
        records = list(reopened.read_from(reopened.checkpoint()))
    finally:
        reopened.close()
    assert [r.payload for r in records] == [b"three"] and records[-1].end == end
