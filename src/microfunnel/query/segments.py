"""Segment expressions: what an event (or its person) is broken down by, as SQL.

- ``property``: a lifted column, event property or ``context.`` key of the attributed event,
  optionally cut into numeric ``bands`` (``[50, 100]`` -> ``<50``, ``50-100``, ``>=100``);
- ``returning``: ``new`` in a person's first session, ``returning`` after it;
- ``behaviour``: ``yes`` for persons who did something at least ``min_count`` times (or on at
  least ``min_count`` distinct values of a property) in the analysed range, else ``no``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Literal

from microfunnel.query.conditions import Match, Params, any_sql, property_sql, time_range_sql
from microfunnel.query.dialect import Dialect

__all__ = ["OTHER", "Attribution", "SegmentSpec", "segment_event_sql", "top_n_sql"]

OTHER = "Other"
Attribution = Literal["first", "last"] | int


@dataclass(frozen=True)
class SegmentSpec:
    kind: Literal["property", "returning", "behaviour"] = "property"
    prop: str | None = None
    bands: tuple[float, ...] = ()
    attribution: Attribution = "first"
    top_n: int | None = None
    matches: tuple[Match, ...] = ()
    min_count: int = 1
    distinct: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _fmt(x: float) -> str:
    return f"{x:g}"


def _bands_sql(expr: str, bands: tuple[float, ...], p: Params) -> str:
    whens = [
        f"WHEN {expr} IS NULL THEN NULL",
        f"WHEN {expr} < {p.add(bands[0])} THEN '<{_fmt(bands[0])}'",
    ]
    for lo, hi in pairwise(bands):
        whens.append(f"WHEN {expr} < {p.add(hi)} THEN '{_fmt(lo)}-{_fmt(hi)}'")
    return f"CASE {' '.join(whens)} ELSE '>={_fmt(bands[-1])}' END"


def segment_event_sql(seg: SegmentSpec, d: Dialect, p: Params) -> str:
    """Text of the segment for a row of ``events`` (NULL when it has none)."""
    if seg.kind == "property":
        assert seg.prop is not None
        col = property_sql(seg.prop, d)
        if seg.bands:
            num = col if seg.prop == "value" else d.to_float(col)
            return _bands_sql(num, seg.bands, p)
        return d.to_text(col)
    if seg.kind == "returning":
        first = d.arg_min("coalesce(session_id, '')", "timestamp")
        return (
            "CASE WHEN concat(person_id, '/', coalesce(session_id, '')) IN "
            f"(SELECT concat(person_id, '/', {first}) FROM events GROUP BY person_id) "
            "THEN 'new' ELSE 'returning' END"
        )
    where = time_range_sql(seg.start, seg.end, False, p)
    cond = any_sql(seg.matches, d, p)
    measure = f"count(DISTINCT {property_sql(seg.distinct, d)})" if seg.distinct else "count(*)"
    return (
        f"CASE WHEN person_id IN (SELECT person_id FROM events WHERE {where} AND {cond} "
        f"GROUP BY person_id HAVING {measure} >= {p.add(int(seg.min_count))}) "
        "THEN 'yes' ELSE 'no' END"
    )


def top_n_sql(source: str, name: str, top_n: int, p: Params) -> str:
    """A CTE ``name``: ``source`` with segments beyond the ``top_n`` largest folded into Other."""
    return (
        f"{name} AS (SELECT s.*, CASE WHEN r.rk <= {p.add(int(top_n))} THEN s.g ELSE '{OTHER}' END "
        f"AS g2 FROM {source} s JOIN "
        f"(SELECT g, row_number() OVER (ORDER BY count(*) DESC, g) AS rk "
        f"FROM {source} GROUP BY g) r ON r.g = s.g)"
    )
