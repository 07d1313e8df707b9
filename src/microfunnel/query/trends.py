"""SQL for rates over time: persons doing an event among active persons, per local day or week.

One scan of ``events`` answers every event of a trend (the Overview follows eight): it groups
the events once by (local day, person) into one 0/1 flag per event, then derives the daily
rates, the weekly rates (a person counts once per week) and the two compared periods from that
small table, so a trend costs one pass over the data whatever the number of events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from microfunnel.query.scope import event_filter, local_day, week_start

__all__ = ["DAY", "PERIOD", "WEEK", "trend_rates_sql"]

DAY, WEEK, PERIOD = 0, 1, 2
"""Row kinds of :func:`trend_rates_sql`."""


def _date(value: date) -> str:
    return f"CAST('{value.isoformat()}' AS DATE)"


def trend_rates_sql(
    dialect: Any,
    *,
    events: Sequence[str],
    among: str | None,
    tz: str,
    since: datetime | None,
    until: datetime | None,
    current_start: date | None = None,
    previous_start: date | None = None,
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> tuple[str, list[Any]]:
    """Rows ``(kind, bucket DATE, active, c0, c1, ...)`` in no particular order, one ``c<i>``
    per event in ``events``.

    ``kind`` :data:`DAY` rows have one local day per bucket, :data:`WEEK` rows the Monday of a
    week; with ``current_start`` and ``previous_start``, :data:`PERIOD` rows have bucket
    ``previous_start`` for the days before ``current_start`` and ``current_start`` from it on.
    ``active`` is persons with any event (or with ``among``) in the bucket; ``c<i>`` those of
    them who also did ``events[i]`` in the same bucket.
    """
    cond, params = event_filter(since=since, until=until, where=where, include_bots=include_bots)
    flags = [f"e{i}" for i in range(len(events))]
    did = [f"    max(CASE WHEN event = ? THEN 1 ELSE 0 END) AS {f},\n" for f in flags]
    base = "1" if among is None else "CASE WHEN event = ? THEN 1 ELSE 0 END"
    head = [*events, *([] if among is None else [among])]
    sums = "".join(f", CAST(sum({f} * base) AS BIGINT) AS c{i}" for i, f in enumerate(flags))
    maxes = "".join(f"max({f}) AS {f}, " for f in flags)

    def regroup(bucket: str, kind: int, filter_: str = "") -> str:
        return (
            f"SELECT {kind} AS kind, bucket, CAST(sum(base) AS BIGINT) AS active{sums}\n"
            f"FROM (SELECT {bucket} AS bucket, person_id, {maxes}max(base) AS base\n"
            f"  FROM per_day{filter_} GROUP BY bucket, person_id) AS g\n"
            "GROUP BY bucket"
        )

    parts = [
        f"SELECT {DAY} AS kind, day AS bucket, CAST(sum(base) AS BIGINT) AS active{sums}\n"
        "FROM per_day GROUP BY day",
        regroup(week_start(dialect, "day"), WEEK),
    ]
    if current_start is not None and previous_start is not None:
        now, before = _date(current_start), _date(previous_start)
        parts.append(
            regroup(
                f"CASE WHEN day >= {now} THEN {now} ELSE {before} END",
                PERIOD,
                f" WHERE day >= {before}",
            )
        )
    sql = (
        f"WITH per_day AS {dialect.materialized}(\n"
        f"  SELECT {local_day(dialect, 'timestamp', tz)} AS day, person_id,\n"
        f"{''.join(did)}"
        f"    max({base}) AS base\n"
        f"  FROM events WHERE {cond}\n"
        "  GROUP BY day, person_id\n"
        ")\n" + "\nUNION ALL\n".join(parts)
    )
    return sql, [*head, *params]
