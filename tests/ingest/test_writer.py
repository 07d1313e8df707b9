"""The writer's batches: ``batch_events`` counts events, not spool records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from microfunnel.events.model import Event, correct_skew, utcnow
from microfunnel.ingest.records import SpoolBatch, decode_batch, encode_batch, event_count
from microfunnel.ingest.spool import Spool
from microfunnel.ingest.writer import Writer
from microfunnel.store.base import InsertResult
from microfunnel.store.duckdb import DuckDBStore


class CountingStore(DuckDBStore):
    """A real DuckDB store that remembers how many arrays each insert got."""

    inserts: list[int]

    def insert_json(self, arrays: Sequence[bytes]) -> InsertResult:
        self.inserts.append(len(arrays))
        return super().insert_json(arrays)


def record(n: int, size: int = 100) -> SpoolBatch:
    now = utcnow()
    events = [
        correct_skew(Event(event="view_item", event_id=f"r{n}-{i}", anonymous_id="a"), now)
        for i in range(size)
    ]
    return SpoolBatch(events=events)


def test_a_record_counts_its_events_also_after_the_spool() -> None:
    batch = record(1, size=7)
    assert event_count(batch) == 7
    assert event_count(decode_batch(encode_batch(batch))) == 7
    assert event_count(SpoolBatch()) == 0


def test_batch_events_bounds_the_events_of_one_insert(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.duckdb")
    store.inserts = []
    spool = Spool(tmp_path / "spool")
    writer = Writer(store, spool, batch_events=250)
    spool.on_durable = writer.submit
    for n in range(8):  # queued before the writer starts: one backlog of 800 events
        batch = record(n)
        spool.append(encode_batch(batch), carry=batch)
    writer.start()
    assert writer.drain(timeout=60)
    writer.stop()
    spool.close()
    assert store.inserts == [3, 3, 2]  # 300, 300 and 200 events: never 8 records at once
    assert store.count_events() == 800
    store.close()
