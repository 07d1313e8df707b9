"""Compiled funnel SQL per dialect, against golden files (``UPDATE_SNAPSHOTS=1`` rewrites)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from microfunnel.query.conditions import Filter, Match
from microfunnel.query.dialect import CLICKHOUSE, DUCKDB, Dialect
from microfunnel.query.funnel import FunnelSpec, StepSpec, compile_funnel
from microfunnel.query.segments import SegmentSpec

SNAPSHOTS = Path(__file__).parent / "snapshots"
STEPS = (
    StepSpec((Match("view_item"),)),
    StepSpec((Match("add_to_cart", (Filter("device", "eq", "mobile"),)),)),
    StepSpec((Match("purchase", (Filter("cart_id", "is_set"),)), Match("refund"))),
)
CODES = {"view_item": 1, "add_to_cart": 2, "purchase": 3, "refund": 4}
SPECS = {
    "ordered_device": FunnelSpec(
        STEPS,
        86_400_000_000,
        segment=SegmentSpec(prop="device", top_n=5),
        start=datetime(2024, 4, 1),
        end=datetime(2024, 5, 1),
    ),
    "strict": FunnelSpec(STEPS, 3_600_000_000, mode="strict"),
    "native": FunnelSpec(STEPS, 3_600_000_000, timings=False),
    # A store with integer codes (DuckDB): names compared as codes, units grouped by key.
    "coded": FunnelSpec(
        STEPS,
        86_400_000_000,
        segment=SegmentSpec(prop="device"),
        timings=False,
        event_codes=CODES,
    ),
}


@pytest.mark.parametrize("dialect", [DUCKDB, CLICKHOUSE], ids=lambda d: d.name)
@pytest.mark.parametrize("name", list(SPECS))
def test_funnel_sql_snapshot(name: str, dialect: Dialect) -> None:
    sql, params = compile_funnel(SPECS[name], dialect)
    assert sql.count("?") == len(params)
    text = f"-- params: {params!r}\n{sql}\n"
    path = SNAPSHOTS / f"funnel_{name}.{dialect.name}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.read_text() == text


def test_native_path_only_on_clickhouse() -> None:
    assert "windowFunnel" in compile_funnel(SPECS["native"], CLICKHOUSE)[0]
    assert "windowFunnel" not in compile_funnel(SPECS["native"], DUCKDB)[0]
    assert "list_reduce" in compile_funnel(SPECS["strict"], DUCKDB)[0]
    assert "arrayFold" in compile_funnel(SPECS["strict"], CLICKHOUSE)[0]


def test_codes_replace_names_where_known() -> None:
    plain = (StepSpec((Match("view_item"),)), StepSpec((Match("purchase"),)))
    sql, params = compile_funnel(FunnelSpec(plain, 1, event_codes=CODES), DUCKDB)
    assert "event_code IN (1, 3)" in sql and "event =" not in sql and "person_key AS u" in sql
    assert params == []
    # A name the store has no code for is compared as text (and nothing is pre-filtered).
    sql, params = compile_funnel(FunnelSpec(plain, 1, event_codes={"view_item": 1}), DUCKDB)
    assert "event_code IN" not in sql and "event = ?" in sql and "purchase" in params
