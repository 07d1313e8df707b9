"""The vectorized generator: exact layout, consistent persons and sessions, fast."""

from __future__ import annotations

import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from microfunnel.sim import iter_arrow_chunks, simulate_arrow
from microfunnel.store.base import EVENT_COLUMNS, arrow_schema

SESSION_TIMEOUT_US = 30 * 60 * 1_000_000


def _np(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def _us(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy().astype("datetime64[us]").astype(np.int64)


def test_layout_is_exactly_the_events_schema(bulk_table: pa.Table) -> None:
    assert bulk_table.schema == arrow_schema(EVENT_COLUMNS)
    assert bulk_table.num_rows == 500_000
    bulk_table.validate(full=True)
    for name in ("event_id", "event", "person_id", "timestamp", "received_at", "is_bot"):
        assert bulk_table.column(name).null_count == 0
    assert pc.count_distinct(bulk_table["event_id"]).as_py() == bulk_table.num_rows


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, b, c = (simulate_arrow(20_000, seed=s) for s in (3, 3, 4))
    assert a.equals(b)
    assert not a.equals(c)
    assert set(_np(a, "event_id")).isdisjoint(_np(c, "event_id"))


def test_chunks_hold_whole_persons_and_add_up() -> None:
    chunks = list(iter_arrow_chunks(50_000, 20_000, seed=2))
    assert [c.num_rows for c in chunks] == [20_000, 20_000, 10_000]
    whole = pa.concat_tables(chunks)
    assert whole.equals(simulate_arrow(50_000, seed=2, chunk_size=20_000))
    persons = [set(_np(c, "anonymous_id")) for c in chunks]
    assert persons[0].isdisjoint(persons[1]) and persons[1].isdisjoint(persons[2])
    assert pc.count_distinct(whole["event_id"]).as_py() == whole.num_rows


def test_persons_are_contiguous_in_time_order_with_separate_sessions(bulk_table: pa.Table) -> None:
    person, session = _np(bulk_table, "anonymous_id"), _np(bulk_table, "session_id")
    ts = _us(bulk_table, "timestamp")
    new_person = np.r_[True, person[1:] != person[:-1]]
    assert new_person.sum() == len(set(person))  # each person is one run of rows
    new_session = np.r_[True, session[1:] != session[:-1]]
    assert new_session.sum() == len(set(session))
    step = np.diff(ts)
    same_person = ~new_person[1:]
    assert (step[same_person] >= 0).all()
    within = ~new_session[1:]
    assert (step[within] < SESSION_TIMEOUT_US).all()
    between = same_person & new_session[1:]
    assert between.any() and (step[between] > SESSION_TIMEOUT_US).all()
    assert (_us(bulk_table, "received_at") > ts).all()


def test_lifted_columns_agree_with_the_json(bulk_table: pa.Table) -> None:
    sample = bulk_table.filter(
        pc.is_in(bulk_table["event"], pa.array(["purchase", "add_to_cart", "$identify"]))
    ).slice(0, 3000)
    for row in sample.to_pylist():
        props, ctx = json.loads(row["properties"]), json.loads(row["context"])
        assert ctx["page_path"] == row["page_path"] and ctx["device"] == row["device"]
        assert ctx.get("utm_source") == row["utm_source"]
        if row["event"] == "$identify":
            assert props["user_id"] == row["user_id"] == row["person_id"]
            continue
        assert props["value"] == row["value"] and props["currency"] == row["currency"] == "EUR"
        total = sum(i["price"] * i["quantity"] for i in props["items"])
        assert props["value"] == round(total, 2)
        assert props.get("transaction_id") == row["transaction_id"]


def test_known_persons_keep_one_person_id(bulk_table: pa.Table) -> None:
    known = bulk_table.filter(pc.is_valid(bulk_table["user_id"]))
    assert known.num_rows > 0
    assert (_np(known, "person_id") == _np(known, "user_id")).all()
    person_of = dict(
        zip(_np(bulk_table, "anonymous_id"), _np(bulk_table, "person_id"), strict=True)
    )
    for anon, user in zip(_np(known, "anonymous_id"), _np(known, "user_id"), strict=True):
        assert person_of[anon] == user


def test_bots_are_flagged_and_fast(bulk_table: pa.Table) -> None:
    bots = bulk_table.filter(bulk_table["is_bot"])
    assert 0 < bots.num_rows < 0.2 * bulk_table.num_rows
    assert all('"is_bot":true' in c for c in _np(bots, "context")[:1000])
    ts, session = _us(bots, "timestamp"), _np(bots, "session_id")
    same = session[1:] == session[:-1]
    assert np.median(np.diff(ts)[same]) < 1_000_000


def test_a_million_events_in_under_ten_seconds() -> None:
    # CPU time of this process: other jobs sharing the machine do not count against it.
    started = time.process_time()
    table = simulate_arrow(1_000_000, seed=8)
    elapsed = time.process_time() - started
    assert table.num_rows == 1_000_000
    assert elapsed < 10, f"{elapsed:.1f} s"
