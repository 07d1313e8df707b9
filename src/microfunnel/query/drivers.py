"""SQL for drivers: who did each candidate before converting, and per-person event counts.

For a converter only what happened before the first conversion counts, so steps that follow a
purchase (a confirmation page, a review) never look like causes of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from microfunnel.query.scope import EventScope

__all__ = ["ALL", "candidates_sql", "counts_sql"]

ALL = "$all"


def _base(scope: EventScope) -> tuple[str, list[Any]]:
    cond, params = scope.condition()
    sql = (
        "scoped AS (\n"
        "  SELECT person_id, CAST(event AS VARCHAR) AS event, timestamp, device, utm_source,\n"
        "    utm_medium, utm_campaign, page_path, source\n"
        f"  FROM events WHERE {cond}\n"
        "),\n"
        "conv AS (\n"
        "  SELECT person_id, min(CASE WHEN event = ? THEN timestamp END) AS converted_at\n"
        "  FROM scoped GROUP BY person_id\n"
        "),\n"
        "before AS (\n"
        "  SELECT s.*, CASE WHEN c.converted_at IS NULL THEN 0 ELSE 1 END AS converted\n"
        "  FROM scoped AS s JOIN conv AS c ON s.person_id = c.person_id\n"
        "  WHERE c.converted_at IS NULL OR s.timestamp < c.converted_at\n"
        ")"
    )
    return sql, params


def candidates_sql(
    macro: str, properties: Sequence[str], scope: EventScope
) -> tuple[str, list[Any]]:
    """Rows ``(candidate, persons, converted)``; candidate ``$all`` holds the totals.

    A candidate is an event name, or ``column=value`` for each lifted column in ``properties``.
    The events are read once, into each person's first time per (event, property values): a
    person did a candidate before converting exactly when its first time is earlier, so every
    later step works on that summary (about half as many rows) instead of the events. Without
    properties those firsts are already one row per person and event, so no DISTINCT is needed.
    """
    cond, params = scope.condition()
    keys = "".join(f", {col}" for col in properties)  # checked against LIFTED_COLUMNS
    picked = "".join(f", f.{col} AS {col}" for col in properties)
    labels = ["CAST(event AS VARCHAR)"] + [
        f"CAST('{col}=' || {col} AS VARCHAR)" for col in properties
    ]
    did = "\n    UNION ALL ".join(
        f"SELECT {'DISTINCT ' if properties else ''}person_id, {label} AS candidate, converted"
        " FROM before" + ("" if i == 0 else f" WHERE {properties[i - 1]} IS NOT NULL")
        for i, label in enumerate(labels)
    )
    sql = (
        "WITH firsts AS (\n"
        f"  SELECT person_id, event{keys}, min(timestamp) AS first_at\n"
        f"  FROM events WHERE {cond}\n"
        f"  GROUP BY person_id, event{keys}\n"
        "),\n"
        "conv AS (\n"
        "  SELECT person_id,\n"
        "    min(CASE WHEN CAST(event AS VARCHAR) = ? THEN first_at END) AS converted_at\n"
        "  FROM firsts GROUP BY person_id\n"
        "),\n"
        "before AS (\n"
        f"  SELECT f.person_id AS person_id, f.event AS event{picked},\n"
        "    CASE WHEN c.converted_at IS NULL THEN 0 ELSE 1 END AS converted\n"
        "  FROM firsts AS f JOIN conv AS c ON f.person_id = c.person_id\n"
        "  WHERE c.converted_at IS NULL OR f.first_at < c.converted_at\n"
        "),\n"
        f"did AS (\n  SELECT person_id, candidate, converted FROM (\n    {did}\n  ) AS d\n"
        "  WHERE candidate <> ?\n)\n"
        "SELECT candidate, CAST(count(*) AS BIGINT) AS persons,\n"
        "  CAST(sum(converted) AS BIGINT) AS converted\n"
        "FROM did GROUP BY candidate\n"
        f"UNION ALL SELECT '{ALL}' AS candidate, CAST(count(*) AS BIGINT) AS persons,\n"
        "  CAST(sum(CASE WHEN converted_at IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS converted\n"
        "FROM conv"
    )
    return sql, [*params, macro, macro]


def counts_sql(
    macro: str, features: Sequence[str], cap: int, scope: EventScope
) -> tuple[str, list[Any]]:
    """Rows ``(person_id, converted, f0, f1, ...)``: pre-conversion counts, capped at ``cap``."""
    base, params = _base(scope)
    cols = ",\n  ".join(
        f"CAST(least(sum(CASE WHEN b.event = ? THEN 1 ELSE 0 END), {int(cap)}) AS DOUBLE) AS f{i}"
        for i in range(len(features))
    )
    sql = (
        f"WITH {base}\n"
        "SELECT c.person_id AS person_id,\n"
        "  CAST(max(CASE WHEN c.converted_at IS NULL THEN 0 ELSE 1 END) AS DOUBLE) AS converted,\n"
        f"  {cols}\n"
        "FROM conv AS c LEFT JOIN before AS b ON b.person_id = c.person_id\n"
        "GROUP BY c.person_id ORDER BY c.person_id"
    )
    return sql, [*params, macro, *features]
