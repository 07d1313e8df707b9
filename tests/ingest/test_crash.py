"""SIGKILL the server in the middle of ingestion: every acknowledged event is stored exactly once.

A short version runs here; ``bench/soak.py`` runs the long one.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from tests.helpers import new_project

from microfunnel.config import Project


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(project: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "microfunnel", "serve", "-p", str(project), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read() if proc.stderr else ''!r}")


def _sender(url: str, key: str, start: int, acked: list[str], stop: threading.Event) -> None:
    """Send batches of 50 until the server dies; remember what was acknowledged."""
    n = start
    with httpx.Client(timeout=30) as client:
        while not stop.is_set() and n < start + 200_000:
            batch = [
                {
                    "event": "page_view",
                    "event_id": f"ev-{n + i}",
                    "anonymous_id": f"a{(n + i) % 97}",
                }
                for i in range(50)
            ]
            try:
                r = client.post(
                    f"{url}/v1/events",
                    json={"batch": batch},
                    headers={"Authorization": f"Bearer {key}"},
                )
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                acked.extend(e["event_id"] for e in batch)
            n += 50


def test_sigkill_during_ingestion_loses_nothing_acknowledged(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    rng = random.Random(3)
    acked: list[str] = []
    next_id = 0
    for _round in range(3):
        port = _free_port()
        proc = _start(created.project.path, port)
        stop = threading.Event()
        round_acked: list[str] = []
        threads = [
            threading.Thread(
                target=_sender,
                args=(
                    f"http://127.0.0.1:{port}",
                    created.write_key,
                    next_id + k * 100_000,
                    round_acked,
                    stop,
                ),
            )
            for k in range(2)
        ]
        for t in threads:
            t.start()
        # Kill in the middle of ingestion: once the first batches are acknowledged (a loaded
        # machine may take a while to start the preparation worker), then after a random delay.
        deadline = time.monotonic() + 60
        while not round_acked and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 1.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
        acked.extend(round_acked)
        next_id += 1_000_000
        assert round_acked, "the sender got no acknowledgement before the kill"
    # a clean start replays the spool; then the store has every acknowledged event, once
    port = _free_port()
    proc = _start(created.project.path, port)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    project = Project(created.project.path)
    with project.open_store() as store:
        stored = store.query(
            "SELECT event_id, count(*) AS n FROM events GROUP BY event_id"
        ).to_pydict()
    counts = dict(zip(stored["event_id"], stored["n"], strict=True))
    missing = [e for e in acked if e not in counts]
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:3]}"
    assert max(counts.values()) == 1
