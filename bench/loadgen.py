"""A small, cheap HTTP/1.1 load generator for loopback benchmarks (keep-alive, asyncio streams).

Each connection sends the same pre-built requests in a loop (with unique event ids per request,
patched into a template) for a fixed time, and records every latency. Bounded in time and count.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field


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


def _request(host: str, port: int, key: str, body: bytes) -> bytes:
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def make_batch(conn: int, seq: int, size: int, tag: str) -> bytes:
    events = [
        {
            "event": "view_item",
            "event_id": f"{tag}-{conn}-{seq}-{i}",
            "anonymous_id": f"anon-{conn}-{(seq * size + i) % 5000}",
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
    return json.dumps({"batch": events}).encode()


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
    host: str,
    port: int,
    key: str,
    conn: int,
    size: int,
    until: float,
    rate_per_conn: float | None,
    result: LoadResult,
    tag: str,
    max_requests: int,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    seq = 0
    next_at = time.perf_counter()
    try:
        while time.perf_counter() < until and seq < max_requests:
            if rate_per_conn:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += 1.0 / rate_per_conn
            payload = _request(host, port, key, make_batch(conn, seq, size, tag))
            t0 = time.perf_counter()
            writer.write(payload)
            await writer.drain()
            status, body = await _read_response(reader)
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
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
    host: str,
    port: int,
    key: str,
    *,
    connections: int,
    batch: int,
    seconds: float,
    rate: float | None = None,
    tag: str = "b",
    max_requests: int = 10_000_000,
) -> LoadResult:
    """Drive the collector; ``rate`` is total requests per second (None = as fast as possible)."""
    result = LoadResult()
    start = time.perf_counter()
    until = start + seconds
    per_conn = rate / connections if rate else None
    await asyncio.gather(
        *[
            _conn(host, port, key, c, batch, until, per_conn, result, tag, max_requests)
            for c in range(connections)
        ]
    )
    result.seconds = time.perf_counter() - start
    return result
