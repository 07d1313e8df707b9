"""A small, cheap HTTP/1.1 load generator for loopback benchmarks (keep-alive, asyncio streams).

Each connection sends one pre-built request in a loop, with a fresh request number patched into
its event ids (same length, so the request stays valid), for a fixed time, and records every
latency. With a rate, requests are sent on a schedule and latency runs from the scheduled time,
so a server that falls behind shows it (no coordinated omission). Bounded in time and count,
and it only ever connects to 127.0.0.1.

``run_in_processes`` spreads the connections over generator processes, so the generator is not
held up by one Python thread; ``Server`` runs ``microfunnel serve`` in its own process.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
SEQ = b"#########"  # where the request number goes in every event id
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class LoadResult:
    requests: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the generator's own CPU time
    scheduled: int = 0  # with a rate: requests due in the run (sent or not)

    def merge(self, other: LoadResult) -> None:
        self.requests += other.requests
        self.events += other.events
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.latencies_ms.extend(other.latencies_ms)
        self.seconds = max(self.seconds, other.seconds)
        self.scheduled += other.scheduled
        self.cpu_seconds += other.cpu_seconds

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def make_batch(conn: int, seq: int | bytes, size: int, tag: str) -> bytes:
    """A body of ``size`` view_item events with ids ``{tag}-{conn}-{seq}-{i}``."""
    number = seq if isinstance(seq, bytes) else f"{seq:09d}".encode()
    events = [
        {
            "event": "view_item",
            "event_id": f"{tag}-{conn}-{SEQ.decode()}-{i}",
            "anonymous_id": f"anon-{tag}-{conn}-{i % 5000}",
            "timestamp": "2026-11-01T10:00:00Z",
            "properties": {
                "currency": "EUR",
                "value": 19.99,
                "items": [{"item_id": f"sku-{i % 50}", "item_name": "Linen shirt", "price": 19.99}],
            },
            "context": {"page_path": "/p/linen-shirt", "device": "mobile", "utm_source": "google"},
        }
        for i in range(size)
    ]
    return json.dumps({"batch": events}).encode().replace(SEQ, number)


def _template(port: int, key: str, conn: int, size: int, tag: str) -> bytes:
    body = make_batch(conn, SEQ, size, tag)
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _conn(
    port: int,
    key: str,
    conn: int,
    phase: float,
    size: int,
    until: float,
    interval: float | None,
    result: LoadResult,
    tag: str,
    max_requests: int,
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    template = _template(port, key, conn, size, tag)
    seq = 0
    # Spread the connections' schedules over one interval, so requests do not come in waves.
    next_at = time.perf_counter() + (interval or 0) * phase
    try:
        while seq < max_requests:
            now = time.perf_counter()
            if interval is not None:
                if next_at >= until:
                    break
                if now >= until:  # behind schedule at the end: the rest is due but not sent
                    result.scheduled += int((until - next_at) / interval) + 1
                    break
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                result.scheduled += 1
                start, next_at = next_at, next_at + interval
            elif now >= until:
                break
            else:
                start = now
            writer.write(template.replace(SEQ, f"{seq:09d}".encode()))
            await writer.drain()
            status, body = await _read_response(reader)
            result.latencies_ms.append((time.perf_counter() - start) * 1000)
            result.requests += 1
            result.events += size
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 200:
                answer = json.loads(body)
                result.accepted += answer["accepted"]
                result.duplicates += answer["duplicates"]
                result.quarantined += answer["quarantined"]
            seq += 1
    finally:
        writer.close()


async def run_load(
    port: int,
    key: str,
    *,
    connections: int,
    batch: int,
    seconds: float,
    rate: float | None = None,
    tag: str = "b",
    first_conn: int = 0,
    max_requests: int = 10_000_000,
) -> LoadResult:
    """Drive the collector; ``rate`` is total requests per second (None = as fast as possible)."""
    result = LoadResult()
    cpu0 = time.process_time()
    start = time.perf_counter()
    until = start + seconds
    interval = connections / rate if rate else None
    await asyncio.gather(
        *[
            _conn(
                port,
                key,
                first_conn + c,
                c / connections,
                batch,
                until,
                interval,
                result,
                tag,
                max_requests,
            )
            for c in range(connections)
        ]
    )
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu0
    return result


def _run(main: Coroutine[Any, Any, LoadResult]) -> LoadResult:
    """Run a generator process's connections on uvloop (uvicorn's own loop, installed with it)
    when it is there: on two cores the generator's CPU is taken from the server under test, and
    uvloop needs about half of asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(main)
    return uvloop.run(main)


def _process_main(args: tuple[int, str, int, int, float, float | None, str, int]) -> LoadResult:
    port, key, connections, batch, seconds, rate, tag, first_conn = args
    return _run(
        run_load(
            port,
            key,
            connections=connections,
            batch=batch,
            seconds=seconds,
            rate=rate,
            tag=tag,
            first_conn=first_conn,
        )
    )


def run_in_processes(
    port: int,
    key: str,
    *,
    processes: int,
    connections: int,
    batch: int,
    seconds: float,
    rate: float | None = None,
    tag: str = "b",
) -> LoadResult:
    """``run_load`` split over ``processes`` generator processes; their results merged."""
    per = max(1, connections // processes)
    jobs = [
        (port, key, per, batch, seconds, rate / processes if rate else None, tag, p * per)
        for p in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_process_main, jobs)
    merged = LoadResult()
    for part in parts:
        merged.merge(part)
    return merged


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants that are alive, from /proc."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return out


class Server:
    """``microfunnel serve`` for one project on 127.0.0.1, in its own process."""

    def __init__(self, project: Path, port: int):
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "microfunnel", "serve", "-p", str(project), "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(600):
            try:
                if httpx.get(f"http://{HOST}:{port}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        raise SystemExit("server did not start")

    def cpu_seconds(self) -> float:
        """The server's CPU time with its preparation workers' (its child processes)."""
        return sum(cpu_seconds(pid) for pid in _tree(self.proc.pid))

    def stop(self) -> None:
        """SIGTERM: uvicorn stops, the spool is closed and the writer drains into the store."""
        self.proc.terminate()
        self.proc.wait(120)
