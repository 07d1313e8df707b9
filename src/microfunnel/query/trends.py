"""SQL for rates over time: persons doing an event among active persons, per local day or week."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from microfunnel.query.scope import event_filter, local_day, week_start

__all__ = ["period_rates_sql", "rates_sql"]


def _rates(
    bucket: str,
    bucket_params: list[Any],
    *,
    event: str,
    among: str | None,
    since: datetime | None,
    until: datetime | None,
    where: Mapping[str, str] | None,
    include_bots: bool,
) -> tuple[str, list[Any]]:
    cond, cond_params = event_filter(
        since=since, until=until, where=where, include_bots=include_bots
    )
    base = "1" if among is None else "CASE WHEN event = ? THEN 1 ELSE 0 END"
    base_params = [] if among is None else [among]
    sql = (
        "WITH per_person AS (\n"
        f"  SELECT {bucket} AS bucket, person_id,\n"
        "    max(CASE WHEN event = ? THEN 1 ELSE 0 END) AS did,\n"
        f"    max({base}) AS base\n"
        f"  FROM events WHERE {cond}\n"
        "  GROUP BY bucket, person_id\n"
        ")\n"
        "SELECT bucket, CAST(sum(base) AS BIGINT) AS active,\n"
        "  CAST(sum(did * base) AS BIGINT) AS converted\n"
        "FROM per_person GROUP BY bucket ORDER BY bucket"
    )
    return sql, [*bucket_params, event, *base_params, *cond_params]


def rates_sql(
    dialect: Any,
    *,
    event: str,
    among: str | None,
    tz: str,
    interval: Literal["day", "week"],
    since: datetime | None,
    until: datetime | None,
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> tuple[str, list[Any]]:
    """Rows ``(bucket DATE, active, converted)``: a person counts once per bucket.

    ``active`` is persons with any event (or with ``among``) in the bucket; ``converted`` those of
    them who also did ``event`` in the same bucket.
    """
    day = local_day(dialect, "timestamp", tz)
    bucket = day if interval == "day" else week_start(dialect, day)
    return _rates(
        bucket, [], event=event, among=among, since=since, until=until, where=where,
        include_bots=include_bots,
    )  # fmt: skip


def period_rates_sql(
    *,
    event: str,
    among: str | None,
    split: datetime,
    since: datetime,
    until: datetime,
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> tuple[str, list[Any]]:
    """Rows ``(bucket, active, converted)`` with bucket 0 before ``split`` and 1 from it on."""
    return _rates(
        "CASE WHEN timestamp >= ? THEN 1 ELSE 0 END", [split], event=event, among=among,
        since=since, until=until, where=where, include_bots=include_bots,
    )  # fmt: skip
