"""SQL for paths: events numbered within each session, then neighbours, spans and loops.

Page views and other navigation events can be excluded first, so paths show what shoppers did
rather than every page they loaded. Ties in time are ordered by ``event_id`` on every engine.
Neighbours only number the sessions that hold their anchor (a semi-join on
``(person_id, session)`` first), so a rare step sorts a small share of the table.
"""

from __future__ import annotations

from typing import Any, Literal

from microfunnel.query.scope import EventScope, in_list

__all__ = ["END", "START", "around_sql", "between_sql", "loops_sql", "sessions_by_event_sql"]

END = "$end"
START = "$start"
_SID = "coalesce(session_id, '')"
_WINDOW = "OVER (PARTITION BY person_id, sid ORDER BY timestamp, event_id)"


def _sequence(scope: EventScope, holding: str | None = None) -> tuple[str, list[Any]]:
    """Events in scope; with ``holding``, only those of sessions holding that event in scope."""
    cond, params = scope.condition()
    where, where_params = cond, list(params)
    if holding is not None:
        has, names = in_list("event", [holding])
        where += (
            f"\n    AND (person_id, {_SID}) IN (\n"
            f"      SELECT person_id, {_SID} FROM events WHERE {cond} AND {has})"
        )
        where_params += [*params, *names]
    sql = (
        "seq AS (\n"
        f"  SELECT person_id, {_SID} AS sid, CAST(event AS VARCHAR) AS event,\n"
        "    timestamp, event_id\n"
        f"  FROM events WHERE {where}\n"
        ")"
    )
    return sql, where_params


def ordered_concat(dialect: Any, value: str, order: str, sep: str) -> str:
    """``value`` of a group's rows joined by ``sep`` in ``order``."""
    if dialect.name == "clickhouse":
        return (
            f"arrayStringConcat(arrayMap(x -> x.2, arraySort(groupArray(({order}, {value})))), "
            f"{dialect.literal(sep)})"
        )
    return f"string_agg({value}, {dialect.literal(sep)} ORDER BY {order})"


def around_sql(
    anchor: str,
    direction: Literal["next", "previous"],
    depth: int,
    scope: EventScope,
) -> tuple[str, list[Any]]:
    """Rows ``(e1, ..., e{depth}, n)``: the events after (or before) each ``anchor``."""
    seq, params = _sequence(scope, anchor)
    fn, pad = ("lead", END) if direction == "next" else ("lag", START)
    cols = ",\n    ".join(
        f"{fn}(event, {k}, '{pad}') {_WINDOW} AS e{k}" for k in range(1, depth + 1)
    )
    keys = ", ".join(f"e{k}" for k in range(1, depth + 1))
    sql = (
        f"WITH {seq},\n"
        f"near AS (\n  SELECT event,\n    {cols}\n  FROM seq\n)\n"
        f"SELECT {keys}, count(*) AS n FROM near WHERE event = ?\n"
        f"GROUP BY {keys} ORDER BY n DESC, {keys}"
    )
    return sql, [*params, anchor]


def between_sql(
    dialect: Any,
    start: str,
    end: str,
    max_steps: int,
    scope: EventScope,
) -> tuple[str, list[Any]]:
    """Rows ``(path, sessions)``: from each session's first ``start`` to the next ``end``.

    Two extra rows carry totals: path ``$start`` (sessions with ``start``) and ``$longer``
    (sessions whose span is longer than ``max_steps`` events).
    """
    seq, params = _sequence(scope)
    path = ordered_concat(dialect, "n.event", "n.rn", " > ")
    sql = (
        f"WITH {seq},\n"
        "numbered AS (\n"
        f"  SELECT person_id, sid, event, row_number() {_WINDOW} AS rn FROM seq\n),\n"
        "marks AS (\n"
        "  SELECT person_id, sid, min(CASE WHEN event = ? THEN rn END) AS s\n"
        "  FROM numbered GROUP BY person_id, sid\n),\n"
        "spans AS (\n"
        "  SELECT n.person_id AS person_id, n.sid AS sid, m.s AS s, min(n.rn) AS e\n"
        "  FROM numbered AS n JOIN marks AS m ON n.person_id = m.person_id AND n.sid = m.sid\n"
        "  WHERE m.s IS NOT NULL AND n.event = ? AND n.rn > m.s\n"
        "  GROUP BY n.person_id, n.sid, m.s\n),\n"
        "paths AS (\n"
        f"  SELECT {path} AS path\n"
        "  FROM numbered AS n JOIN spans AS x ON n.person_id = x.person_id AND n.sid = x.sid\n"
        "  WHERE n.rn >= x.s AND n.rn <= x.e AND x.e - x.s <= ?\n"
        "  GROUP BY n.person_id, n.sid\n)\n"
        "SELECT path, CAST(count(*) AS BIGINT) AS sessions FROM paths GROUP BY path\n"
        f"UNION ALL SELECT '{START}' AS path, CAST(count(*) AS BIGINT) AS sessions\n"
        "  FROM marks WHERE s IS NOT NULL\n"
        "UNION ALL SELECT '$longer' AS path, CAST(count(*) AS BIGINT) AS sessions\n"
        "  FROM spans WHERE e - s > ?"
    )
    return sql, [*params, start, end, max_steps, max_steps]


def loops_sql(
    scope: EventScope,
) -> tuple[str, list[Any]]:
    """Rows ``(a, b, c, occurrences, sessions)``: ``a > b > a`` (c = '') or ``a > b > c > a``."""
    seq, params = _sequence(scope)
    cols = ",\n    ".join(f"lead(event, {k}, '{END}') {_WINDOW} AS e{k}" for k in (1, 2, 3))
    sql = (
        f"WITH {seq},\n"
        f"near AS (\n  SELECT person_id, sid, event,\n    {cols}\n  FROM seq\n),\n"
        "found AS (\n"
        "  SELECT person_id, sid, event AS a, e1 AS b,\n"
        "    CASE WHEN e2 = event THEN '' ELSE e2 END AS c\n"
        "  FROM near\n"
        "  WHERE e1 <> event AND (e2 = event OR (e2 <> event AND e2 <> e1 AND e3 = event))\n"
        ")\n"
        "SELECT a, b, c, CAST(count(*) AS BIGINT) AS occurrences,\n"
        "  CAST(count(DISTINCT person_id || '|' || sid) AS BIGINT) AS sessions\n"
        "FROM found GROUP BY a, b, c ORDER BY sessions DESC, occurrences DESC, a, b, c"
    )
    return sql, params


def sessions_by_event_sql(
    scope: EventScope,
) -> tuple[str, list[Any]]:
    """Rows ``(event, sessions)``: how many sessions hold each event."""
    seq, params = _sequence(scope)
    sql = (
        f"WITH {seq}\n"
        "SELECT event, CAST(count(*) AS BIGINT) AS sessions\n"
        "FROM (SELECT DISTINCT event, person_id || '|' || sid AS k FROM seq) AS held\n"
        "GROUP BY event"
    )
    return sql, params
