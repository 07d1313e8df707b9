"""What every analysis query shares: which events it looks at, and local calendar days.

Filters are built once here: a UTC time range, equality on lifted columns, bots excluded by
default. Calendar pieces (local day, week start, differences) differ per engine, so each is a
small function keyed on ``dialect.name``, to be folded into the dialect classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "LIFTED_COLUMNS",
    "EventScope",
    "days_between",
    "event_filter",
    "in_list",
    "last_timestamp_sql",
    "local_day",
    "seconds_between",
    "week_start",
]

LIFTED_COLUMNS = ("device", "page_path", "utm_source", "utm_medium", "utm_campaign", "source")
"""Event columns an analysis may filter or break down on (lifted out of the JSON context)."""


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (?, ?, ...)``; an empty list matches nothing."""
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


def event_filter(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
    column: str = "timestamp",
) -> tuple[str, list[Any]]:
    """A WHERE condition (never empty) over ``events``: ``since <= column < until`` (naive UTC)."""
    parts: list[str] = []
    params: list[Any] = []
    if not include_bots:
        parts.append("NOT is_bot")
    if since is not None:
        parts.append(f"{column} >= ?")
        params.append(since)
    if until is not None:
        parts.append(f"{column} < ?")
        params.append(until)
    for name, value in sorted((where or {}).items()):
        if name not in LIFTED_COLUMNS:
            raise ValueError(f"cannot filter on {name!r}")
        parts.append(f"{name} = ?")
        params.append(value)
    return (" AND ".join(parts) or "1 = 1"), params


@dataclass(frozen=True)
class EventScope:
    """Which events a query reads: a UTC range, lifted-column filters, bots, excluded names."""

    since: datetime | None = None
    until: datetime | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    include_bots: bool = False
    exclude: Sequence[str] = ()

    def condition(self) -> tuple[str, list[Any]]:
        cond, params = event_filter(
            since=self.since, until=self.until, where=self.where, include_bots=self.include_bots
        )
        if self.exclude:
            inside, names = in_list("event", self.exclude)
            cond += f" AND NOT ({inside})"
            params += names
        return cond, params


def local_day(dialect: Any, column: str, tz: str) -> str:
    """The calendar day of a UTC timestamp in ``tz`` (validated by the caller), DST-safe.

    Timestamps are stored as naive UTC, so in UTC the day is a plain cast (DuckDB's time zone
    conversion costs about a second per ten million rows).
    """
    zone = dialect.literal(tz)
    if dialect.name == "clickhouse":
        return f"toDate({column}, {zone})"
    if tz == "UTC":
        return f"CAST({column} AS DATE)"
    return f"CAST(timezone({zone}, {column} AT TIME ZONE 'UTC') AS DATE)"


def week_start(dialect: Any, day: str) -> str:
    """The Monday starting the ISO week of a DATE expression."""
    if dialect.name == "clickhouse":
        return f"toMonday({day})"
    return f"CAST(date_trunc('week', {day}) AS DATE)"


def days_between(dialect: Any, first: str, second: str) -> str:
    """Whole days from DATE ``first`` to DATE ``second``."""
    if dialect.name == "clickhouse":
        return f"dateDiff('day', {first}, {second})"
    return f"date_diff('day', {first}, {second})"


def seconds_between(dialect: Any, first: str, second: str) -> str:
    """Seconds (fractional, microsecond precision) from timestamp ``first`` to ``second``."""
    if dialect.name == "clickhouse":
        return f"dateDiff('microsecond', {first}, {second}) / 1000000.0"
    return f"date_diff('microsecond', {first}, {second}) / 1000000.0"


def last_timestamp_sql(scope: EventScope) -> tuple[str, list[Any]]:
    """The latest event time in scope (one row, one column)."""
    cond, params = scope.condition()
    return f"SELECT max(timestamp) FROM events WHERE {cond}", params
