"""SQL for experiment analysis: exposures, per-unit metrics, and sufficient statistics.

One builder writes each query; the dialect supplies JSON access, epoch microseconds, quoting and
exact quantiles. A unit is a ``person_id`` (after identity merges); its first
``experiment_exposure`` fixes its arm, its segment values and its exposure time ``t0``. Units
seen in more than one arm are left out of the metrics (and counted by :func:`exposure_summary_sql`).

For each unit and measure, the value is computed from its events in ``[t0, t0 + window)``; the
CUPED covariate is the same measure over ``[t0 - covariate window, t0)``. Capped measures are
cut at a percentile of the non-zero unit values (pooled over arms). The result has one row per
arm x segment values x exposure day (days since the Unix epoch, UTC) with ``n`` and, per measure
``i``, ``m{i}_sum``, ``m{i}_sq``, ``c{i}_sum``, ``c{i}_sq``, ``m{i}_c{i}`` and the cross sums
``m{i}_m{j}`` a ratio metric needs. These add over days and segments, so ``microfunnel.stats``
does the rest without another scan.

Each CTE is read once (ClickHouse inlines a CTE at every reference, so a second reader would
parse the exposures' JSON again): mixed-arm units are found by window aggregates beside the
first-exposure rank, and each cap is a window quantile over the per-unit values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "SEGMENT_COLUMNS",
    "MeasureSpec",
    "baseline_sql",
    "data_range_sql",
    "experiment_stats_sql",
    "exposure_summary_sql",
    "velocity_sql",
]

SEGMENT_COLUMNS = ("device", "utm_source", "utm_medium", "utm_campaign", "page_path", "source")
"""Event columns an experiment can be segmented by (read from the unit's first exposure)."""

DAY_US = 86_400_000_000
NONE_SEGMENT = "(none)"


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    """One per-unit number: ``conversion`` (did all ``events``), ``count`` or ``revenue``."""

    kind: Literal["conversion", "count", "revenue"]
    events: tuple[str, ...]
    cap: float | None = None


def _exposures(dialect: Any, segments: Sequence[str]) -> tuple[str, list[Any]]:
    segs = "".join(f", coalesce({s}, '{NONE_SEGMENT}') AS {s}" for s in segments)
    sql = (
        f"  SELECT person_id, {dialect.json_text('properties', 'variation_id')} AS arm,\n"
        f"    {dialect.epoch_us('timestamp')} AS t_us{segs}\n"
        "  FROM events\n"
        "  WHERE event = 'experiment_exposure' AND NOT is_bot\n"
        f"    AND {dialect.json_text('properties', 'experiment_id')} = ?\n"
        "    AND timestamp >= ? AND timestamp < ?"
    )
    return sql, []


def exposure_summary_sql(
    dialect: Any, *, experiment_id: str, since: datetime, until: datetime
) -> tuple[str, list[Any]]:
    """One row: ``units`` (distinct persons exposed), ``mixed`` (persons seen in several arms),
    ``first_us`` and ``last_us`` (first and last exposure, epoch microseconds)."""
    exposures, _ = _exposures(dialect, ())
    sql = (
        f"WITH exposures AS (\n{exposures}\n),\n"
        "per_unit AS (\n"
        "  SELECT person_id, min(arm) AS lo, max(arm) AS hi, min(t_us) AS first_us,\n"
        "    max(t_us) AS last_us\n"
        "  FROM exposures GROUP BY person_id\n"
        ")\n"
        "SELECT CAST(count(*) AS BIGINT) AS units,\n"
        "  CAST(sum(CASE WHEN lo <> hi THEN 1 ELSE 0 END) AS BIGINT) AS mixed,\n"
        "  min(first_us) AS first_us, max(last_us) AS last_us\n"
        "FROM per_unit"
    )
    return sql, [experiment_id, since, until]


def _in_list(dialect: Any, names: Sequence[str]) -> str:
    return ", ".join(dialect.literal(n) for n in dict.fromkeys(names))


def _unit_value(dialect: Any, m: MeasureSpec, when: str) -> str:
    """The per-unit aggregate of measure ``m`` over joined events satisfying ``when``."""
    if m.kind == "conversion":
        flags = [
            f"max(CASE WHEN e.event = {dialect.literal(ev)} AND {when} THEN 1 ELSE 0 END)"
            for ev in m.events
        ]
        return " * ".join(flags)
    event = dialect.literal(m.events[0])
    if m.kind == "count":
        return f"sum(CASE WHEN e.event = {event} AND {when} THEN 1 ELSE 0 END)"
    return f"sum(CASE WHEN e.event = {event} AND {when} THEN coalesce(e.value, 0.0) ELSE 0.0 END)"


def experiment_stats_sql(
    dialect: Any,
    *,
    experiment_id: str,
    measures: Sequence[MeasureSpec],
    pairs: Sequence[tuple[int, int]] = (),
    segments: Sequence[str] = (),
    window_us: int,
    covariate_us: int,
    since: datetime,
    until: datetime,
) -> tuple[str, list[Any]]:
    """Sufficient statistics per ``arm`` x ``segments`` x ``day`` (see the module docstring).

    ``pairs`` lists the (numerator, denominator) measure indices of ratio metrics.
    """
    if not measures:
        raise ValueError("experiment_stats_sql needs at least one measure")
    exposures, _ = _exposures(dialect, segments)
    seg_cols = "".join(f", {s}" for s in segments)
    # one unit per person: group on the key alone and carry its columns (cheaper than string keys)
    carried = ", ".join(f"min(u.{c}) AS {c}" for c in ("arm", "t0_us", *segments))
    events = _in_list(dialect, [ev for m in measures for ev in m.events])
    post = "e.t_us >= u.t0_us AND e.t_us < u.t0_us + " + str(int(window_us))
    pre = "e.t_us < u.t0_us AND e.t_us >= u.t0_us - " + str(int(covariate_us))
    values = ",\n".join(
        f"    {_unit_value(dialect, m, post)} AS m{i},\n    {_unit_value(dialect, m, pre)} AS c{i}"
        for i, m in enumerate(measures)
    )
    ctes = [
        f"exposures AS (\n{exposures}\n)",
        "ranked AS (\n"
        f"  SELECT person_id, arm, t_us{seg_cols},\n"
        "    row_number() OVER w AS rn, min(arm) OVER w AS lo, max(arm) OVER w AS hi\n"
        "  FROM exposures\n"
        "  WINDOW w AS (PARTITION BY person_id ORDER BY t_us, arm\n"
        "    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)\n)",
        f"units AS (\n  SELECT person_id, arm, t_us AS t0_us{seg_cols} FROM ranked\n"
        "  WHERE rn = 1 AND NOT coalesce(lo <> hi, FALSE)\n)",
        "ev AS (\n"
        f"  SELECT person_id, event, value, {dialect.epoch_us('timestamp')} AS t_us\n"
        f"  FROM events WHERE event IN ({events}) AND NOT is_bot AND timestamp < ?\n)",
        "vals AS (\n"
        f"  SELECT u.person_id, {carried},\n{values}\n"
        "  FROM units AS u LEFT JOIN ev AS e ON e.person_id = u.person_id\n"
        "  GROUP BY u.person_id\n)",
    ]
    caps = ""
    capped: dict[int, str] = {}
    for i, m in enumerate(measures):
        if m.cap is not None and m.kind != "conversion":
            positive = f"CASE WHEN m{i} > 0 THEN m{i} END"
            caps += f",\n    {dialect.quantiles(positive, [m.cap])} OVER () AS cap{i}"
            capped[i] = f"coalesce(cap{i}[1], 0.0)"

    def col(prefix: str, i: int) -> str:
        name = f"{prefix}{i}"
        if i in capped:
            return (
                f"CAST(CASE WHEN {name} > {capped[i]} THEN {capped[i]} ELSE {name} END AS DOUBLE)"
            )
        return f"CAST({name} AS DOUBLE)"

    cols = ", ".join(f"{col('m', i)} AS m{i}, {col('c', i)} AS c{i}" for i in range(len(measures)))
    ctes.append(f"with_caps AS (\n  SELECT *{caps}\n  FROM vals\n)")
    ctes.append(
        f"capped AS (\n  SELECT arm, CAST(floor(t0_us / {DAY_US}) AS BIGINT) AS day{seg_cols},\n"
        f"    {cols}\n  FROM with_caps\n)"
    )
    sums = ["CAST(count(*) AS BIGINT) AS n"]
    for i in range(len(measures)):
        sums += [
            f"sum(m{i}) AS m{i}_sum", f"sum(m{i} * m{i}) AS m{i}_sq", f"sum(c{i}) AS c{i}_sum",
            f"sum(c{i} * c{i}) AS c{i}_sq", f"sum(m{i} * c{i}) AS m{i}_c{i}",
        ]  # fmt: skip
    for i, j in dict.fromkeys(pairs):
        sums.append(f"sum(m{i} * m{j}) AS m{i}_m{j}")
    select = ",\n  ".join(sums)
    sql = (
        "WITH " + ",\n".join(ctes) + "\n"
        f"SELECT arm, day{seg_cols},\n  {select}\n"
        f"FROM capped GROUP BY arm, day{seg_cols}\n"
        f"ORDER BY arm, day{seg_cols}"
    )
    return sql, [experiment_id, since, until, until]


def velocity_sql(
    *,
    events: Sequence[str],
    segment: str,
    baseline: tuple[datetime, datetime],
    recent: tuple[datetime, datetime],
) -> tuple[str, list[Any]]:
    """Rows ``(segment, baseline, recent)``: counts of ``events`` per segment value in the
    baseline and recent windows (half-open, naive UTC), bots excluded."""
    marks = ", ".join("?" for _ in events)
    sql = (
        f"SELECT coalesce({segment}, '{NONE_SEGMENT}') AS segment,\n"
        "  CAST(sum(CASE WHEN timestamp >= ? AND timestamp < ? THEN 1 ELSE 0 END) AS BIGINT)"
        " AS baseline,\n"
        "  CAST(sum(CASE WHEN timestamp >= ? AND timestamp < ? THEN 1 ELSE 0 END) AS BIGINT)"
        " AS recent\n"
        f"FROM events WHERE event IN ({marks}) AND NOT is_bot\n"
        f"GROUP BY segment ORDER BY segment"
    )
    return sql, [*baseline, *recent, *events]


def data_range_sql() -> tuple[str, list[Any]]:
    """One row ``(first, last)``: the earliest and latest event timestamps."""
    return "SELECT min(timestamp) AS first, max(timestamp) AS last FROM events", []


def baseline_sql(
    dialect: Any, *, measure: MeasureSpec, since: datetime, until: datetime
) -> tuple[str, list[Any]]:
    """One row ``(units, total, total_sq)``: persons active in ``[since, until)`` and the sum and
    sum of squares of ``measure`` per person (the baseline a test is sized from)."""
    value = _unit_value(dialect, measure, "1 = 1")
    sql = (
        "WITH per_unit AS (\n"
        f"  SELECT e.person_id, {value} AS v\n"
        "  FROM events AS e WHERE NOT e.is_bot AND e.timestamp >= ? AND e.timestamp < ?\n"
        "  GROUP BY e.person_id\n"
        ")\n"
        "SELECT CAST(count(*) AS BIGINT) AS units, CAST(sum(v) AS DOUBLE) AS total,\n"
        "  CAST(sum(v * v) AS DOUBLE) AS total_sq\n"
        "FROM per_unit"
    )
    return sql, [since, until]
