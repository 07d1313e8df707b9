"""Trends: the daily or weekly rate of a micro-conversion, its change, and drop alerts.

The rate is persons doing ``event`` among active persons (or among persons doing ``among``, for
a funnel step), counted per local calendar day in ``tz``: days follow the wall clock, so a DST
change gives a 23- or 25-hour day rather than shifting every boundary by an hour. The latest
``compare_days`` are compared with the ``compare_days`` before them (two-proportion z-test on
distinct persons), and :func:`~microfunnel.analytics.alerts.detect_drops` flags the day a rate
fell beyond noise, so a broken ``add_to_cart`` tag is seen before revenue falls.

Example::

    t = trend(store, "add_to_cart", tz="Europe/Berlin", where={"device": "desktop"})
    for alert in t.alerts:
        print(alert.began, alert.relative_change)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from microfunnel.analytics.alerts import RULE, DropAlert, detect_drops
from microfunnel.analytics.scope import (
    check_events,
    check_tz,
    check_where,
    last_local_day,
    utc_range,
)
from microfunnel.errors import QueryError
from microfunnel.query.scope import EventScope
from microfunnel.query.trends import DAY, PERIOD, WEEK, trend_rates_sql
from microfunnel.stats.frequentist import EffectResult, z_test_proportions
from microfunnel.stats.suffstats import ProportionStats

__all__ = ["PeriodChange", "RatePoint", "Trend", "trend", "trends"]

Interval = Literal["day", "week"]


@dataclass(frozen=True)
class RatePoint:
    """One day's or week's rate. ``days`` is how many days of the range the period covers: a
    week cut by the range's start or end has fewer than 7, and its rate is not comparable with
    a whole week's (fewer days, fewer and different active people)."""

    period: date
    active: int
    converted: int
    rate: float
    days: int = 1


@dataclass(frozen=True)
class PeriodChange:
    """The latest days against the same number of days before them."""

    current_start: date
    current_end: date
    previous_start: date
    previous_end: date
    current: ProportionStats
    previous: ProportionStats
    test: EffectResult


@dataclass(frozen=True)
class Trend:
    event: str
    among: str | None
    interval: Interval
    tz: str
    start: date
    end: date
    where: dict[str, str]
    points: tuple[RatePoint, ...]
    change: PeriodChange | None
    alerts: tuple[DropAlert, ...]
    alert_rule: str


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def trend(
    store: Any,
    event: str,
    *,
    among: str | None = None,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    interval: Interval = "day",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
    compare_days: int = 7,
    baseline_days: int = 14,
    alpha: float = 0.05,
) -> Trend:
    """The rate of ``event`` per day or week from ``start`` to ``end`` (local days, inclusive).

    ``end`` defaults to the last day with data, ``start`` to 27 days before ``end``. Alerts are
    computed on daily rates (``interval`` only changes the points reported).
    """
    return trends(
        store, [event], among=among, start=start, end=end, tz=tz, interval=interval,
        where=where, include_bots=include_bots, compare_days=compare_days,
        baseline_days=baseline_days, alpha=alpha,
    )[event]  # fmt: skip


def trends(
    store: Any,
    events: Sequence[str],
    *,
    among: str | None = None,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    interval: Interval = "day",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
    compare_days: int = 7,
    baseline_days: int = 14,
    alpha: float = 0.05,
) -> dict[str, Trend]:
    """:func:`trend` for each of ``events`` over the same range, from one scan of the data
    (event -> trend, in the order given)."""
    if interval not in ("day", "week"):
        raise QueryError(f"interval must be `day` or `week`, not `{interval}`.", field="interval")
    if compare_days < 1:
        raise QueryError("compare_days must be at least 1.", field="compare_days")
    filters = check_where(where)
    check_tz(tz)
    check_events(store, [*events, among])
    end = end or last_local_day(store, tz, EventScope(where=filters, include_bots=include_bots))
    start = start or end - timedelta(days=27)
    since, until = utc_range(start, end, tz)
    current_start = end - timedelta(days=compare_days - 1)
    previous_start = current_start - timedelta(days=compare_days)
    compared = previous_start >= start
    names = list(dict.fromkeys(events))
    sql, params = trend_rates_sql(
        store.dialect, events=names, among=among, tz=tz, since=since, until=until,
        current_start=current_start if compared else None,
        previous_start=previous_start if compared else None,
        where=filters, include_bots=include_bots,
    )  # fmt: skip
    rows: dict[int, dict[date, dict[str, Any]]] = {DAY: {}, WEEK: {}, PERIOD: {}}
    for r in store.query(sql, params).to_pylist():
        rows[int(r["kind"])][_as_date(r["bucket"])] = r
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    out: dict[str, Trend] = {}
    for i, event in enumerate(names):
        column = f"c{i}"
        daily = [_counts(rows[DAY].get(d), column) for d in days]
        if interval == "day":
            points = tuple(_point(d, *c) for d, c in zip(days, daily, strict=True))
        else:
            points = tuple(
                _point(w, *_counts(rows[WEEK][w], column), days=_days_in(w, start, end))
                for w in sorted(rows[WEEK])
            )
        alerts = detect_drops(
            days, [c[0] for c in daily], [c[1] for c in daily], baseline_days=baseline_days
        )
        change = None
        if compared:
            previous = ProportionStats(*_counts(rows[PERIOD].get(previous_start), column))
            current = ProportionStats(*_counts(rows[PERIOD].get(current_start), column))
            change = PeriodChange(
                current_start, end, previous_start, current_start - timedelta(days=1), current,
                previous, z_test_proportions(previous, current, alpha=alpha),
            )  # fmt: skip
        out[event] = Trend(
            event, among, interval, tz, start, end, filters, points, change, alerts,
            RULE.format(k=1.0, h=4.0, shewhart=4.0),
        )  # fmt: skip
    return out


def _counts(row: dict[str, Any] | None, column: str) -> tuple[int, int]:
    return (0, 0) if row is None else (int(row["active"]), int(row[column]))


def _point(day: date, active: int, converted: int, *, days: int = 1) -> RatePoint:
    return RatePoint(day, active, converted, converted / active if active else 0.0, days)


def _days_in(week: date, start: date, end: date) -> int:
    """Days of the week starting ``week`` that lie in ``start`` .. ``end`` (inclusive)."""
    first, last = max(week, start), min(week + timedelta(days=6), end)
    return max((last - first).days + 1, 0)
