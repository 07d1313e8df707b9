"""Retention: cohorts by the week a person was first seen, and the share doing an event later.

A cohort is every person whose first event falls in a local week (Monday start, in ``tz``).
``shares[k]`` is the share of the cohort that did ``event`` (any event when None) in the k-th
week after (week 0 is the first week). Weeks not yet over at the end of the data are ``None``,
so a young cohort is never read as churned.

Example::

    r = retention(store, event="purchase", weeks=6, tz="Europe/Berlin")
    for c in r.cohorts:
        print(c.week, c.size, c.shares)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from microfunnel.analytics.scope import check_events, check_tz, check_where, last_local_day
from microfunnel.errors import QueryError
from microfunnel.query.retention import retention_sql
from microfunnel.query.scope import EventScope

__all__ = ["Cohort", "Retention", "retention"]


@dataclass(frozen=True)
class Cohort:
    week: date
    size: int
    returning: tuple[int | None, ...]
    shares: tuple[float | None, ...]


@dataclass(frozen=True)
class Retention:
    event: str | None
    tz: str
    weeks: int
    last_day: date
    cohorts: tuple[Cohort, ...]


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def retention(
    store: Any,
    *,
    event: str | None = None,
    weeks: int = 8,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> Retention:
    """Weekly cohorts first seen from ``start`` to ``end`` (local days) and their return rates.

    First-seen is taken over all data, so a person seen before ``start`` is not a new cohort
    member later.
    """
    if not 1 <= weeks <= 52:
        raise QueryError("weeks must be between 1 and 52.", field="weeks")
    check_tz(tz)
    scope = EventScope(where=check_where(where), include_bots=include_bots)
    check_events(store, [event])
    last = last_local_day(store, tz, scope)
    sql, params = retention_sql(store.dialect, event=event, tz=tz, scope=scope)
    sizes: dict[date, int] = {}
    counts: dict[tuple[date, int], int] = {}
    for row in store.query(sql, params).to_pylist():
        cohort, week, persons = _day(row["cohort"]), int(row["week"]), int(row["persons"])
        if week < 0:
            sizes[cohort] = persons
        else:
            counts[(cohort, week)] = persons
    cohorts = []
    for week_start in sorted(sizes):
        if (start and week_start + timedelta(days=6) < start) or (end and week_start > end):
            continue
        size = sizes[week_start]
        over = [week_start + timedelta(weeks=k, days=6) <= last for k in range(weeks + 1)]
        seen = [counts.get((week_start, k), 0) if done else None for k, done in enumerate(over)]
        shares = tuple(None if n is None else n / size for n in seen)
        cohorts.append(Cohort(week_start, size, tuple(seen), shares))
    return Retention(event, tz, weeks, last, tuple(cohorts))
