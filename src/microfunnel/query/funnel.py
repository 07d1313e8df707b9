"""Funnel SQL: one query per question, per dialect, that returns a small table per segment.

Two strategies produce the same per-unit table (``unit``, reached level, the timestamps of the
reported chain, its segment) and share the final aggregation:

- the **level chain** (ordered funnels without optional steps, exclusions or repeated steps):
  level ``k`` rows are the step-``k`` events whose latest preceding level ``k-1`` row, in
  ``(time, step)`` order, started within the window. Starts only grow along a unit's timeline,
  so the latest predecessor is the best one, exactly as in ClickHouse ``windowFunnel``. Each level
  is one window pass over two steps' rows, so the heavy pass touches only the first two steps.
- the **fold**: a left fold over each unit's events sorted by ``(time, step)`` with one state
  record (live chain per level, the recorded best chain). It covers strict order, any order,
  optional steps, exclusions, repeated steps and totals.

On ClickHouse a counts-only question without a breakdown uses ``windowFunnel`` itself. On a
store with integer codes, a counts-only level-chain question per person with one window and no
hold goes to the kernel (``microfunnel.query.funnel_kernel``): a plain read of the step rows, the
rest in numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from microfunnel.query.conditions import (
    Fragment,
    Match,
    Params,
    any_sql,
    property_sql,
    time_range_sql,
)
from microfunnel.query.dialect import Dialect
from microfunnel.query.segments import OTHER, SegmentSpec, segment_event_sql, top_n_sql

__all__ = ["QUANTILES", "FunnelMode", "FunnelSpec", "StepSpec", "Unit", "compile_funnel"]

FunnelMode = Literal["ordered", "strict", "any"]
Unit = Literal["person", "session", "total"]
QUANTILES = (0.25, 0.5, 0.75, 0.9)
NONE_SEGMENT = "(none)"


@dataclass(frozen=True)
class StepSpec:
    matches: tuple[Match, ...]
    window_us: int | None = None
    optional: bool = False


@dataclass(frozen=True)
class ExclusionSpec:
    matches: tuple[Match, ...]
    after: int  # the chain dies if this happens after step ``after`` ...
    before: int  # ... and before step ``before`` is reached


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[StepSpec, ...]
    window_us: int
    mode: FunnelMode = "ordered"
    unit: Unit = "person"
    exclusions: tuple[ExclusionSpec, ...] = ()
    hold: str | None = None
    segment: SegmentSpec | None = None
    start: datetime | None = None
    end: datetime | None = None
    include_bots: bool = False
    timings: bool = True
    strategy: Literal["auto", "chain", "fold", "native", "kernel"] = "auto"
    extra: dict[str, str] = field(default_factory=dict)
    #: the store's integer codes (``microfunnel.store.ddl``): event name -> ``event_code``;
    #: ``None`` when the store keeps none (then ``event`` and ``person_id`` are compared as text)
    event_codes: Mapping[str, int] | None = None

    @property
    def n(self) -> int:
        return len(self.steps)

    def steps_overlap(self) -> bool:
        names = [m.event for s in self.steps for m in s.matches]
        return len(names) != len(set(names))

    def chain_ok(self) -> bool:
        return (
            self.mode == "ordered"
            and self.unit != "total"
            and not self.exclusions
            and not any(s.optional for s in self.steps)
            and not self.steps_overlap()
        )

    def native_ok(self, dialect: Dialect) -> bool:
        return (
            dialect.has_native_funnel
            and self.chain_ok()
            and self.segment is None
            and not self.timings
            and all(s.window_us is None for s in self.steps)
        )

    def kernel_ok(self) -> bool:
        """Questions ``microfunnel.query.funnel_kernel`` answers: counts of a level chain per
        person (integer keys), one window, no hold."""
        return (
            self.chain_ok()
            and self.unit == "person"
            and self.event_codes is not None
            and self.hold is None
            and not self.timings
            and all(s.window_us is None for s in self.steps)
        )

    def resolved_strategy(self, dialect: Dialect) -> str:
        if self.strategy == "kernel" and not self.kernel_ok():
            raise ValueError("the kernel answers counts-only ordered funnels per person only")
        if self.strategy != "auto":
            return self.strategy
        if self.native_ok(dialect):
            return "native"
        if self.kernel_ok():
            return "kernel"
        return "chain" if self.chain_ok() else "fold"

    def sql_strategy(self, dialect: Dialect) -> str:
        """The strategy that says the question in one SQL query: the kernel's is the chain."""
        strategy = self.resolved_strategy(dialect)
        return "chain" if strategy == "kernel" else strategy


def _unit_sql(spec: FunnelSpec) -> str:
    if spec.unit == "session":
        return "concat(person_id, '/', coalesce(session_id, ''))"
    return "person_id" if spec.event_codes is None else "person_key"


def _fragment(matches: tuple[Match, ...], d: Dialect, spec: FunnelSpec) -> Fragment:
    return Fragment.build(lambda q: any_sql(matches, d, q, spec.event_codes))


def _relevant_sql(spec: FunnelSpec, conds: list[Fragment], p: Params) -> str:
    """Only events some step or exclusion matches: an integer ``IN`` where codes are known (a
    filter the scan applies before reading other columns), then the full conditions if needed."""
    matches = [m for s in spec.steps for m in s.matches]
    matches += [m for x in spec.exclusions for m in x.matches]
    codes = spec.event_codes
    anyof = lambda: "(" + " OR ".join(p.place(c) for c in conds) + ")"  # noqa: E731
    if codes is None or any(m.event not in codes for m in matches):
        return anyof()
    # Literals, not parameters: the codes are the store's integers, and a scan filters on them.
    wanted = ", ".join(str(int(c)) for c in sorted({codes[m.event] for m in matches}))
    coded = f"event_code IN ({wanted})"
    return f"{coded} AND {anyof()}" if any(m.filters for m in matches) else coded


def events_cte(spec: FunnelSpec, d: Dialect, p: Params, *, all_events: bool) -> str:
    """Rows of the unit's events in range: unit, hold value, time, step mask, kill mask, segment.

    ``o`` orders events at equal times: step ``k`` is ``2k``, an exclusion guarding step ``b``
    is ``2b - 1`` (before it), anything else comes last.
    """
    n = spec.n
    steps = [_fragment(s.matches, d, spec) for s in spec.steps]
    excls = [_fragment(x.matches, d, spec) for x in spec.exclusions]
    mask = d.bit_or(
        [f"(CASE WHEN {p.place(c)} THEN {1 << k} ELSE 0 END)" for k, c in enumerate(steps)]
    )
    kill = d.bit_or(
        [
            f"(CASE WHEN {p.place(c)} THEN {sum(1 << k for k in range(x.after, x.before))} "
            "ELSE 0 END)"
            for x, c in zip(spec.exclusions, excls, strict=True)
        ]
    )
    order = " ".join(f"WHEN {p.place(c)} THEN {2 * k}" for k, c in enumerate(steps))
    order += "".join(
        f" WHEN {p.place(c)} THEN {2 * x.before - 1}"
        for x, c in zip(spec.exclusions, excls, strict=True)
    )
    hold = f"coalesce({d.to_text(property_sql(spec.hold, d))}, '')" if spec.hold else "''"
    seg = segment_event_sql(spec.segment, d, p) if spec.segment else "NULL"
    where = time_range_sql(spec.start, spec.end, spec.include_bots, p)
    if not all_events:
        where += " AND " + _relevant_sql(spec, steps + excls, p)
    if spec.hold:
        where += f" AND {property_sql(spec.hold, d)} IS NOT NULL"
    return (
        f"SELECT {_unit_sql(spec)} AS u, {hold} AS h, {d.epoch_us('timestamp')} AS ts, "
        f"{mask} AS m, {kill} AS x, CASE {order} ELSE {2 * n} END AS o, "
        f"coalesce({seg}, '{NONE_SEGMENT}') AS g "
        f"FROM events WHERE {where}"
    )


# ---- the level chain ---------------------------------------------------------------------------


def _chain_units(spec: FunnelSpec, d: Dialect, p: Params) -> str:
    n, w = spec.n, spec.window_us
    attr = spec.segment.attribution if spec.segment else "first"
    mat = d.materialized
    ctes = [f"ev AS {mat}({events_cte(spec, d, p, all_events=False)})"]

    def seg_at(k: int) -> str:
        if attr == "first" or attr == "last" or attr == k:
            return "g"
        return f"'{NONE_SEGMENT}'"

    # One pass over the first two steps' rows per unit: its first step-0 event (all a unit that
    # goes no further needs) and whether it has a step-1 event (only those enter the windows).
    first = "CASE WHEN o = 0 THEN ts END"
    ctes.append(
        f"per AS {mat}(SELECT u, min({first}) AS t0, {d.arg_min('g', first)} AS g, "
        "max(CASE WHEN o = 2 THEN 1 ELSE 0 END) AS s1 FROM ev WHERE o <= 2 GROUP BY u)"
    )
    ctes.append(
        f"c0 AS (SELECT u, h, ts, ts AS t0, {seg_at(0)} AS g FROM ev WHERE o = 0 "
        "AND u IN (SELECT u FROM per WHERE s1 = 1))"
    )
    part = "u, h" if spec.hold else "u"  # without a hold, h is '' everywhere
    window = f"PARTITION BY {part} ORDER BY ts, o ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    for k in range(1, n):
        prev_t = [f"t{j}" for j in range(k)]
        nulls = ", ".join(f"{d.null_int()} AS t{j}" for j in range(k))
        # Pruning: only units with rows at both levels can move on, so each pass sorts the
        # few units that reached the step, not every unit that entered the funnel.
        have = (
            "(SELECT u FROM per WHERE s1 = 1 AND t0 IS NOT NULL)"
            if k == 1
            else f"(SELECT u FROM c{k - 1})"
        )
        prune = "" if k == 1 else f"WHERE u IN (SELECT u FROM ev WHERE o = {2 * k}) "
        union = (
            f"SELECT u, h, ts, {2 * (k - 1)} AS o, {', '.join(prev_t)}, g AS pg, g FROM c{k - 1} "
            f"{prune}UNION ALL SELECT u, h, ts, o, {nulls}, {d.null_text()} AS pg, g "
            f"FROM ev WHERE o = {2 * k} AND u IN {have}"
        )
        lasts = ", ".join(f"{d.last_non_null(f't{j}')} OVER w AS p{j}" for j in range(k))
        step_w = spec.steps[k].window_us
        conds = [f"o = {2 * k}", "p0 IS NOT NULL", f"ts - p0 <= {w}"]
        if step_w is not None:
            conds.append(f"ts - p{k - 1} <= {int(step_w)}")
        g = "g" if (attr == "last" or attr == k) else "pg"
        cols = ", ".join(f"p{j} AS t{j}" for j in range(k))
        ctes.append(
            f"c{k} AS {mat}(SELECT u, h, ts, {cols}, ts AS t{k}, {g} AS g FROM ("
            f"SELECT u, h, ts, o, g, {lasts}, {d.last_non_null('pg')} OVER w AS pg "
            f"FROM ({union}) WINDOW w AS ({window})) WHERE {' AND '.join(conds)})"
        )
    # level 0 per unit: its first step-0 event; higher levels: the first row at the top level.
    minus = d.cast_int("-1")
    tcols = lambda k: ", ".join(f"t{j}" if j <= k else f"{minus} AS t{j}" for j in range(n))  # noqa: E731
    l0_rest = "".join(f", {minus} AS b{j}" for j in range(1, n))
    bs = ", ".join(f"t{j} AS b{j}" for j in range(n))
    ups = " UNION ALL ".join(
        f"SELECT u, h, ts, {k + 1} AS lvl, {tcols(k)}, g FROM c{k}" for k in range(1, n)
    )
    ctes.append(
        f"hi AS {mat}(SELECT u, lvl, {bs}, g FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY u ORDER BY lvl DESC, ts{', h' if spec.hold else ''}) AS rn "
        f"FROM ({ups})) WHERE rn = 1)"
    )
    ctes.append(
        f"units AS {mat}(SELECT * FROM hi UNION ALL SELECT u, 1 AS lvl, t0 AS b0{l0_rest}, "
        f"{'g' if attr in ('first', 'last', 0) else repr(NONE_SEGMENT)} AS g "
        "FROM per WHERE t0 IS NOT NULL AND u NOT IN (SELECT u FROM hi))"
    )
    return ",\n".join(ctes)


# ---- the native fast path (ClickHouse windowFunnel) ---------------------------------------------


def _native_units(spec: FunnelSpec, d: Dialect, p: Params) -> str:
    conds = [f"bitAnd(m, {1 << k}) != 0" for k in range(spec.n)]
    wf = d.window_funnel(spec.window_us, "ts", conds)
    bs = ", ".join(f"-1 AS b{j}" for j in range(spec.n))
    return (
        f"ev AS ({events_cte(spec, d, p, all_events=False)}),\n"
        f"per AS (SELECT u, h, {wf} AS wl FROM ev GROUP BY u, h),\n"
        f"units AS (SELECT u, max(wl) AS lvl, {bs}, '{NONE_SEGMENT}' AS g "
        f"FROM per GROUP BY u HAVING max(wl) > 0)"
    )


# ---- final aggregation ---------------------------------------------------------------------------


def _counts_by_segment(spec: FunnelSpec, units: str, counts: str, p: Params) -> str:
    """Counts only (they add up): count per segment first, then fold small segments into
    Other and sum the whole funnel from those few rows, not from every unit again."""
    assert spec.segment is not None
    sums = ", ".join(f"sum(n{k}) AS n{k}" for k in range(spec.n))
    body = f"{units},\nseg AS (SELECT g, count(*) AS units_n, {counts} FROM units GROUP BY g)"
    source, seg = "seg", "g"
    if spec.segment.top_n is not None:
        body += (
            f",\nranked AS (SELECT *, CASE WHEN rk <= {p.add(int(spec.segment.top_n))} THEN g "
            f"ELSE '{OTHER}' END AS g2 FROM "
            "(SELECT *, row_number() OVER (ORDER BY units_n DESC, g) AS rk FROM seg) r)"
        )
        source, seg = "ranked", "g2"
    return (
        f"WITH {body}\nSELECT * FROM (SELECT 1 AS is_all, '' AS segment, {sums} FROM seg "
        f"UNION ALL SELECT 0 AS is_all, {seg} AS segment, {sums} FROM {source} GROUP BY {seg}) "
        "ORDER BY is_all DESC, n0 DESC, segment"
    )


def _aggregate(spec: FunnelSpec, d: Dialect, units: str, p: Params) -> str:
    quantiles = spec.timings and spec.mode != "any" and spec.unit != "total" and spec.n > 1
    cols = []
    for k, step in enumerate(spec.steps):
        reached = f"b{k} >= 0" if step.optional else f"lvl >= {k + 1}"
        if spec.unit == "total":
            cols.append(f"sum(n{k}) AS n{k}")
        else:
            cols.append(f"sum(CASE WHEN {reached} THEN 1 ELSE 0 END) AS n{k}")
    if spec.segment is not None and not quantiles:
        return _counts_by_segment(spec, units, ", ".join(cols), p)
    body = units
    source, seg = "units", "g"
    if spec.segment is not None and spec.segment.top_n is not None:
        body += ",\n" + top_n_sql("units", "ranked", spec.segment.top_n, p)
        source, seg = "ranked", "g2"
    for k in range(spec.n - 1, 0, -1):
        if quantiles:
            prev = "CASE " + " ".join(f"WHEN b{j} >= 0 THEN b{j}" for j in range(k - 1, -1, -1))
            gap = f"CASE WHEN b{k} >= 0 THEN ({prev} END - b{k}) * -1.0 / 1000000 END"
            cols.insert(k + 1, f"{d.quantiles(gap, QUANTILES)} AS q{k}")
    select = ", ".join(cols)
    if spec.segment is None:
        return f"WITH {body}\nSELECT 1 AS is_all, '' AS segment, {select} FROM {source}"
    return (
        f"WITH {body}\nSELECT * FROM (SELECT 1 AS is_all, '' AS segment, {select} FROM {source} "
        f"UNION ALL SELECT 0 AS is_all, {seg} AS segment, {select} FROM {source} GROUP BY {seg}) "
        "ORDER BY is_all DESC, n0 DESC, segment"
    )


def compile_funnel(spec: FunnelSpec, d: Dialect) -> tuple[str, list[object]]:
    """SQL and parameters; rows ``is_all, segment, n0, q1, n1, ...``: the whole funnel first,
    then each segment, largest first (``q{k}``: quantiles of the time from the previous step)."""
    from microfunnel.query.funnel_fold import fold_units

    p = Params()
    strategy = spec.sql_strategy(d)
    if strategy == "native":
        units = _native_units(spec, d, p)
    elif strategy == "chain":
        units = _chain_units(spec, d, p)
    else:
        units = fold_units(spec, d, p, events_cte=events_cte)
    return _aggregate(spec, d, units, p), p.values


def units_sql(spec: FunnelSpec, d: Dialect, p: Params) -> str:
    """The ``units`` CTEs alone (``u, lvl, b0..b{n-1}, g``) for analyses built on a funnel."""
    from microfunnel.query.funnel_fold import fold_units

    if spec.sql_strategy(d) == "chain":
        return _chain_units(spec, d, p)
    return fold_units(spec, d, p, events_cte=events_cte)


def step_columns(spec: FunnelSpec) -> Sequence[str]:
    out = []
    for k in range(spec.n):
        out.append(f"n{k}")
        if spec.timings and k > 0 and spec.mode != "any" and spec.unit != "total":
            out.append(f"q{k}")
    return out
