"""The writer's column-wise ``events_to_arrow`` equals the row-wise ``event_row`` layout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from microfunnel.events.model import Event
from microfunnel.store.base import EVENT_COLUMNS, arrow_schema, event_row, events_to_arrow

_JSON_COLUMNS = ("properties", "context")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
lifted = st.sampled_from(
    ["device", "page_path", "utm_source", "utm_medium", "utm_campaign", "source", "is_bot"]
)
prop_keys = st.sampled_from(["value", "currency", "transaction_id", "note"])
some_time = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-5, minutes=-30))]),
)
events = st.builds(
    Event,
    event=st.text(min_size=1, max_size=6),
    event_id=st.text(max_size=6),
    anonymous_id=st.none() | st.text(max_size=4),
    user_id=st.none() | st.text(max_size=4),
    session_id=st.none() | st.text(max_size=4),
    timestamp=some_time,
    sent_at=st.none() | some_time,
    received_at=some_time,
    properties=st.dictionaries(prop_keys | st.text(max_size=4), values, max_size=4),
    context=st.dictionaries(lifted | st.text(max_size=4), values, max_size=4),
    plan_version=st.none() | st.integers(1, 9),
)


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for row in rows:
        for name in _JSON_COLUMNS:
            row[name] = json.loads(row[name])
    return rows


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=6))
def test_columns_equal_rows(batch: list[Event]) -> None:
    expected = pa.Table.from_pylist(
        [event_row(e) for e in batch], schema=arrow_schema(EVENT_COLUMNS)
    )
    got = events_to_arrow(batch)
    assert got.schema == expected.schema
    assert _rows(got) == _rows(expected)


def test_unknown_types_become_text() -> None:
    event = Event(event="x", event_id="1", properties={"z": complex(1, 2), "ok": "é"})
    event.timestamp = event.received_at = datetime(2026, 1, 1, tzinfo=UTC)
    (row,) = events_to_arrow([event]).to_pylist()
    assert json.loads(row["properties"]) == {"z": "(1+2j)", "ok": "é"}
