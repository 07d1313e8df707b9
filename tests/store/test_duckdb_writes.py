"""The DuckDB writer path's settings: one thread while it inserts, the database's afterwards."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from microfunnel.errors import StoreError
from microfunnel.events.model import Event, correct_skew, utcnow
from microfunnel.store.duckdb import DuckDBStore


def _setting(store: DuckDBStore, name: str) -> str:
    return str(store.query(f"SELECT current_setting('{name}')").column(0)[0].as_py())


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store._con.execute("SET threads = 3")
    store._threads = 3  # as if the machine had three cores
    yield store  # type: ignore[misc]
    store.close()


def test_insert_json_restores_the_threads_of_the_database(store: DuckDBStore) -> None:
    seen: list[str] = []
    insert = store._insert_batch

    def spy(*args: object) -> object:
        seen.append(_setting(store, "threads"))
        return insert(*args)  # type: ignore[arg-type]

    store._insert_batch = spy  # type: ignore[method-assign]
    events = [
        correct_skew(Event(event="view_item", event_id=f"e{i}", anonymous_id="a"), utcnow())
        for i in range(3)
    ]
    assert store.insert_json([msgspec.json.encode(events)]).inserted == 3
    assert seen == ["1"]
    assert _setting(store, "threads") == "3"


def test_a_failed_insert_json_restores_the_threads_too(store: DuckDBStore) -> None:
    with pytest.raises(StoreError, match="could not read spooled events"):
        store.insert_json([b"[{"])
    assert _setting(store, "threads") == "3"


def test_checkpoints_wait_for_more_wal_than_duckdb_default(store: DuckDBStore) -> None:
    assert _setting(store, "checkpoint_threshold") == "64.0 MiB"
