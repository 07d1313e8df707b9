"""Drop alerts on a daily rate: a lower CUSUM against a trailing baseline, plus a 1-day guard.

The rule, in plain words (:data:`RULE`): each day's rate is compared with the pooled rate of the
``baseline_days`` days before it; a run of shortfalls (a lower CUSUM of the daily z-scores) or
one day far below it raises an alert, dated from the day the drop most likely began. After an
alert the baseline restarts from that day, so one drop raises one alert. ``k = 1`` tunes the
chart to drops of two standard errors a day or more (a broken tag, a failing step), so slow
drifts in who visits do not alert. The statistics are :func:`microfunnel.stats.cusum_drops`;
this module puts dates on them.

>>> from datetime import date, timedelta
>>> days = [date(2024, 1, 1) + timedelta(days=i) for i in range(30)]
>>> converted = [100] * 20 + [60] * 10
>>> [a.began.day for a in detect_drops(days, [1000] * 30, converted)]
[21]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from microfunnel.stats.changepoint import cusum_drops

__all__ = ["RULE", "DropAlert", "detect_drops"]

RULE = (
    "lower CUSUM of the daily rate's z-score against the pooled rate of the trailing baseline "
    "days (k={k}, alert when S > {h}) or a single day below -{shewhart} standard errors; "
    "the day it began is the maximum-likelihood change point of the run"
)


@dataclass(frozen=True)
class DropAlert:
    """A rate fell beyond noise: from ``began`` on, seen on ``detected``."""

    began: date
    detected: date
    baseline_rate: float
    rate_since: float
    relative_change: float
    days_in_baseline: int


def detect_drops(
    days: Sequence[date],
    active: Sequence[int],
    converted: Sequence[int],
    *,
    baseline_days: int = 14,
    min_baseline_days: int = 7,
    k: float = 1.0,
    h: float = 4.0,
    shewhart: float = 4.0,
) -> tuple[DropAlert, ...]:
    """Alerts for drops in ``converted / active``, in day order (see the module docstring)."""
    drops = cusum_drops(
        active, converted, baseline_days=baseline_days, min_baseline_days=min_baseline_days,
        k=k, h=h, shewhart=shewhart,
    )  # fmt: skip
    return tuple(
        DropAlert(
            began=days[d.began],
            detected=days[d.detected],
            baseline_rate=d.baseline_rate,
            rate_since=d.rate_since,
            relative_change=d.relative_change,
            days_in_baseline=d.days_in_baseline,
        )
        for d in drops
    )
