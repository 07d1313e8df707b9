"""Data quality: is tagging healthy? Volumes, unknown names, missing parameters, quarantine,
bots and client clock skew, so a broken tag is seen the day it breaks.

Example::

    q = quality(store, known=["page_view", "add_to_cart", "purchase"],
                required={"purchase": ["value", "currency", "transaction_id"]})
    q.unknown_events, q.missing, q.clock_skew.p99_seconds
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from microfunnel.analytics.scope import check_tz, check_where, utc_range
from microfunnel.query.quality import (
    LATEST_SKEW,
    missing_sql,
    overview_sql,
    quarantine_sql,
    skew_sql,
    volume_sql,
)
from microfunnel.query.scope import EventScope

__all__ = ["ClockSkew", "DailyVolume", "MissingParameter", "Quality", "delay_words", "quality"]


@dataclass(frozen=True)
class DailyVolume:
    day: date
    event: str
    events: int


@dataclass(frozen=True)
class MissingParameter:
    event: str
    parameter: str
    events: int
    missing: int
    share: float


@dataclass(frozen=True)
class ClockSkew:
    """``received_at - timestamp`` in seconds (whole seconds, clipped to [-1 h, 1 day])."""

    events: int
    p50_seconds: float
    p95_seconds: float
    p99_seconds: float
    share_in_future: float
    share_over_hour_late: float


def delay_words(seconds: float | None) -> str:
    """An arrival delay in the unit that reads best. Delays are clipped at a day, so a day or
    more reads as a bound, not a value:

    >>> delay_words(42), delay_words(210), delay_words(7200), delay_words(86400)
    ('42 s', '3.5 min', '2.0 h', '≥ 1 day')
    """
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds >= LATEST_SKEW:
        return "≥ 1 day"
    if abs(seconds) >= 3600:
        return f"{seconds / 3600:.1f} h"
    if abs(seconds) >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class Quality:
    volumes: tuple[DailyVolume, ...]
    unknown_events: tuple[str, ...]
    missing: tuple[MissingParameter, ...]
    events: int
    quarantined: int
    quarantine_rate: float
    bot_event_share: float
    bot_person_share: float
    clock_skew: ClockSkew


def _skew(rows: list[dict[str, Any]]) -> ClockSkew:
    if not rows:
        return ClockSkew(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    rows = sorted(rows, key=lambda r: r["bucket"])
    buckets = np.array([r["bucket"] for r in rows], dtype=float)
    counts = np.array([r["events"] for r in rows], dtype=float)
    total = counts.sum()
    cum = np.cumsum(counts) / total

    def q(p: float) -> float:
        return float(buckets[int(np.searchsorted(cum, p))])

    return ClockSkew(
        int(total), q(0.5), q(0.95), q(0.99), float(counts[buckets < 0].sum() / total),
        float(counts[buckets >= 3600].sum() / total),
    )  # fmt: skip


def quality(
    store: Any,
    *,
    known: Sequence[str] | None = None,
    required: Mapping[str, Sequence[str]] | None = None,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: Mapping[str, str] | None = None,
) -> Quality:
    """Tagging health from ``start`` to ``end`` (local days). ``known`` is the tracking plan's
    event names (None skips the check); ``required`` maps an event to parameters it must carry.
    Bots are included here, since their share is one of the checks."""
    check_tz(tz)
    since, until = utc_range(start, end, tz)
    scope = EventScope(since, until, check_where(where), include_bots=True)
    volumes = tuple(
        sorted(
            (DailyVolume(_day(r["day"]), r["event"], int(r["events"]))
             for r in store.query(*volume_sql(store.dialect, tz, scope)).to_pylist()),
            key=lambda v: (v.day, v.event),
        )
    )  # fmt: skip
    names = sorted({v.event for v in volumes})
    unknown = () if known is None else tuple(n for n in names if n not in set(known))
    missing = []
    for event, keys in sorted((required or {}).items()):
        if not keys:
            continue
        row = store.query(*missing_sql(store.dialect, event, list(keys), scope)).to_pylist()[0]
        n = int(row["events"])
        for i, key in enumerate(keys):
            m = int(row[f"m{i}"] or 0)
            missing.append(MissingParameter(event, key, n, m, m / n if n else 0.0))
    over = store.query(*overview_sql(scope)).to_pylist()[0]
    events, quarantined = int(over["events"]), int(store.scalar(*quarantine_sql(scope)) or 0)
    seen = events + quarantined
    return Quality(
        volumes, unknown, tuple(missing), events, quarantined,
        quarantined / seen if seen else 0.0,
        int(over["bot_events"] or 0) / events if events else 0.0,
        int(over["bot_persons"] or 0) / int(over["persons"]) if over["persons"] else 0.0,
        _skew(store.query(*skew_sql(store.dialect, scope)).to_pylist()),
    )  # fmt: skip


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value
