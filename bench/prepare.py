"""The collector's Python hot path per event, one thread: decode, then ``Ingestor.prepare``.

    .venv/bin/python bench/prepare.py [--batch 100] [--batches 40] [--repeats 5]

Two events: the ingest bench's ``view_item`` (one item, a small context) and a fuller
``add_to_cart`` (an item with 6 fields, a page URL with a query string and UTM tags, referrer,
user agent, IP, consent, library). Their properties repeat (50 products), as a shop's do, so
the ingestor knows them good after the warm-up; ``add_to_cart*`` gives every event properties
never seen before (a new ``value``), the cost when nothing repeats. Decode is
``native.decode`` of a batch body; prepare is
privacy, bot flag, tracking plan, sessions and the spool encoding, on the ingestor a running
collector uses (``Runtime`` on a new project: default plan and settings; nothing is appended
to the spool). CPU time of this thread (``time.thread_time``), best of ``--repeats``, in µs per
event; each repeat prepares freshly decoded batches, because prepare changes the events it is
given.

``--floors`` adds what the column-wise alternative would start from, in the same process: the
fixed and per-event costs of the engines that could check a batch column by column instead of
walking each event (pyarrow's JSON reader, one pyarrow.compute regex over one column, a DuckDB
query), on the same ``view_item`` events, per request (100) and for 16 requests taken together.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import SEQ, make_batch

from microfunnel.events.formats import native
from microfunnel.events.formats.common import DecodedBatch
from microfunnel.events.model import utcnow
from microfunnel.events.privacy import _MAYBE_PII
from microfunnel.ingest.pipeline import Ingestor
from microfunnel.ingest.runtime import Runtime
from microfunnel.project import init_project

_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def add_to_cart_batch(seq: int, size: int, *, new_values: bool = False) -> bytes:
    """A body of ``size`` full add_to_cart events, as a shop's tag would send them; with
    ``new_values``, no two bodies share a ``value``."""
    events = [
        {
            "event": "add_to_cart",
            "event_id": f"cart-{seq:09d}-{i}",
            "anonymous_id": f"anon-cart-{i % 5000}",
            "timestamp": "2026-11-01T10:00:00Z",
            "properties": {
                "currency": "EUR",
                "value": 39.98 + (seq * size + i if new_values else 0),
                "items": [
                    {
                        "item_id": f"sku-{i % 50}",
                        "item_name": "Linen shirt",
                        "item_brand": "Acme",
                        "item_category": "Shirts",
                        "price": 19.99,
                        "quantity": 2,
                    }
                ],
            },
            "context": {
                "page_url": f"https://shop.example.com/p/sku-{i % 50}?color=blue"
                "&utm_source=google&utm_medium=cpc&utm_campaign=spring",
                "referrer": "https://www.google.com/",
                "user_agent": _USER_AGENT,
                "ip": f"203.0.113.{i % 250}",
                "consent": {"analytics": True},
                "library": {"name": "microfunnel-js", "version": "1.4.0"},
            },
        }
        for i in range(size)
    ]
    return json.dumps({"batch": events}).encode()


def new_add_to_cart_batch(seq: int, size: int) -> bytes:
    return add_to_cart_batch(seq, size, new_values=True)


def view_item_batch(seq: int, size: int) -> bytes:
    return make_batch(0, seq, size, "prep").replace(SEQ, b"%09d" % seq)


def decode(body: bytes) -> DecodedBatch:
    return native.decode(body, content_type="application/json", query={}, received_at=utcnow())


def best(repeats: int, run: Callable[[], float]) -> float:
    """The least CPU time of ``repeats`` runs, each with the garbage collector paused (as
    ``timeit`` does): its passes depend on what else the process holds, not on this code."""
    times = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            times.append(run())
        finally:
            gc.enable()
    return min(times)


def measure(
    ingestor: Ingestor, make: Callable[[int, int], bytes], args: argparse.Namespace, fresh: bool
) -> tuple[float, float]:
    """(decode, prepare) µs per event, each the best of ``args.repeats``; with ``fresh``, each
    run prepares bodies built for it (``make``'s sequence numbers never repeat)."""
    runs = iter(range(1, 10**6))

    def bodies(run: int = 0) -> list[bytes]:
        first = run * args.batches if fresh else 0
        return [make(first + seq, args.batch) for seq in range(args.batches)]

    decoding = bodies()
    events = sum(len(decode(body)) for body in decoding)

    def decode_all() -> float:
        start = time.thread_time()
        for body in decoding:
            decode(body)
        return time.thread_time() - start

    def prepare_all() -> float:
        batches = [decode(body) for body in bodies(next(runs))]
        gc.collect()
        start = time.thread_time()
        for batch in batches:
            ingestor.prepare(batch)
        return time.thread_time() - start

    prepare_all()  # warm the caches a running collector has warm
    return best(args.repeats, decode_all) / events * 1e6, best(
        args.repeats, prepare_all
    ) / events * 1e6


def floors(batch: int, repeats: int) -> dict[str, float]:
    """µs per event of the column-wise building blocks on ``batch`` view_item events."""
    items = msgspec.json.decode(view_item_batch(1, batch))["batch"]
    ndjson = b"\n".join(msgspec.json.encode(item) for item in items)
    body = msgspec.json.encode({"batch": items})
    paths = pa.array([item["context"]["page_path"] for item in items])
    options = pa_json.ReadOptions(use_threads=False, block_size=max(len(ndjson), 1 << 20))
    con = duckdb.connect()
    con.execute("SET threads = 1")
    rows = "SELECT count(*) FROM (SELECT unnest(from_json(?::JSON -> 'batch', ?)))"
    shape = '[{"event": "VARCHAR", "event_id": "VARCHAR", "properties": "JSON", "context": "JSON"}]'
    steps: dict[str, Callable[[], object]] = {
        "pyarrow.json.read_json (parse only)": lambda: pa_json.read_json(
            io.BytesIO(ndjson), read_options=options
        ),
        "pyarrow.compute regex, one column": lambda: pc.match_substring_regex(
            paths, _MAYBE_PII.pattern
        ),
        "DuckDB round trip (SELECT 1)": lambda: con.execute("SELECT 1").fetchall(),
        "DuckDB from_json of the body": lambda: con.execute(rows, [body, shape]).fetchall(),
    }
    runs = max(1, 40_000 // batch)

    def timed(step: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            start = time.thread_time()
            for _ in range(runs):
                step()
            return time.thread_time() - start

        return run

    return {name: best(repeats, timed(step)) / (runs * batch) * 1e6 for name, step in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=100, help="events per request body")
    parser.add_argument("--batches", type=int, default=40, help="bodies per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="take the best of this many")
    parser.add_argument("--floors", action="store_true", help="add the column-wise building blocks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Runtime(init_project(tmp).project) as runtime:
        print(f"µs per event, one thread, best of {args.repeats}, batches of {args.batch}")
        print(f"{'event':<12} {'decode':>8} {'prepare':>8} {'total':>8}")
        for name, make, fresh in (
            ("view_item", view_item_batch, False),
            ("add_to_cart", add_to_cart_batch, False),
            ("add_to_cart*", new_add_to_cart_batch, True),
        ):
            decoded, prepared = measure(runtime.ingestor, make, args, fresh)
            print(f"{name:<12} {decoded:>8.2f} {prepared:>8.2f} {decoded + prepared:>8.2f}")
    if args.floors:
        grouped = 16 * args.batch
        print(f"\ncolumn-wise building blocks on view_item, µs per event, best of {args.repeats}")
        print(f"{'step':<38} {args.batch:>8} {grouped:>8}")
        alone, together = floors(args.batch, args.repeats), floors(grouped, args.repeats)
        for name, cost in alone.items():
            print(f"{name:<38} {cost:>8.2f} {together[name]:>8.2f}")


if __name__ == "__main__":
    main()
