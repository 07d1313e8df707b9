"""Collector throughput: events/s over loopback HTTP (batches of 100) against the in-process
ceiling (decode + privacy + validate + durable spool append, no HTTP), in the same run and with
the same concurrency, so both profit from group commit alike.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 16] [--batch 100] [--workers -1]

In-process: ``--connections`` threads each decode and ingest pre-built bodies back to back
(each ingest returns once its group is fsync'd). HTTP: ``microfunnel serve`` in its own
process (uvicorn, with ``--workers`` preparation worker processes; -1 is the server's default,
one on two cores), driven by generator processes. Both report events/s, per-batch latency
p50/p99 and CPU time per event (the ingesting process's user + system time, which a busy
machine disturbs much less than wall time). At the end each store is checked:
accepted == stored, no 5xx.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import SEQ, Server, cpu_seconds, make_batch, pct, run_in_processes

from microfunnel.config import Project
from microfunnel.events.formats import native
from microfunnel.events.model import utcnow
from microfunnel.ingest.runtime import Runtime
from microfunnel.project import init_project


def in_process(folder: Path, *, threads: int, batch: int, seconds: float) -> dict[str, object]:
    """``threads`` threads ingesting for ``seconds``, as the collector would, minus HTTP."""
    created = init_project(folder / "in-process")
    per_thread = 100_000  # batches per thread at most: bounded even on a fast machine
    latencies: list[float] = []
    counts = [0] * threads
    with Runtime(created.project) as runtime:
        ingest = runtime.ingestor.ingest

        def work(index: int, until: float) -> None:
            mine: list[float] = []
            template = make_batch(index, SEQ, batch, "ceil")
            for seq in range(per_thread):
                body = template.replace(SEQ, b"%09d" % seq)
                start = time.perf_counter()
                if start >= until:
                    break
                decoded = native.decode(
                    body, content_type="application/json", query={}, received_at=utcnow()
                )
                counts[index] += ingest(decoded).accepted
                mine.append((time.perf_counter() - start) * 1000)
            latencies.extend(mine)

        cpu0, t0 = cpu_seconds(os.getpid()), time.perf_counter()
        until = t0 + seconds
        workers = [threading.Thread(target=work, args=(t, until)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
        runtime.writer.drain(timeout=300)
        cpu = cpu_seconds(os.getpid()) - cpu0
        stored = runtime.store.count_events()
    accepted = sum(counts)
    return {
        "events_per_s": round(accepted / elapsed),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
        "cpu_us_per_event": round(cpu / accepted * 1e6, 1),
        "accepted": accepted,
        "stored": stored,
    }


def over_http(
    folder: Path,
    *,
    connections: int,
    batch: int,
    seconds: float,
    port: int,
    processes: int,
    workers: int,
) -> dict[str, object]:
    created = init_project(folder / "http")
    with open(created.project.path / "microfunnel.toml", "a") as settings:
        settings.write(f"\ningest_workers = {workers}\n")
    server = Server(created.project.path, port)
    try:
        cpu0 = server.cpu_seconds()
        result = run_in_processes(
            port,
            created.write_key,
            processes=processes,
            connections=connections,
            batch=batch,
            seconds=seconds,
        )
        cpu = server.cpu_seconds() - cpu0
    finally:
        server.stop()
    with Project(created.project.path).open_store() as store:
        stored = store.count_events()
    return {
        "events_per_s": round(result.accepted / result.seconds),
        "p50_ms": round(statistics.median(result.latencies_ms), 2),
        "p99_ms": round(pct(result.latencies_ms, 0.99), 2),
        # the writer may still be storing when the load stops: its CPU is counted up to then
        "server_cpu_us_per_event": round(cpu / max(result.accepted, 1) * 1e6, 1),
        "generator_cpu_us_per_event": round(result.cpu_seconds / max(result.accepted, 1) * 1e6, 1),
        "requests": result.requests,
        "statuses": result.statuses,
        "five_xx": result.five_xx,
        "accepted": result.accepted,
        "stored": stored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=16, help="and in-process threads")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--port", type=int, default=8677)
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--workers", type=int, default=-1, help="the server's ingest_workers (-1: its default)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ceiling = in_process(
            folder, threads=args.connections, batch=args.batch, seconds=args.seconds
        )
        http = over_http(
            folder,
            connections=args.connections,
            batch=args.batch,
            seconds=args.seconds,
            port=args.port,
            processes=args.generators,
            workers=args.workers,
        )
    report = {
        "batch": args.batch,
        "connections": args.connections,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "ingest_workers": args.workers,
        "in_process": ceiling,
        "http": http,
    }
    print(json.dumps(report, indent=2))
    lost = [
        name for name, part in (("in_process", ceiling), ("http", http))
        if part["accepted"] != part["stored"]
    ]  # fmt: skip
    if lost or http["five_xx"]:
        raise SystemExit(f"FAILED: accepted != stored in {lost} or 5xx seen")


if __name__ == "__main__":
    main()
