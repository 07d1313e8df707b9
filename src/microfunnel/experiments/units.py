"""Bring your own units: analyze an experiment from a CSV or Parquet table, one row per unit.

Columns: the unit id (``unit`` by default), the arm (``arm``), one column per metric named after
the metric key (0/1 for conversion metrics), ``<key>_num`` and ``<key>_den`` for a ratio metric,
an optional pre-exposure covariate ``<key>_pre`` (for CUPED), and optional segment columns
named after the experiment's segments. Metrics without a column are left out of the report.

>>> import pyarrow as pa
>>> t = pa.table({"unit": ["a", "b"], "arm": ["control", "treatment"], "purchase": [0, 1]})
>>> units_table(t, layout_for(["purchase"]), segments=()).columns["n"].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from microfunnel.errors import InputError
from microfunnel.experiments.analysis import analyze_table
from microfunnel.experiments.definitions import ExperimentDef
from microfunnel.experiments.metrics import Measure, MetricDef
from microfunnel.experiments.report import ExperimentReport
from microfunnel.experiments.tables import MetricLayout, StatsTable, layout

__all__ = ["analyze_units", "layout_for", "read_units", "units_table"]


def layout_for(keys: Sequence[str]) -> MetricLayout:
    """A layout of plain conversion metrics named ``keys`` (handy for quick tables)."""
    return layout([MetricDef(k, "conversion", Measure("conversion", (k,))) for k in keys])


def read_units(path: str | Path) -> pa.Table:
    """A CSV or Parquet file as an Arrow table (by extension)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"units file {path} does not exist: check the path.")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pq.read_table(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pacsv.read_csv(path)
    raise InputError(f"units file {path.name}: use a .csv or .parquet file.")


def _float(table: pa.Table, name: str) -> pa.Array:
    try:
        return pc.fill_null(pc.cast(table.column(name), pa.float64()), 0.0)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(f"column `{name}` of the units table must be numeric.") from None


def units_table(
    units: pa.Table,
    lay: MetricLayout,
    *,
    segments: Sequence[str],
    arm_column: str = "arm",
    metric_columns: dict[int, tuple[str, str | None]] | None = None,
) -> StatsTable:
    """Sufficient statistics per arm x segment values from one row per unit.

    ``metric_columns`` maps a measure index to its (value column, covariate column); by default
    measure ``i`` of a plain layout reads the column of the ``i``-th metric key.
    """
    if arm_column not in units.column_names:
        raise InputError(f"the units table needs an `{arm_column}` column with each unit's arm.")
    columns = metric_columns or {i: (k, None) for k, (i, _) in lay.index.items()}
    data: dict[str, pa.Array] = {"arm": pc.cast(units.column(arm_column), pa.string())}
    for s in segments:
        data[s] = pc.fill_null(pc.cast(units.column(s), pa.string()), "(none)")
    zeros = pa.array([0.0] * units.num_rows, pa.float64())
    values = {}
    for i in range(len(lay.measures)):
        value_col, cov_col = columns.get(i, (None, None))
        m = _float(units, value_col) if value_col else zeros
        c = _float(units, cov_col) if cov_col else zeros
        values[i] = m
        data.update({f"m{i}_sum": m, f"m{i}_sq": pc.multiply(m, m), f"c{i}_sum": c,
                     f"c{i}_sq": pc.multiply(c, c), f"m{i}_c{i}": pc.multiply(m, c)})  # fmt: skip
    for i, j in lay.pairs:
        data[f"m{i}_m{j}"] = pc.multiply(values[i], values[j])
    data["n"] = pa.array([1.0] * units.num_rows, pa.float64())
    table = pa.table(data)
    sums = [c for c in table.column_names if c not in ("arm", *segments)]
    grouped = table.group_by(["arm", *segments]).aggregate([(c, "sum") for c in sums])
    keys = ("arm", *segments)  # aggregates come back as "<column>_sum"
    grouped = grouped.rename_columns(
        [c if c in keys else c.removesuffix("_sum") for c in grouped.column_names]
    )
    grouped = grouped.append_column("day", pa.array([0] * grouped.num_rows, pa.int64()))
    return StatsTable.from_arrow(grouped, segments)


def analyze_units(
    units: pa.Table, exp: ExperimentDef, *, arm_column: str = "arm"
) -> ExperimentReport:
    """Analyze ``exp`` from a table of units (see the module docstring)."""
    names = set(units.column_names)

    def has(m: MetricDef) -> bool:
        return {f"{m.key}_num", f"{m.key}_den"} <= names if m.kind == "ratio" else m.key in names

    primary = [m for m in exp.primary.funnel_steps() if has(m)]
    if not primary:
        raise InputError(
            f"the units table has no column for the primary metric `{exp.primary.key}`: add one "
            "(0/1 for a conversion, a number otherwise)."
        )
    keep = lambda ms: tuple(m for m in ms if all(has(s) for s in m.funnel_steps()))  # noqa: E731
    exp = replace(exp, secondary=keep(exp.secondary), guardrails=keep(exp.guardrails),
                  segments=tuple(s for s in exp.segments if s in names))  # fmt: skip
    lay = layout(exp.metrics)
    columns: dict[int, tuple[str, str | None]] = {}
    for m in exp.metrics:
        num, den = lay.index[m.key]
        if den is None:
            pre = f"{m.key}_pre" if f"{m.key}_pre" in names else None
            columns.setdefault(num, (m.key, pre))
        else:
            columns.setdefault(num, (f"{m.key}_num", None))
            columns.setdefault(den, (f"{m.key}_den", None))
    table = units_table(units, lay, segments=exp.segments, arm_column=arm_column,
                        metric_columns=columns)  # fmt: skip
    for m in exp.metrics:
        num, den = lay.index[m.key]
        if m.measure.kind == "conversion" and den is None:
            col = table.columns[f"m{num}_sum"]
            if (table.columns[f"m{num}_sq"] != col).any():
                raise InputError(f"column `{m.key}` is a conversion metric: use 0 or 1 per unit.")
    return analyze_table(table, exp)
