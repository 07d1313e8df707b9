"""Ingest dedupe as the store grows: the in-memory id filter against the table anti-join.

    .venv/bin/python bench/dedupe.py [--sizes 0,1000000,5000000] [--batch 10000] [--repeat 5]

One DuckDB file is filled with ``bulk_load`` up to each size in turn (distinct event ids, all
received inside the dedupe window). At each size, fresh batches of ``--batch`` events are
inserted both ways, interleaved: through the store's id filter (what the writer does) and
through the whole-table ``NOT EXISTS`` check (what every insert did before the filter; with
every stored event inside the window the two checks cover the same rows). Reported: CPU
microseconds per inserted event (process time, all threads), median of ``--repeat``; every
insert must store the whole batch (no false duplicates) and a re-sent batch must store none.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from microfunnel.events.model import Event, correct_skew
from microfunnel.store.base import events_to_arrow
from microfunnel.store.duckdb import DuckDBStore

NOW = datetime.now(UTC).replace(microsecond=0)


def template(size: int) -> pa.Table:
    """``size`` view_item rows in the events layout (ids replaced per batch)."""
    events = [
        correct_skew(
            Event(
                event="view_item",
                event_id=str(i),
                anonymous_id=f"anon-{i % 5000}",
                properties={"currency": "EUR", "value": 19.99, "items": [{"item_id": "sku-1"}]},
                context={"page_path": "/p/linen-shirt", "device": "mobile"},
            ),
            NOW - timedelta(minutes=1),
        )
        for i in range(size)
    ]
    return events_to_arrow(events)


def with_ids(base: pa.Table, tag: str) -> pa.Table:
    ids = pa.array([f"{tag}-{i}" for i in range(base.num_rows)])
    return base.set_column(base.schema.get_field_index("event_id"), "event_id", ids)


def timed(store: DuckDBStore, batch: pa.Table, window: timedelta | None) -> float:
    start = time.process_time()
    result = store._insert(batch, window)
    spent = time.process_time() - start
    if result.inserted != batch.num_rows:
        raise SystemExit(f"FAILED: {result.duplicates} fresh events taken for duplicates")
    return spent / batch.num_rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="0,1000000,5000000")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = template(args.batch)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "dedupe.duckdb")
        loaded, serial = 0, 0
        for size in (int(s) for s in args.sizes.split(",")):
            while loaded < size:
                store.bulk_load(with_ids(base, f"bulk{loaded}"))
                loaded += args.batch
            filtered, joined = [], []
            for _ in range(args.repeat):
                serial += 1
                filtered.append(timed(store, with_ids(base, f"f{serial}"), store.dedupe_window))
                joined.append(timed(store, with_ids(base, f"j{serial}"), None))
            again = store._insert(with_ids(base, f"f{serial}"), store.dedupe_window)
            if again.inserted:
                raise SystemExit(f"FAILED: {again.inserted} re-sent events stored twice")
            row = {
                "stored_events": store.count_events(),
                "filter_us_per_event": round(statistics.median(filtered), 2),
                "table_check_us_per_event": round(statistics.median(joined), 2),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        store.close()
    print(json.dumps({"batch": args.batch, "repeat": args.repeat, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
