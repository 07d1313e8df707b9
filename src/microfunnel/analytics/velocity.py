"""How fast people shop: actions per minute per segment, and time to convert as survival data.

Time to convert treats a funnel entrant who has not reached the last step as *censored* at the
window (or at the end of the data), not as a failure, and summarises each segment with a
Kaplan-Meier curve (:mod:`microfunnel.stats.survival`). The engine returns small per-second
counts; the curves are computed here from them.

>>> # velocity(store, by=Breakdown("device")).segments[0].median
>>> # time_to_convert(store, [Step("add_to_cart"), Step("purchase")], breakdown=Breakdown("device"))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from microfunnel.analytics.funnel import build_spec
from microfunnel.analytics.funnel_spec import (
    Behaviour,
    Breakdown,
    Checker,
    Step,
    segment_spec,
    to_utc,
)
from microfunnel.errors import QueryError
from microfunnel.query.velocity import time_to_convert_sql, velocity_sql
from microfunnel.stats.suffstats import MeanStats
from microfunnel.stats.survival import KaplanMeier, kaplan_meier_from_counts
from microfunnel.store.base import Store

__all__ = [
    "ConvertTime",
    "SegmentVelocity",
    "TimeToConvert",
    "Velocity",
    "time_to_convert",
    "velocity",
]


@dataclass(frozen=True)
class SegmentVelocity:
    """Sessions of a segment and their actions per minute (events after the first per minute
    of session span); ``single`` sessions had one event and no span."""

    segment: str
    sessions: int
    single: int
    stats: MeanStats
    p25: float | None
    median: float | None
    p75: float | None

    @property
    def mean(self) -> float:
        return self.stats.mean


@dataclass(frozen=True)
class Velocity:
    segments: tuple[SegmentVelocity, ...]
    overall: MeanStats


def _f(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)


def _segment(
    store: Store, by: Breakdown | Behaviour | None, start: datetime | None, end: datetime | None
) -> Any:
    return None if by is None else segment_spec(by, Checker(store), start, end)


def velocity(
    store: Store,
    *,
    by: Breakdown | Behaviour | None = None,
    start: datetime | date | None = None,
    end: datetime | date | None = None,
    tz: str = "UTC",
    include_bots: bool = False,
) -> Velocity:
    """Actions per minute per segment (of each session's first event), largest segment first."""
    t0, t1 = to_utc(start, tz), to_utc(end, tz)
    sql, params = velocity_sql(
        _segment(store, by, t0, t1), store.dialect, start=t0, end=t1, include_bots=include_bots
    )
    out = []
    for row in store.query(sql, params).to_pylist():
        q = row["q"] or [None, None, None]
        stats = MeanStats(int(row["n"]), float(row["s"] or 0.0), float(row["ss"] or 0.0))
        out.append(
            SegmentVelocity(
                segment=str(row["g"]),
                sessions=int(row["sessions"]),
                single=int(row["single"]),
                stats=stats,
                p25=_f(q[0]) if stats.n else None,
                median=_f(q[1]) if stats.n else None,
                p75=_f(q[2]) if stats.n else None,
            )
        )
    overall = MeanStats(0, 0.0, 0.0)
    for seg in out:
        overall = overall + seg.stats
    return Velocity(tuple(out), overall)


@dataclass(frozen=True)
class ConvertTime:
    """Time to convert in one segment: entrants, conversions seen, the Kaplan-Meier curve and
    its median (seconds; ``None`` while fewer than half have converted)."""

    segment: str
    entrants: int
    converted: int
    median_seconds: float | None
    curve: KaplanMeier | None


@dataclass(frozen=True)
class TimeToConvert:
    steps: tuple[str, ...]
    window_seconds: float
    overall: ConvertTime
    segments: tuple[ConvertTime, ...]


def _convert_time(segment: str, rows: Sequence[tuple[int, int, int]]) -> ConvertTime:
    converted = sum(r[1] for r in rows)
    entrants = converted + sum(r[2] for r in rows)
    if not converted:
        return ConvertTime(segment, entrants, 0, None, None)
    km = kaplan_meier_from_counts([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    median = next((t for t, s in zip(km.times, km.survival, strict=True) if s <= 0.5), None)
    return ConvertTime(segment, entrants, converted, median, km)


def time_to_convert(
    store: Store,
    steps: Sequence[Step],
    *,
    window: timedelta = timedelta(days=1),
    unit: str = "person",
    breakdown: Breakdown | Behaviour | None = None,
    **options: Any,
) -> TimeToConvert:
    """Seconds from a funnel's first step to its last, entrants who never got there censored.

    Options are those of :func:`~microfunnel.analytics.funnel.build_spec` (mode ``ordered``).
    """
    if unit not in ("person", "session"):
        raise QueryError(
            "time to convert counts persons or sessions: use unit 'person' or 'session'"
        )
    spec = build_spec(store, steps, window=window, unit=unit, breakdown=breakdown, **options)  # type: ignore[arg-type]
    if spec.mode == "any":
        raise QueryError("time to convert needs an ordered or strict funnel, not 'any'")
    sql, params = time_to_convert_sql(spec, store.dialect)
    per: dict[str, dict[int, list[int]]] = {}
    for row in store.query(sql, params).to_pylist():
        by_t = per.setdefault(str(row["g"]), {})
        cell = by_t.setdefault(int(row["secs"]), [0, 0])
        cell[0] += int(row["converted"])
        cell[1] += int(row["censored"])
    total: dict[int, list[int]] = {}
    for by_t in per.values():
        for t, (c, x) in by_t.items():
            cell = total.setdefault(t, [0, 0])
            cell[0] += c
            cell[1] += x

    def rows(by_t: dict[int, list[int]]) -> list[tuple[int, int, int]]:
        return [(t, c, x) for t, (c, x) in sorted(by_t.items())]

    segments = tuple(
        sorted(
            (_convert_time(g, rows(by_t)) for g, by_t in per.items()),
            key=lambda c: (-c.entrants, c.segment),
        )
    )
    return TimeToConvert(
        steps=tuple(s.name for s in steps),
        window_seconds=spec.window_us / 1e6,
        overall=_convert_time("", rows(total)),
        segments=segments if breakdown is not None else (),
    )
