"""The in-memory id filter behind ingest dedupe, alone and inside the DuckDB store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from microfunnel.events.model import Event, correct_skew
from microfunnel.store.base import events_to_arrow
from microfunnel.store.duckdb import DuckDBStore
from microfunnel.store.idfilter import IdFilter

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def hashes(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def test_contains_is_exact_for_added_hashes_and_runs_stay_few() -> None:
    ids = IdFilter()
    ids.load(hashes(), None, T0)
    rng = np.random.default_rng(0)
    added = []
    for step in range(200):
        batch = rng.integers(0, 2**63, size=50, dtype=np.uint64)
        ids.add(batch, T0 + timedelta(seconds=step))
        added.append(batch)
    everything = np.concatenate(added)
    assert ids.contains(everything).all()
    fresh = rng.integers(0, 2**63, size=10_000, dtype=np.uint64)
    assert not ids.contains(np.setdiff1d(fresh, everything)).any()
    assert len(ids) == len(everything)
    assert len(ids._runs) <= 2 * np.log2(200)  # a log-structured merge, not 200 runs


def test_whole_days_expire() -> None:
    ids = IdFilter()
    ids.load(hashes(1, 2), T0, T0 - timedelta(days=1))
    for hour in range(0, 72, 6):  # three days of small batches
        ids.add(hashes(100 + hour), T0 + timedelta(hours=hour))
    assert len(ids._runs) <= 6
    ids.expire(T0 + timedelta(days=2))
    assert ids.contains(hashes(1, 100, 100 + 24, 100 + 48, 100 + 66)).tolist() == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_over_capacity_the_oldest_run_goes_and_coverage_moves() -> None:
    ids = IdFilter(capacity=4)
    ids.load(hashes(1, 2, 3), T0, T0 - timedelta(days=7))
    ids.add(hashes(4, 5), T0 + timedelta(hours=1))
    assert ids.covered_from == T0
    assert ids.contains(hashes(1, 4)).tolist() == [False, True]


def ev(i: int, received: datetime) -> Event:
    event = Event(event="view_item", event_id=f"id-{i}", anonymous_id=f"a{i % 7}")
    return correct_skew(event, received)


def test_retries_are_caught_after_reopening_and_beyond_capacity(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    store = DuckDBStore(path)
    first = [ev(i, T0) for i in range(100)]
    assert store.insert_events(first).inserted == 100
    store.close()

    store = DuckDBStore(path)  # the filter is loaded from the stored ids of the window
    again = store.insert_events([ev(i, T0 + timedelta(minutes=1)) for i in range(90, 110)])
    assert (again.inserted, again.duplicates) == (10, 10)

    store._ids.capacity = 30  # the filter drops older ids: the table answers for them
    for k in range(5):
        batch = [ev(1000 + 20 * k + i, T0 + timedelta(minutes=2 + k)) for i in range(20)]
        store.insert_events(batch)
    assert store._ids.covered_from is not None and store._ids.covered_from > T0.replace(
        tzinfo=None
    )  # the store's times are naive UTC
    late = store.insert_events([ev(i, T0 + timedelta(minutes=9)) for i in (5, 1001, 5000)])
    assert (late.inserted, late.duplicates) == (1, 2)
    assert store.count_events() == 100 + 10 + 100 + 1
    store.close()


def test_a_retry_older_than_the_window_is_stored_again(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb", dedupe_window=timedelta(days=1))
    store.insert_events([ev(1, T0)])
    later = store.insert_events([ev(1, T0 + timedelta(days=2)), ev(2, T0 + timedelta(days=2))])
    assert (later.inserted, later.duplicates) == (2, 0)
    store.close()


def test_a_bulk_load_after_the_filter_was_filled_still_counts(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.insert_events([ev(1, T0)])  # the filter is loaded here
    store.bulk_load(events_to_arrow([ev(2, T0)]))
    again = store.insert_events([ev(2, T0 + timedelta(minutes=1))])
    assert (again.inserted, again.duplicates) == (0, 1)
    store.close()
