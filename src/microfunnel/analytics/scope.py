"""What an analysis looks at: checked event names, a local date range, a time zone.

Shared by every analysis so a bad question fails the same way everywhere: an unknown event
name suggests the closest known names; an unknown time zone or filter says what is accepted.

>>> utc_range(date(2024, 3, 31), date(2024, 3, 31), "Europe/Berlin")
(datetime.datetime(2024, 3, 30, 23, 0), datetime.datetime(2024, 3, 31, 22, 0))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from microfunnel.errors import QueryError
from microfunnel.hints import close_names
from microfunnel.query.scope import LIFTED_COLUMNS, EventScope, last_timestamp_sql

__all__ = [
    "ASSOCIATION_NOTE",
    "check_events",
    "check_tz",
    "check_where",
    "last_local_day",
    "suggest",
    "utc_range",
]

ASSOCIATION_NOTE = (
    "These are associations, not causes: shoppers who do an event may differ from those who "
    "do not in ways that also drive purchase. Test a change in an experiment before acting."
)


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean `a`, `b`?)`` for the closest known names, or ``""``."""
    close = close_names(name, known, cutoff=0.5)
    return f" (did you mean {', '.join(f'`{c}`' for c in close)}?)" if close else ""


def check_events(store: Any, names: Iterable[str | None]) -> None:
    """Raise :class:`QueryError` for an event name the store has never seen."""
    known = store.event_names()
    for name in names:
        if name is not None and name not in known:
            raise QueryError(
                f"no event named `{name}` in this project{suggest(name, known)}: "
                "check the spelling, or send the event before analysing it.",
                field="event",
            )


def check_tz(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(
            f"unknown time zone `{tz}`: use an IANA name such as `UTC` or `Europe/Berlin`.",
            field="tz",
        ) from None


def check_where(where: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(where or {})
    for name in out:
        if name not in LIFTED_COLUMNS:
            raise QueryError(
                f"cannot filter on `{name}`{suggest(name, LIFTED_COLUMNS)}: "
                f"filter on one of {', '.join(LIFTED_COLUMNS)}.",
                field="where",
            )
    return out


def _utc_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC).replace(tzinfo=None)


def utc_range(
    start: date | None, end: date | None, tz: str
) -> tuple[datetime | None, datetime | None]:
    """Naive-UTC bounds ``[since, until)`` covering local days ``start..end`` in ``tz``."""
    zone = check_tz(tz)
    if start is not None and end is not None and start > end:
        raise QueryError(f"start {start} is after end {end}: swap them.", field="start")
    since = None if start is None else _utc_midnight(start, zone)
    until = None if end is None else _utc_midnight(end + timedelta(days=1), zone)
    return since, until


def last_local_day(store: Any, tz: str, scope: EventScope) -> date:
    """The local day in ``tz`` of the latest event in scope (the default end of a range)."""
    latest = store.scalar(*last_timestamp_sql(scope))
    if latest is None:
        raise QueryError("no events match: widen the filters, or send events first.")
    aware = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
    return aware.astimezone(check_tz(tz)).date()
