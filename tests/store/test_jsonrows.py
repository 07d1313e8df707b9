"""DuckDB's reading of spooled JSON events gives the rows ``events_to_arrow`` gives in Python."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ingest.test_events_to_arrow import events

from microfunnel.events.model import Event, correct_skew
from microfunnel.store.base import EVENT_COLUMNS, events_to_arrow
from microfunnel.store.duckdb import DuckDBStore
from microfunnel.store.jsonrows import ROWS_SQL

_JSON_COLUMNS = ("properties", "context")
_encoder = msgspec.json.Encoder(enc_hook=str)
_store = DuckDBStore(":memory:")


def _parsed(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with the JSON columns (and lifted lists or objects) parsed: DuckDB re-writes JSON
    documents (``1e16`` may come back as ``10000000000000000.0``), the values are the same."""
    rows = table.to_pylist()
    for row in rows:
        for name, value in row.items():
            if name in _JSON_COLUMNS or (isinstance(value, str) and value[:1] in "[{"):
                row[name] = _loads(value)
    return rows


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # a string that only looks like a list or an object
        return text


def rows_from_json(batches: list[list[Event]]) -> pa.Table:
    con = _store._con
    con.register("_json", pa.table({"j": [_encoder.encode(b).decode() for b in batches]}))
    try:
        return con.sql(ROWS_SQL).to_arrow_table()
    finally:
        con.unregister("_json")


def test_rows_have_the_events_layout() -> None:
    table = rows_from_json([[Event(event="view_item", event_id="1")]])
    assert table.column_names == list(EVENT_COLUMNS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(events, min_size=1, max_size=4), min_size=1, max_size=3))
def test_json_rows_equal_python_rows(batches: list[list[Event]]) -> None:
    expected = events_to_arrow([e for b in batches for e in b])
    got = rows_from_json(batches)
    assert _parsed(got) == _parsed(expected)


def test_insert_json_stores_what_insert_events_stores(tmp_path: Path) -> None:
    batch = [
        correct_skew(
            Event(
                event="add_to_cart",
                event_id=f"e{i}",
                anonymous_id=f"a{i % 2}",
                properties={"value": "19.90", "currency": "EUR", "transaction_id": 12},
                context={"device": "mobile", "is_bot": i == 1, "utm_source": ""},
            ),
            datetime(2026, 11, 1, 10, i, tzinfo=UTC),
        )
        for i in range(3)
    ]
    one, two = DuckDBStore(tmp_path / "a.duckdb"), DuckDBStore(tmp_path / "b.duckdb")
    try:
        assert one.insert_events(batch).inserted == 3
        assert two.insert_json([_encoder.encode(batch[:2]), _encoder.encode(batch)]).inserted == 3
        sql = "SELECT * EXCLUDE (properties, context) FROM events ORDER BY event_id"
        assert one.query(sql).to_pylist() == two.query(sql).to_pylist()
        assert two.query(
            "SELECT value, transaction_id, is_bot FROM events ORDER BY event_id"
        ).to_pylist()[1] == {
            "value": 19.9,
            "transaction_id": "12",
            "is_bot": True,
        }
    finally:
        one.close()
        two.close()
