"""Drop alerts on a daily rate: a lower CUSUM against a trailing baseline, plus a 1-day guard.

The rule, in plain words (:data:`RULE`): each day's rate is compared with the pooled rate of the
``baseline_days`` days before it (at least ``min_baseline_days`` with traffic). The day's
shortfall in standard errors, ``z = (x - n p0) / sqrt(n p0 (1 - p0))``, feeds a lower CUSUM
``S = max(0, S - z - k)``. An alert fires when ``S > h`` (a sustained drop) or when a single day
has ``z < -shewhart`` (a sudden collapse). While ``S > 0`` the baseline stays frozen at the days
before the suspected drop, so the drop never dilutes its own reference. The day the drop began
is the split that best explains the run (the maximum-likelihood change point of a
two-rate binomial model). After an alert the baseline restarts from that day, so one drop
raises one alert. ``k = 1`` tunes the chart to drops of two standard errors a day or more (a
broken tag, a failing step), so slow drifts in who visits do not alert; with ``h = 4`` a
stable binomial rate would raise a false alert less than once in ten thousand days
(Siegmund's approximation of the average run length; Montgomery, *Introduction to Statistical
Quality Control*, ch. 9). Real daily rates vary more than binomial noise, so expect more.

This is a pure function over daily counts; ``microfunnel.stats`` has no change detection yet.

>>> from datetime import date, timedelta
>>> days = [date(2024, 1, 1) + timedelta(days=i) for i in range(30)]
>>> converted = [100] * 20 + [60] * 10
>>> [a.began.day for a in detect_drops(days, [1000] * 30, converted)]
[21]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.special import xlogy

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


def _loglik(x: float, n: float, p: float) -> float:
    return float(xlogy(x, p) + xlogy(n - x, 1.0 - p))


def _change_point(x: np.ndarray, n: np.ndarray, first: int, last: int, p0: float) -> int:
    """The split ``tau`` in ``first..last`` maximizing the two-rate likelihood ratio."""
    best, best_llr = first, -math.inf
    for tau in range(first, last + 1):
        xs, ns = float(x[tau : last + 1].sum()), float(n[tau : last + 1].sum())
        if ns == 0:
            continue
        llr = _loglik(xs, ns, xs / ns) - _loglik(xs, ns, p0)
        if llr > best_llr + 1e-9:
            best, best_llr = tau, llr
    return best


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
    n = np.asarray(active, dtype=float)
    x = np.asarray(converted, dtype=float)
    alerts: list[DropAlert] = []
    cusum, run_start, regime = 0.0, -1, 0
    for t in range(len(days)):
        ref_end = run_start if cusum > 0 else t
        window = [i for i in range(max(regime, ref_end - baseline_days), ref_end) if n[i] > 0]
        if len(window) < min_baseline_days or n[t] == 0:
            continue
        p0 = float(x[window].sum() / n[window].sum())
        if not 0.0 < p0 < 1.0:
            continue
        z = (x[t] - n[t] * p0) / math.sqrt(n[t] * p0 * (1.0 - p0))
        new = max(0.0, cusum - z - k)
        if cusum == 0.0 and new > 0.0:
            run_start = t
        cusum = new
        if cusum == 0.0:
            run_start = -1
        if cusum > h or z < -shewhart:
            first = run_start if run_start >= 0 else t
            began = _change_point(x, n, first, t, p0)
            since = float(x[began : t + 1].sum() / n[began : t + 1].sum())
            alerts.append(
                DropAlert(
                    began=days[began],
                    detected=days[t],
                    baseline_rate=p0,
                    rate_since=since,
                    relative_change=since / p0 - 1.0,
                    days_in_baseline=len(window),
                )
            )
            cusum, run_start, regime = 0.0, -1, began
    return tuple(alerts)
