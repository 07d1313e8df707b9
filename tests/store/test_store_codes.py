"""The DuckDB store's integer codes (``event_code``, ``person_key``) and their dictionaries."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa

from microfunnel.store.base import EVENT_COLUMNS, events_to_arrow
from microfunnel.store.ddl import _duck_columns
from microfunnel.store.duckdb import DuckDBStore

sys.path.insert(0, str(Path(__file__).parent))
from test_store import ev


def rows(store: DuckDBStore) -> list[tuple[str, str, int, int]]:
    return [
        (r["event"], r["person_id"], r["event_code"], r["person_key"])
        for r in store.query(
            "SELECT event, person_id, event_code, person_key FROM events ORDER BY event_id"
        ).to_pylist()
    ]


def codes_agree(store: DuckDBStore) -> None:
    """Every row's codes are those its dictionaries give its name and person."""
    bad = store.scalar(
        "SELECT count(*) FROM events e LEFT JOIN event_names n ON n.code = e.event_code "
        "LEFT JOIN persons p ON p.person_key = e.person_key "
        "WHERE n.name IS DISTINCT FROM e.event OR p.person_id IS DISTINCT FROM e.person_id"
    )
    assert bad == 0


def test_insert_fills_codes_from_dense_dictionaries(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.insert_events([ev(1), ev(2, "add_to_cart"), ev(3), ev(3)])
    store.insert_events([ev(4, "purchase", anonymous_id="a1"), ev(5, "add_to_cart")])
    codes_agree(store)
    assert store.event_codes(["view_item", "add_to_cart", "purchase", "nope"]) == {
        "view_item": 1,
        "add_to_cart": 2,
        "purchase": 3,
    }
    keys = store.query("SELECT person_key FROM persons ORDER BY 1").column(0).to_pylist()
    assert keys == [1, 2, 3]  # a1, a2, a0: dense, in order of arrival
    assert store.event_names() == ["add_to_cart", "purchase", "view_item"]
    store.close()


def test_merge_moves_person_key_with_person_id(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.insert_events([ev(1, anonymous_id="anon-x"), ev(2, anonymous_id="anon-y")])
    assert store.merge_identity("anon-x", "user-1") == 1
    assert store.merge_identity("anon-y", "user-1") == 1
    store.insert_events([ev(3, anonymous_id="anon-x")])
    codes_agree(store)
    assert {r[3] for r in rows(store)} == {store.scalar("SELECT person_key FROM persons "
                                                        "WHERE person_id = 'user-1'")}  # fmt: skip
    store.close()


def test_forget_drops_dictionary_rows_no_longer_used(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.insert_events([ev(1, "refund", anonymous_id="anon-x", user_id="user-1"), ev(2)])
    store.merge_identity("anon-x", "user-1")
    store.forget("user-1")
    people = store.query("SELECT person_id FROM persons").column(0).to_pylist()
    assert people == ["a2"]
    assert store.event_names() == ["view_item"]
    store.insert_events([ev(3, "refund")])  # a name seen again gets a code again
    codes_agree(store)
    store.close()


def test_bulk_load_fills_codes_and_keeps_order(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    table = events_to_arrow([ev(i, "view_item" if i % 2 else "add_to_cart") for i in range(50)])
    store.insert_events([ev(100, "purchase")])
    assert store.bulk_load(table[::-1]) == 50
    codes_agree(store)
    ids = store.query("SELECT event_id FROM events").column(0).to_pylist()
    assert ids == ["e100", *[f"e{i}" for i in range(49, -1, -1)]]
    store.close()


def test_a_store_made_before_the_codes_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE events (\n  {_duck_columns(EVENT_COLUMNS)}\n)")
    old = events_to_arrow([ev(1), ev(2, "purchase"), ev(3, anonymous_id="a1")])
    con.register("old", old)
    con.execute("INSERT INTO events SELECT * FROM old")
    con.close()
    store = DuckDBStore(path)
    codes_agree(store)
    assert store.count_events() == 3
    assert sorted(store.event_names()) == ["purchase", "view_item"]
    store.insert_events([ev(4, "purchase")])
    codes_agree(store)
    store.close()
    store = DuckDBStore(path)  # opening again changes nothing
    codes_agree(store)
    assert store.scalar("SELECT max(code) FROM event_names") == 2
    store.close()


def test_bulk_load_of_nothing(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    empty = pa.Table.from_pylist([], schema=events_to_arrow([ev(1)]).schema)
    assert store.bulk_load(empty) == 0
    store.close()
