"""SQL for retention: persons by local week first seen, and the weeks they came back."""

from __future__ import annotations

from typing import Any

from microfunnel.query.scope import EventScope, days_between, local_day, week_start

__all__ = ["retention_sql"]


def retention_sql(
    dialect: Any, *, event: str | None, tz: str, scope: EventScope
) -> tuple[str, list[Any]]:
    """Rows ``(cohort DATE, week BIGINT, persons BIGINT)``.

    ``week`` is the number of weeks after the cohort's week (0 = the first week); ``week = -1``
    rows hold each cohort's size. ``event`` None counts any event as a return.
    """
    cond, params = scope.condition()
    day = local_day(dialect, "timestamp", tz)
    did = "1 = 1" if event is None else "event = ?"
    offset = days_between(dialect, "f.cohort", "a.week")
    sql = (
        "WITH scoped AS (\n"
        f"  SELECT person_id, event, {day} AS day FROM events WHERE {cond}\n"
        "),\n"
        "firsts AS (\n"
        f"  SELECT person_id, {week_start(dialect, 'min(day)')} AS cohort\n"
        "  FROM scoped GROUP BY person_id\n"
        "),\n"
        "acts AS (\n"
        f"  SELECT DISTINCT person_id, {week_start(dialect, 'day')} AS week\n"
        f"  FROM scoped WHERE {did}\n"
        ")\n"
        f"SELECT f.cohort AS cohort, CAST({offset} / 7 AS BIGINT) AS week,\n"
        "  CAST(count(*) AS BIGINT) AS persons\n"
        "FROM firsts AS f JOIN acts AS a ON f.person_id = a.person_id\n"
        "GROUP BY f.cohort, a.week\n"
        "UNION ALL\n"
        "SELECT cohort, CAST(-1 AS BIGINT) AS week, CAST(count(*) AS BIGINT) AS persons\n"
        "FROM firsts GROUP BY cohort"
    )
    return sql, [*params, *([] if event is None else [event])]
