"""Collector throughput: events/s over loopback HTTP (batches of 100) against the in-process
ceiling (decode + privacy + validate + spool append, no HTTP), in the same run.

    .venv/bin/python bench/ingest.py [--seconds 20] [--connections 16]

The server runs in its own process (uvicorn, one worker); the load generator in this one.
At the end the server is stopped and the store is checked: accepted == stored, no 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import make_batch, run_load

from microfunnel.config import Project
from microfunnel.events.formats import native
from microfunnel.events.model import utcnow
from microfunnel.ingest.runtime import Runtime
from microfunnel.project import init_project


def in_process_ceiling(folder: Path, batches: int, size: int) -> float:
    created = init_project(folder / "ceiling")
    bodies = [make_batch(0, i, size, "ceil") for i in range(batches)]
    with Runtime(created.project) as runtime:
        t0 = time.perf_counter()
        for body in bodies:
            decoded = native.decode(
                body, content_type="application/json", query={}, received_at=utcnow()
            )
            runtime.ingestor.ingest(decoded)
        elapsed = time.perf_counter() - t0
        runtime.writer.drain()
        stored = runtime.store.count_events()
    assert stored == batches * size, (stored, batches * size)
    return batches * size / elapsed


def start_server(project: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "microfunnel", "serve", "-p", str(project), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--port", type=int, default=8677)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ceiling = in_process_ceiling(folder, 400, args.batch)
        created = init_project(folder / "http")
        proc = start_server(created.project.path, args.port)
        try:
            result = asyncio.run(
                run_load(
                    "127.0.0.1",
                    args.port,
                    created.write_key,
                    connections=args.connections,
                    batch=args.batch,
                    seconds=args.seconds,
                )
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
        with Project(created.project.path).open_store() as store:
            stored = store.count_events()
    five_xx = sum(n for s, n in result.statuses.items() if s >= 500)
    report = {
        "batch": args.batch,
        "connections": args.connections,
        "seconds": round(result.seconds, 1),
        "http_events_per_s": round(result.accepted / result.seconds),
        "in_process_ceiling_events_per_s": round(ceiling),
        "requests": result.requests,
        "p50_ms": round(statistics.median(result.latencies_ms), 2),
        "p99_ms": round(pct(result.latencies_ms, 0.99), 2),
        "statuses": result.statuses,
        "accepted": result.accepted,
        "stored": stored,
        "lost": result.accepted - stored,
        "five_xx": five_xx,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    if stored != result.accepted or five_xx:
        raise SystemExit("FAILED: accepted != stored or 5xx seen")


if __name__ == "__main__":
    main()
