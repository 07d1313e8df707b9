"""Time to convert as censored survival data: Kaplan-Meier curves and the log-rank test.

A visitor who has not converted yet is censored, not a non-converter; treating them as
failures biases conversion-time comparisons toward whoever was exposed longer.

>>> km = kaplan_meier([1, 2, 2, 3, 5], [1, 1, 0, 1, 0])
>>> [round(s, 3) for s in km.survival]
[0.8, 0.6, 0.3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from microfunnel.errors import InputError
from microfunnel.stats.messages import EMPTY_ARM, NO_DATA, WarningCode

__all__ = [
    "KaplanMeier",
    "LogRankResult",
    "kaplan_meier",
    "kaplan_meier_from_counts",
    "logrank_test",
]


@dataclass(frozen=True, slots=True)
class KaplanMeier:
    """Survival (share not yet converted) just after each event time, with Greenwood standard
    errors and log(-log) intervals."""

    times: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    survival: tuple[float, ...]
    std_error: tuple[float, ...]
    ci_lower: tuple[float, ...]
    ci_upper: tuple[float, ...]


def _arrays(
    durations: ArrayLike, observed: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if t.ndim != 1 or t.shape != e.shape or np.any(t < 0):
        raise InputError("durations and observed must be equal-length, durations >= 0.")
    return t, e


def kaplan_meier_from_counts(
    times: ArrayLike, events: ArrayLike, censored: ArrayLike, *, alpha: float = 0.05
) -> KaplanMeier:
    """Kaplan-Meier from aggregated counts: at each time, how many converted and how many were
    censored (e.g. a per-day table from SQL)."""
    t = np.asarray(times, dtype=float)
    d = np.asarray(events, dtype=float)
    c = np.asarray(censored, dtype=float)
    if t.shape != d.shape or t.shape != c.shape or np.any(np.diff(t) <= 0):
        raise InputError("times must increase strictly, with one events/censored count each.")
    at_risk = d.sum() + c.sum() - np.concatenate(([0.0], np.cumsum(d + c)[:-1]))
    keep = d > 0
    t, n, d = t[keep], at_risk[keep], d[keep]
    surv = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(n > d, d / (n * (n - d)), 0.0))
        se = surv * np.sqrt(greenwood)
        z = float(special.ndtri(1 - alpha / 2))
        log_s = np.log(surv)
        half = z * np.sqrt(greenwood) / np.abs(log_s)
        lower = np.where(surv > 0, surv ** np.exp(half), 0.0)
        upper = np.where(surv > 0, surv ** np.exp(-half), 0.0)
    lower = np.where((surv < 1) & np.isfinite(lower), lower, surv)
    upper = np.where((surv < 1) & np.isfinite(upper), upper, surv)

    def tup(a: NDArray[np.float64]) -> tuple[float, ...]:
        return tuple(float(x) for x in a)

    return KaplanMeier(
        tup(t), tuple(int(x) for x in n), tuple(int(x) for x in d), tup(surv), tup(se),
        tup(lower), tup(upper),
    )  # fmt: skip


def kaplan_meier(durations: ArrayLike, observed: ArrayLike, *, alpha: float = 0.05) -> KaplanMeier:
    """Kaplan-Meier from per-unit durations and whether the conversion was observed."""
    t, e = _arrays(durations, observed)
    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e.astype(float), minlength=times.size)
    total = np.bincount(inverse, minlength=times.size)
    return kaplan_meier_from_counts(times, events, total - events, alpha=alpha)


@dataclass(frozen=True, slots=True)
class LogRankResult:
    statistic: float
    p_value: float
    observed: tuple[float, float]
    expected: tuple[float, float]
    warnings: tuple[WarningCode, ...] = ()


def logrank_test(
    durations_a: ArrayLike,
    observed_a: ArrayLike,
    durations_b: ArrayLike,
    observed_b: ArrayLike,
) -> LogRankResult:
    """Mantel-Cox log-rank test that two arms convert at the same rate over time (chi-square
    with 1 degree of freedom)."""
    ta, ea = _arrays(durations_a, observed_a)
    tb, eb = _arrays(durations_b, observed_b)
    if ta.size == 0 or tb.size == 0:
        return LogRankResult(0.0, 1.0, (0.0, 0.0), (0.0, 0.0), (EMPTY_ARM,))
    t = np.concatenate([ta, tb])
    e = np.concatenate([ea, eb])
    in_a = np.concatenate([np.ones(ta.size, bool), np.zeros(tb.size, bool)])
    n, d = _at_risk_and_events(t, e, np.ones(t.size, bool))
    n_a, d_a = _at_risk_and_events(t, e, in_a)
    expected_a = d * n_a / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, d * (n_a / n) * (1 - n_a / n) * (n - d) / (n - 1), 0.0)
    v = float(var.sum())
    obs_a, exp_a = float(d_a.sum()), float(expected_a.sum())
    obs_b, exp_b = float(d.sum()) - obs_a, float(d.sum()) - exp_a
    if v <= 0:
        return LogRankResult(0.0, 1.0, (obs_a, obs_b), (exp_a, exp_b), (NO_DATA,))
    stat = (obs_a - exp_a) ** 2 / v
    return LogRankResult(stat, float(stats.chi2.sf(stat, 1)), (obs_a, obs_b), (exp_a, exp_b))


def _at_risk_and_events(
    t: NDArray[np.float64], e: NDArray[np.bool_], group: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At-risk and event counts of one group at each distinct pooled time."""
    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=(e & group).astype(float), minlength=times.size)
    leaving = np.bincount(inverse, weights=group.astype(float), minlength=times.size)
    at_risk = float(group.sum()) - np.concatenate(([0.0], np.cumsum(leaving)[:-1]))
    return np.asarray(at_risk, dtype=float), np.asarray(events, dtype=float)
