"""Funnels: how many units reach each step, how fast, and where the biggest leak is.

Semantics (ordered mode, one window) are those of ClickHouse ``windowFunnel`` in its default
mode: the window is inclusive and runs from the first step; events at equal times are ordered by
step; a later first step may restart the chain and the best chain counts; other events may come
between steps; exact duplicates change nothing. One difference: one event fills one step of a
chain, so ``view_item -> view_item`` needs two views (``windowFunnel`` lets one view fill both).

Re-entry: with ``unit="person"`` or ``"session"`` a unit counts once, at the furthest step any
of its chains reached; times are those of the first chain to get that far. With
``unit="total"`` every entry counts: a first step opens an entry (replacing an open one that has
not moved on), a chain is used up when it moves on, and a completed entry lets the next first
step start again.

>>> # funnel(store, [Step("view_item"), Step("add_to_cart"), Step("purchase")],
>>> #        window=timedelta(hours=24), breakdown=Breakdown("device"))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from microfunnel.analytics.funnel_spec import (
    Behaviour,
    Breakdown,
    Checker,
    Exclude,
    Step,
    check_steps,
    segment_spec,
    to_utc,
)
from microfunnel.errors import QueryError
from microfunnel.query.funnel import (
    ExclusionSpec,
    FunnelMode,
    FunnelSpec,
    StepSpec,
    Unit,
    compile_funnel,
)
from microfunnel.query.funnel_kernel import kernel_counts, kernel_sql
from microfunnel.store.base import EventCodes, Store

__all__ = [
    "Behaviour",
    "Breakdown",
    "Exclude",
    "FunnelResult",
    "SegmentFunnel",
    "Step",
    "StepResult",
    "build_spec",
    "funnel",
]


@dataclass(frozen=True)
class StepResult:
    """One step: units reaching it, conversion, drop-off and time from the previous step (s)."""

    name: str
    count: int
    conversion_from_start: float
    conversion_from_previous: float
    drop_off: int
    time_p25: float | None = None
    time_median: float | None = None
    time_p75: float | None = None
    time_p90: float | None = None


@dataclass(frozen=True)
class SegmentFunnel:
    segment: str
    steps: tuple[StepResult, ...]


@dataclass(frozen=True)
class FunnelResult:
    steps: tuple[StepResult, ...]
    segments: tuple[SegmentFunnel, ...]
    bottleneck_step: int | None
    bottleneck: str
    unit: str
    mode: str
    window_seconds: float
    strategy: str

    @property
    def conversion(self) -> float:
        return self.steps[-1].conversion_from_start


def build_spec(
    store: Store,
    steps: Sequence[Step],
    *,
    window: timedelta = timedelta(days=1),
    mode: FunnelMode = "ordered",
    unit: Unit = "person",
    exclude: Sequence[Exclude] = (),
    hold: str | None = None,
    breakdown: Breakdown | Behaviour | None = None,
    start: datetime | date | None = None,
    end: datetime | date | None = None,
    tz: str = "UTC",
    include_bots: bool = False,
    timings: bool = True,
) -> FunnelSpec:
    """Validate a funnel question against the store and say it as a :class:`FunnelSpec`."""
    if mode not in ("ordered", "strict", "any"):
        raise QueryError(f"unknown mode {mode!r}: use 'ordered', 'strict' or 'any'", field="mode")
    if unit not in ("person", "session", "total"):
        raise QueryError(f"unknown unit {unit!r}: use 'person', 'session' or 'total'", field="unit")
    if window <= timedelta(0):
        raise QueryError(
            f"the conversion window must be positive, got {window}: e.g. timedelta(hours=24)",
            field="window",
        )
    checker = Checker(store)
    check_steps(steps, checker)
    n = len(steps)
    if mode == "any" and (exclude or any(s.optional or s.window for s in steps)):
        raise QueryError("any-order funnels take no exclusions, optional steps or step windows")
    if unit == "total" and any(s.optional for s in steps):
        raise QueryError("optional steps need unit 'person' or 'session', not 'total'")
    exclusions = []
    for x in exclude:
        checker.event(x.event)
        before = n - 1 if x.before is None else x.before
        if not 0 <= x.after < before <= n - 1:
            raise QueryError(
                f"exclusion of {x.event!r} must sit between two steps: "
                f"0 <= after < before <= {n - 1}"
            )
        for prop in x.where:
            checker.prop(prop, [x.event])
        ex_step = Step(x.event, x.where)
        exclusions.append(ExclusionSpec(ex_step.matches(), x.after, before))
    if hold is not None:
        checker.prop(hold, [e for s in steps for e in s.events])
    t0, t1 = to_utc(start, tz), to_utc(end, tz)
    if t0 is not None and t1 is not None and t1 <= t0:
        raise QueryError(f"the time range is empty: end ({end}) must come after start ({start})")
    segment = segment_spec(breakdown, checker, t0, t1) if breakdown is not None else None
    attribution = segment.attribution if segment is not None else "first"
    if isinstance(attribution, int) and not 0 <= attribution < n:
        raise QueryError(f"attribution step must be between 0 and {n - 1}")
    names = {m.event for s in steps for m in s.matches()} | {
        m.event for x in exclusions for m in x.matches
    }
    codes = store.event_codes(names) if isinstance(store, EventCodes) else None
    return FunnelSpec(
        steps=tuple(
            StepSpec(
                s.matches(),
                None if s.window is None else _us(s.window),
                s.optional,
            )
            for s in steps
        ),
        window_us=_us(window),
        mode=mode,
        unit=unit,
        exclusions=tuple(exclusions),
        hold=hold,
        segment=segment,
        start=t0,
        end=t1,
        include_bots=include_bots,
        timings=timings,
        event_codes=codes,
    )


def _us(value: timedelta) -> int:
    return value // timedelta(microseconds=1)


def funnel(store: Store, steps: Sequence[Step], **options: Any) -> FunnelResult:
    """Count a funnel in the store's engine. Options are those of :func:`build_spec`."""
    spec = build_spec(store, steps, **options)
    names = [s.name for s in steps]
    rows = _rows(store, spec, names)
    overall = [r for is_all, _, r in rows if is_all]
    segments = tuple(SegmentFunnel(seg, r) for is_all, seg, r in rows if not is_all)
    step_rows = overall[0] if overall else _empty(names)
    index, sentence = bottleneck(step_rows, spec.unit)
    return FunnelResult(
        steps=step_rows,
        segments=segments,
        bottleneck_step=index,
        bottleneck=sentence,
        unit=spec.unit,
        mode=spec.mode,
        window_seconds=spec.window_us / 1e6,
        strategy=spec.resolved_strategy(store.dialect),
    )


def _empty(names: list[str]) -> tuple[StepResult, ...]:
    return tuple(StepResult(name, 0, 0.0, 0.0, 0) for name in names)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else round(v, 6)


def _table(store: Store, spec: FunnelSpec) -> pa.Table:
    """The funnel's rows from the store: one SQL query, or the kernel's read and numpy."""
    if spec.resolved_strategy(store.dialect) == "kernel":
        sql, params = kernel_sql(spec, store.dialect)
        return kernel_counts(spec, store.query(sql, params))
    sql, params = compile_funnel(spec, store.dialect)
    return store.query(sql, params)


def _rows(
    store: Store, spec: FunnelSpec, names: list[str]
) -> list[tuple[bool, str, tuple[StepResult, ...]]]:
    table = _table(store, spec)
    out = []
    for row in table.to_pylist():
        counts = [int(row[f"n{k}"] or 0) for k in range(spec.n)]
        steps = []
        for k, name in enumerate(names):
            q = row.get(f"q{k}") if k > 0 else None
            qs = [_num(v) for v in q] if q else [None] * 4
            if counts[k] == 0:
                qs = [None] * 4
            prev = counts[k - 1] if k > 0 else counts[0]
            steps.append(
                StepResult(
                    name=name,
                    count=counts[k],
                    conversion_from_start=counts[k] / counts[0] if counts[0] else 0.0,
                    conversion_from_previous=counts[k] / prev if prev else 0.0,
                    drop_off=max(prev - counts[k], 0),
                    time_p25=qs[0],
                    time_median=qs[1],
                    time_p75=qs[2],
                    time_p90=qs[3],
                )
            )
        out.append((bool(row["is_all"]), str(row["segment"]), tuple(steps)))
    return out


def unit_plural(unit: str) -> str:
    """What a sentence calls many of a funnel's units: people, sessions or entries."""
    return {"person": "people", "session": "sessions", "total": "entries"}.get(unit, unit)


def bottleneck(steps: Sequence[StepResult], unit: str) -> tuple[int | None, str]:
    """The step whose losses cost the most final conversions, and a sentence saying so.

    Units lost at step ``k`` would have converted at the rate of those who made it past ``k``;
    the step with the most conversions lost that way is the bottleneck.
    """
    if not steps or steps[0].count == 0:
        return None, "No one entered the funnel in this range."
    final = steps[-1].count
    best, best_cost = None, -1.0
    for k in range(1, len(steps)):
        lost = steps[k].drop_off
        onward = final / steps[k].count if steps[k].count else 0.0
        cost = lost * (onward if steps[k].count else 1.0)
        if cost > best_cost:
            best, best_cost = k, cost
    if best is None or steps[best].drop_off == 0:
        return None, "No step loses anyone: every entrant reached the last step."
    prev, cur = steps[best - 1], steps[best]
    word = unit_plural(unit)
    return best, (
        f"The biggest leak is {prev.name} -> {cur.name}: {cur.drop_off:,} of {prev.count:,} {word} "
        f"({1 - cur.conversion_from_previous:.0%}) stop there, costing about "
        f"{best_cost:,.0f} {steps[-1].name} conversions."
    )
