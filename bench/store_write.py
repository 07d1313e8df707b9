"""The writer's store path alone: CPU per event of ``DuckDBStore.insert_json``.

Batches of spooled JSON arrays (100 view_item events each, the load generator's events) go into
a fresh store file the way the writer hands them over; the process's CPU time (DuckDB's threads
included, and the checkpoint on close) is divided by the events stored. ``--steps`` adds the CPU
of each SQL statement.

    .venv/bin/python bench/store_write.py                  # 40 batches of 15000 events
    .venv/bin/python bench/store_write.py --batch 6000 --batches 100 --steps
    .venv/bin/python bench/store_write.py --persons 2000000   # a store that has seen 2M people
    .venv/bin/python bench/store_write.py --merges 200        # then 200 logins, in one batch
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from microfunnel.events.model import Event, correct_skew
from microfunnel.store.duckdb import DuckDBStore

_encoder = msgspec.json.Encoder()


def arrays(batch: int, tag: str, received: datetime) -> list[bytes]:
    """``batch`` events as JSON arrays of 100, ids ``{tag}-{i}``."""
    events = [
        correct_skew(
            Event(
                event="view_item",
                event_id=f"{tag}-{i}",
                anonymous_id=f"anon-{i % 5000}",
                session_id=f"s-{i % 5000}",
                properties={
                    "currency": "EUR",
                    "value": 19.99,
                    "items": [{"item_id": f"sku-{i % 50}", "item_name": "Shirt", "price": 19.99}],
                },
                context={"page_path": "/p/shirt", "device": "mobile", "utm_source": "google"},
            ),
            received,
        )
        for i in range(batch)
    ]
    return [_encoder.encode(events[i : i + 100]) for i in range(0, batch, 100)]


class _Timed:
    """The store's connection, timing each statement."""

    def __init__(self, con: Any, times: collections.Counter[str]):
        self._con, self._times = con, times

    def execute(self, sql: str, *args: Any) -> Any:
        start = time.process_time()
        try:
            return self._con.execute(sql, *args)
        finally:
            self._times[" ".join(sql.split())[:60]] += time.process_time() - start

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        """A relation whose ``to_arrow_table`` (where the work happens) is timed."""
        relation = self._con.sql(query, *args, **kwargs)
        times, label = self._times, " ".join(query.split())[:60]

        class _Relation:
            def to_arrow_table(self) -> Any:
                start = time.process_time()
                try:
                    return relation.to_arrow_table()
                finally:
                    times[label] += time.process_time() - start

        return _Relation()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def merges(path: Path, count: int) -> tuple[float, int]:
    """CPU seconds of merging ``count`` anonymous ids of the last batch (``anon-{i}``, whose
    events are spread over the last batch) into users, as the writer does for one batch."""
    store = DuckDBStore(path)
    store.insert_json([])  # nothing: the in-memory maps are read on the first real use
    pairs = [(f"anon-{i}", f"user-{i}") for i in range(count)]
    start = time.process_time()
    moved = store.merge_identities(pairs)
    cpu = time.process_time() - start
    store.close()
    return cpu, moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=15_000, help="events per insert")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--steps", action="store_true", help="CPU of each statement too")
    parser.add_argument(
        "--persons", type=int, default=0, help="people the store has seen before (not timed)"
    )
    parser.add_argument(
        "--identities", type=int, default=0, help="anonymous ids merged before (not timed)"
    )
    parser.add_argument(
        "--merges", type=int, default=0, help="then merge this many anonymous ids of the last batch"
    )
    args = parser.parse_args()
    received = datetime.now(UTC) - timedelta(minutes=1)
    template = arrays(args.batch, "TAG", received)
    with tempfile.TemporaryDirectory() as folder:
        store = DuckDBStore(Path(folder) / "store.duckdb")
        if args.persons:
            store._con.execute(
                "INSERT INTO persons SELECT i, 'seen-' || md5(i::VARCHAR) FROM range(1, ?) t(i)",
                [args.persons + 1],
            )
        if args.identities:
            store._con.execute(
                "INSERT INTO identities SELECT 'merged-' || md5(i::VARCHAR), 'user-' || i, "
                "now()::TIMESTAMP FROM range(?) t(i)",
                [args.identities],
            )
        times: collections.Counter[str] = collections.Counter()
        if args.steps:
            store._con = _Timed(store._con, times)  # type: ignore[assignment]
        batches = [
            [a.replace(b'"TAG-', f'"b{k}-'.encode()) for a in template] for k in range(args.batches)
        ]
        stored = 0
        start = time.process_time()
        for batch in batches:
            stored += store.insert_json(batch).inserted
        store.close()  # its checkpoint compresses what the WAL still holds: part of the cost
        cpu = time.process_time() - start
        if args.merges:
            merge_cpu, moved = merges(Path(folder) / "store.duckdb", args.merges)
    print(
        f"{stored} events in batches of {args.batch}, {args.persons} persons and "
        f"{args.identities} identities before: "
        f"{cpu / stored * 1e6:.2f} µs CPU per event"
    )
    if args.merges:
        print(
            f"{args.merges} identity merges in one batch: {merge_cpu * 1e3:.1f} ms CPU, "
            f"{moved} events re-pointed"
        )
    for sql, seconds in times.most_common(12):
        print(f"  {seconds / stored * 1e6:6.2f}  {sql}")


if __name__ == "__main__":
    main()
