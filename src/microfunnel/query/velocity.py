"""Velocity and time-to-convert SQL: small per-segment tables the statistics work on.

- :func:`velocity_sql`: per segment, sessions and the sufficient statistics of actions per
  minute (events after the first per minute of session span; single-event sessions are counted
  apart, they have no span).
- :func:`time_to_convert_sql`: per segment, how many funnel entrants converted (or were
  censored) after each whole second, from the funnel's per-unit table. A unit that has not
  converted is censored at the window, or at the end of the data if that comes first.
"""

from __future__ import annotations

from microfunnel.query.conditions import Params, time_range_sql
from microfunnel.query.dialect import Dialect
from microfunnel.query.funnel import NONE_SEGMENT, FunnelSpec, units_sql
from microfunnel.query.segments import SegmentSpec, segment_event_sql, top_n_sql

__all__ = ["time_to_convert_sql", "velocity_sql"]


def velocity_sql(
    segment: SegmentSpec | None,
    d: Dialect,
    *,
    start: object = None,
    end: object = None,
    include_bots: bool = False,
) -> tuple[str, list[object]]:
    """Rows ``g, sessions, single, n, s, ss, q``: per segment (of the session's first event),
    all sessions, single-event sessions, then n / sum / sum of squares / quantiles of the actions
    per minute of the others."""
    p = Params()
    seg = segment_event_sql(segment, d, p) if segment else "NULL"
    where = time_range_sql(start, end, include_bots, p)  # type: ignore[arg-type]
    ts = d.epoch_us("timestamp")
    rate = "CASE WHEN span > 0 THEN (n - 1) * 60000000.0 / span END"
    first = d.arg_min(f"coalesce({seg}, '{NONE_SEGMENT}')", "timestamp")
    body = (
        f"sess AS (SELECT person_id, session_id, count(*) AS n, max({ts}) - min({ts}) AS span, "
        f"{first} AS g "
        f"FROM events WHERE {where} AND session_id IS NOT NULL GROUP BY person_id, session_id),\n"
        f"rated AS (SELECT g, n, {rate} AS apm FROM sess)"
    )
    source, g = "rated", "g"
    if segment is not None and segment.top_n is not None:
        body += ",\n" + top_n_sql("rated", "ranked", segment.top_n, p)
        source, g = "ranked", "g2"
    sql = (
        f"WITH {body}\nSELECT {g} AS g, count(*) AS sessions, "
        "sum(CASE WHEN apm IS NULL THEN 1 ELSE 0 END) AS single, count(apm) AS n, "
        f"sum(apm) AS s, sum(apm * apm) AS ss, {d.quantiles('apm', (0.25, 0.5, 0.75))} AS q "
        f"FROM {source} GROUP BY {g} ORDER BY sessions DESC, g"
    )
    return sql, p.values


def time_to_convert_sql(spec: FunnelSpec, d: Dialect) -> tuple[str, list[object]]:
    """Rows ``g, secs, converted, censored`` (``secs``: whole seconds from the first step to
    the last) per segment of a funnel whose ``unit`` is a person or a session."""
    p = Params()
    units = units_sql(spec, d, p)
    last = spec.n - 1
    end = (
        d.epoch_us(p.add(spec.end))
        if spec.end is not None
        else f"(SELECT max({d.epoch_us('timestamp')}) FROM events)"
    )
    # Rounded up so a conversion inside the window never lands past the window's censoring time.
    seconds = lambda us: f"CAST(ceil(({us}) / 1000000.0) AS BIGINT)"  # noqa: E731
    body = (
        f"{units},\ndone AS (SELECT g, lvl = {spec.n} AS ok, CASE WHEN lvl = {spec.n} "
        f"THEN {seconds(f'b{last} - b0')} ELSE {seconds(f'least({spec.window_us}, {end} - b0)')} "
        "END AS t FROM units)"
    )
    source, g = "done", "g"
    if spec.segment is not None and spec.segment.top_n is not None:
        body += ",\n" + top_n_sql("done", "ranked", spec.segment.top_n, p)
        source, g = "ranked", "g2"
    sql = (
        f"WITH {body}\nSELECT {g} AS g, greatest(t, 0) AS secs, "
        "sum(CASE WHEN ok THEN 1 ELSE 0 END) AS converted, "
        "sum(CASE WHEN ok THEN 0 ELSE 1 END) AS censored "
        f"FROM {source} GROUP BY {g}, greatest(t, 0) ORDER BY g, secs"
    )
    return sql, p.values
