"""SQL for the funnel model: persons reaching each step, and revenue of the last step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from microfunnel.query.scope import EventScope

__all__ = ["reach_sql"]


def reach_sql(steps: Sequence[str], scope: EventScope) -> tuple[str, list[Any]]:
    """One row: ``r0..rK`` persons who did step k and every step before it (in any order),
    and ``revenue``, the summed ``value`` of the last step's events by those persons."""
    cond, params = scope.condition()
    flags = ",\n    ".join(
        f"max(CASE WHEN event = ? THEN 1 ELSE 0 END) AS d{k}" for k in range(len(steps))
    )
    reach = ",\n  ".join(
        f"CAST(sum({' * '.join(f'd{j}' for j in range(k + 1))}) AS BIGINT) AS r{k}"
        for k in range(len(steps))
    )
    last = len(steps) - 1
    all_steps = " * ".join(f"d{j}" for j in range(len(steps)))
    sql = (
        "WITH per_person AS (\n"
        f"  SELECT person_id,\n    {flags},\n"
        "    sum(CASE WHEN event = ? THEN coalesce(value, 0) ELSE 0 END) AS revenue\n"
        f"  FROM events WHERE {cond} GROUP BY person_id\n"
        ")\n"
        f"SELECT {reach},\n"
        f"  CAST(sum(revenue * {all_steps}) AS DOUBLE) AS revenue\n"
        "FROM per_person"
    )
    return sql, [*steps, steps[last], *params]
