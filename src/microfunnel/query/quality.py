"""SQL for data quality: volumes per day and name, missing parameters, quarantine, bots, skew."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from microfunnel.query.scope import EventScope, local_day, seconds_between

__all__ = [
    "EARLIEST_SKEW",
    "LATEST_SKEW",
    "missing_sql",
    "overview_sql",
    "quarantine_sql",
    "skew_sql",
    "volume_sql",
]

# Arrival delays (received_at - timestamp, seconds) are clipped to these bounds.
EARLIEST_SKEW = 3600  # an hour ahead: a client clock running fast
LATEST_SKEW = 86400  # a day late: a backfill or an app offline for long


def volume_sql(dialect: Any, tz: str, scope: EventScope) -> tuple[str, list[Any]]:
    """Rows ``(day, event, events)``."""
    cond, params = scope.condition()
    day = local_day(dialect, "timestamp", tz)
    return (
        f"SELECT {day} AS day, CAST(event AS VARCHAR) AS event, CAST(count(*) AS BIGINT) AS events"
        f" FROM events WHERE {cond} GROUP BY day, event",
        params,
    )


def missing_sql(
    dialect: Any, event: str, keys: Sequence[str], scope: EventScope
) -> tuple[str, list[Any]]:
    """One row: ``events`` of ``event`` and ``m0..mK`` how many lack each property key."""
    cond, params = scope.condition()
    cols = ", ".join(
        f"CAST(sum(CASE WHEN {dialect.json_text('properties', key)} IS NULL THEN 1 ELSE 0 END)"
        f" AS BIGINT) AS m{i}"
        for i, key in enumerate(keys)
    )
    return (
        f"SELECT CAST(count(*) AS BIGINT) AS events, {cols} FROM events WHERE {cond} AND event = ?",
        [*params, event],
    )


def overview_sql(scope: EventScope) -> tuple[str, list[Any]]:
    """One row: ``events``, ``bot_events``, ``persons``, ``bot_persons`` (bots included)."""
    cond, params = scope.condition()
    return (
        "SELECT CAST(count(*) AS BIGINT) AS events,\n"
        "  CAST(sum(CASE WHEN is_bot THEN 1 ELSE 0 END) AS BIGINT) AS bot_events,\n"
        "  CAST(count(DISTINCT person_id) AS BIGINT) AS persons,\n"
        "  CAST(count(DISTINCT CASE WHEN is_bot THEN person_id END) AS BIGINT) AS bot_persons\n"
        f"FROM events WHERE {cond}",
        params,
    )


def quarantine_sql(scope: EventScope) -> tuple[str, list[Any]]:
    """One row: quarantined events received in the range (``scope`` filters on received_at)."""
    params: list[Any] = []
    parts = ["1 = 1"]
    if scope.since is not None:
        parts.append("received_at >= ?")
        params.append(scope.since)
    if scope.until is not None:
        parts.append("received_at < ?")
        params.append(scope.until)
    return (
        f"SELECT CAST(count(*) AS BIGINT) AS quarantined FROM quarantine "
        f"WHERE {' AND '.join(parts)}",
        params,
    )


def skew_sql(dialect: Any, scope: EventScope) -> tuple[str, list[Any]]:
    """Rows ``(bucket, events)``: received_at - timestamp in whole seconds, floored, clipped
    to [-EARLIEST_SKEW, LATEST_SKEW] so a few wild clocks cannot blow up the result."""
    cond, params = scope.condition()
    delta = seconds_between(dialect, "timestamp", "received_at")
    return (
        f"SELECT CAST(least(greatest(floor({delta}), {-EARLIEST_SKEW}), {LATEST_SKEW}) AS BIGINT) "
        "AS bucket,\n"
        "  CAST(count(*) AS BIGINT) AS events\n"
        f"FROM events WHERE {cond} GROUP BY bucket",
        params,
    )
