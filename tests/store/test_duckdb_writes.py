"""The DuckDB writer path's settings: one thread while it inserts, the database's for reads."""

from __future__ import annotations

import os
import subprocess
import sys
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


def _events(n: int, tag: str = "e") -> list[bytes]:
    events = [
        correct_skew(Event(event="view_item", event_id=f"{tag}{i}", anonymous_id="a"), utcnow())
        for i in range(n)
    ]
    return [msgspec.json.encode(events)]


def _spy_threads(store: DuckDBStore) -> list[str]:
    """The database's ``threads`` as each insert runs its statements."""
    seen: list[str] = []
    insert = store._insert_batch

    def spy(*args: object) -> object:
        seen.append(str(store._con.execute("SELECT current_setting('threads')").fetchone()[0]))
        return insert(*args)  # type: ignore[arg-type]

    store._insert_batch = spy  # type: ignore[method-assign]
    return seen


def test_inserts_run_on_one_thread_and_reads_on_the_databases(store: DuckDBStore) -> None:
    seen = _spy_threads(store)
    assert store.insert_json(_events(3)).inserted == 3
    assert store.insert_json(_events(3, "f")).inserted == 3
    assert seen == ["1", "1"]
    # the writer leaves it low (no switch per insert); a read raises it for itself and the
    # reads after it
    assert store._con.execute("SELECT current_setting('threads')").fetchone() == (1,)
    assert _setting(store, "threads") == "3"
    assert _setting(store, "threads") == "3"
    assert store.insert_json(_events(3, "g")).inserted == 3
    assert seen == ["1", "1", "1"]


def test_an_insert_during_a_read_leaves_the_reads_threads(store: DuckDBStore) -> None:
    seen = _spy_threads(store)
    with store._reading():  # a read in flight on another thread
        assert store.insert_json(_events(3)).inserted == 3
        assert seen == ["3"]
    assert store.insert_json(_events(3, "f")).inserted == 3
    assert seen == ["3", "1"]


def test_a_failed_insert_json_leaves_reads_their_threads(store: DuckDBStore) -> None:
    with pytest.raises(StoreError, match="could not read spooled events"):
        store.insert_json([b"[{"])
    assert _setting(store, "threads") == "3"


def test_checkpoints_wait_for_more_wal_than_duckdb_default(store: DuckDBStore) -> None:
    assert _setting(store, "checkpoint_threshold") == "64.0 MiB"


_DECAY = """
import ctypes, pathlib, sys
import microfunnel, duckdb
library = next(pathlib.Path(duckdb.__file__).parent.parent.glob("_duckdb*.so"))
value, size = ctypes.c_int64(0), ctypes.c_size_t(8)
failed = ctypes.CDLL(str(library)).duckdb_je_mallctl(
    b"opt.dirty_decay_ms", ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0)
)
print(failed, value.value)
"""


@pytest.mark.parametrize(("environment", "expected"), [(None, "0 10000"), ("2000", "0 2000")])
def test_duckdbs_allocator_keeps_freed_pages_for_the_next_inserts(
    environment: str | None, expected: str
) -> None:
    """Asked of DuckDB's own jemalloc (``mallctl``) in a fresh interpreter; a value the user
    set in the environment wins. (DuckDB's Linux wheels bundle jemalloc; the suite, like CI,
    runs on Linux, as its browser tests do with Debian's Chromium.)"""
    env = {k: v for k, v in os.environ.items() if k != "DUCKDB_JE_MALLOC_CONF"}
    if environment is not None:
        env["DUCKDB_JE_MALLOC_CONF"] = f"dirty_decay_ms:{environment}"
    out = subprocess.run(
        [sys.executable, "-c", _DECAY], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == expected.split()
