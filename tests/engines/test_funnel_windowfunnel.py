"""Ordered funnels count exactly what ClickHouse ``windowFunnel`` (default mode) counts.

Edge cases: equal timestamps (ordered by step), restarts (a later first step; the best chain
counts), exact duplicates, and the inclusive window boundary. Where the semantics differ (one
event filling two steps of a repeated-step funnel) a test says so.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from microfunnel.analytics.funnel import Breakdown, Step, _rows, build_spec, funnel
from microfunnel.store.base import Store
from microfunnel.store.clickhouse import ClickHouseStore
from microfunnel.store.duckdb import DuckDBStore

sys.path.insert(0, str(Path(__file__).parents[1] / "analytics"))
from funnel_data import ev

NAMES = ["view_item", "add_to_cart", "begin_checkout"]
W = timedelta(seconds=100)

CASES = {
    "equal timestamps": [("view_item", 0), ("add_to_cart", 0), ("begin_checkout", 0)],
    "reversed at equal time": [("add_to_cart", 5), ("view_item", 5), ("begin_checkout", 6)],
    "restart wins": [
        ("view_item", 0),
        ("add_to_cart", 90),
        ("view_item", 95),
        ("begin_checkout", 150),
        ("add_to_cart", 160),
        ("begin_checkout", 170),
    ],
    "restart loses old chain": [
        ("view_item", 0),
        ("add_to_cart", 10),
        ("view_item", 50),
        ("begin_checkout", 60),
    ],
    "duplicates": [
        ("view_item", 0),
        ("view_item", 0),
        ("add_to_cart", 30),
        ("add_to_cart", 30),
        ("begin_checkout", 100),
    ],
    "boundary inclusive": [("view_item", 0), ("add_to_cart", 50), ("begin_checkout", 100)],
    "just outside": [("view_item", 0), ("add_to_cart", 50), ("begin_checkout", 100.000001)],
    "out of order": [("begin_checkout", 0), ("add_to_cart", 1), ("view_item", 2)],
}


def _level_table(store: ClickHouseStore) -> dict[str, int]:
    conds = ", ".join(f"event = '{n}'" for n in NAMES)
    sql = (
        f"SELECT person_id, windowFunnel({W // timedelta(microseconds=1)})"
        f"(toUInt64(toUnixTimestamp64Micro(timestamp)), {conds}) AS level "
        "FROM events GROUP BY person_id"
    )
    return {r["person_id"]: r["level"] for r in store.query(sql).to_pylist()}


def _case_events() -> list:
    events = []
    for i, (case, rows) in enumerate(CASES.items()):
        for j, (name, sec) in enumerate(rows):
            events.append(ev(case, name, sec, eid=f"{i}-{j}"))
    return events


@pytest.fixture(scope="module")
def chdb_store(tmp_path_factory: pytest.TempPathFactory):
    store = ClickHouseStore(tmp_path_factory.mktemp("wf") / "chdb")
    store.insert_events(_case_events())
    yield store
    store.close()


def _our_levels(store: Store, strategy: str) -> dict[str, int]:
    spec = replace(
        build_spec(
            store,
            [Step(n) for n in NAMES],
            window=W,
            breakdown=Breakdown("anonymous_id", top=None),
            timings=False,
        ),
        strategy=strategy,  # type: ignore[arg-type]
    )
    rows = _rows(store, spec, NAMES)
    return {seg: sum(1 for s in steps if s.count) for is_all, seg, steps in rows if not is_all}


@pytest.mark.parametrize("strategy", ["chain", "fold"])
def test_levels_match_windowfunnel(chdb_store: ClickHouseStore, strategy: str) -> None:
    expected = _level_table(chdb_store)
    assert _our_levels(chdb_store, strategy) == {c: lvl for c, lvl in expected.items() if lvl}
    assert expected["boundary inclusive"] == 3 and expected["just outside"] == 2


def test_kernel_levels_match_windowfunnel(chdb_store: ClickHouseStore, tmp_path: Path) -> None:
    """The counts-only kernel (DuckDB, integer codes) on the same edge cases."""
    duck = DuckDBStore(tmp_path / "events.duckdb")
    try:
        duck.insert_events(_case_events())
        expected = _level_table(chdb_store)
        assert _our_levels(duck, "kernel") == {c: lvl for c, lvl in expected.items() if lvl}
    finally:
        duck.close()


def test_native_fast_path_counts(chdb_store: ClickHouseStore) -> None:
    steps = [Step(n) for n in NAMES]
    fast = funnel(chdb_store, steps, window=W, timings=False)
    full = funnel(chdb_store, steps, window=W)
    assert (fast.strategy, full.strategy) == ("native", "chain")
    assert [s.count for s in fast.steps] == [s.count for s in full.steps]


def test_repeated_step_is_where_semantics_differ(tmp_path: Path) -> None:
    """One view fills both steps of view_item -> view_item in windowFunnel, not here."""
    store = ClickHouseStore(tmp_path / "chdb")
    try:
        store.insert_events([ev("a", "view_item", 0, eid="1"), ev("a", "add_to_cart", 5, eid="2")])
        ours = funnel(store, [Step("view_item"), Step("view_item")], window=W)
        theirs = (
            store.query(
                "SELECT windowFunnel(100000000)(toUInt64(toUnixTimestamp64Micro(timestamp)), "
                "event = 'view_item', event = 'view_item') AS level FROM events"
            )
            .column(0)[0]
            .as_py()
        )
        assert theirs == 2
        assert [s.count for s in ours.steps] == [1, 0]
        assert ours.strategy == "fold"
    finally:
        store.close()
