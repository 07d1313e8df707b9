"""Fixed-horizon tests: two-proportion z, Welch t (means and delta-method ratio metrics).

Effects are treatment minus control. The relative lift ``(mb - ma) / ma`` gets a delta-method
interval. P-values come from survival functions and ``log_p_value`` keeps precision far below
the smallest double, so a very strong effect never shows as ``p = 0``.

>>> r = z_test_proportions(ProportionStats(1000, 100), ProportionStats(1000, 130))
>>> round(r.effect, 3), r.significant
(0.03, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from microfunnel.errors import InputError
from microfunnel.stats.messages import (
    EMPTY_ARM,
    SMALL_SAMPLE,
    ZERO_BASELINE,
    ZERO_DENOMINATOR,
    ZERO_VARIANCE,
    WarningCode,
)
from microfunnel.stats.suffstats import MeanStats, ProportionStats, RatioStats

__all__ = [
    "Alternative",
    "EffectResult",
    "TestKind",
    "compare_moments",
    "critical_value",
    "welch_t_test",
    "z_test_proportions",
]

Alternative = Literal["two-sided", "greater", "less"]
"""``greater``: the treatment is better (higher) than control; ``less``: lower."""
TestKind = Literal["z", "welch_t"]

_TINY = float(np.finfo(float).tiny)


@dataclass(frozen=True, slots=True)
class EffectResult:
    """Treatment vs control on one metric. ``df`` is ``inf`` for the z-test."""

    test: TestKind
    alternative: Alternative
    alpha: float
    control_mean: float
    treatment_mean: float
    effect: float
    std_error: float
    ci_lower: float
    ci_upper: float
    relative_effect: float
    relative_std_error: float
    relative_ci_lower: float
    relative_ci_upper: float
    statistic: float
    df: float
    p_value: float
    log_p_value: float
    significant: bool
    warnings: tuple[WarningCode, ...] = ()


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InputError(f"`alpha` must be in (0, 1), got {alpha}: use e.g. 0.05.")


def critical_value(alpha: float, alternative: Alternative, df: float = math.inf) -> float:
    """Quantile that bounds the interval: z (``df=inf``) or Student t."""
    _check_alpha(alpha)
    q = 1.0 - (alpha / 2 if alternative == "two-sided" else alpha)
    return float(special.ndtri(q)) if math.isinf(df) else float(special.stdtrit(df, q))


def _log_tail(x: float, df: float) -> float:
    """log P(T > x), accurate deep in the tail."""
    if math.isinf(df):
        return float(special.log_ndtr(-x))
    p = float(special.stdtr(df, -x))
    return math.log(p) if p > 1e-300 else float(stats.t.logsf(x, df))


def _log_p(statistic: float, df: float, alternative: Alternative) -> float:
    if alternative == "two-sided":
        return min(0.0, math.log(2.0) + _log_tail(abs(statistic), df))
    if alternative == "greater":
        return _log_tail(statistic, df)
    return _log_tail(-statistic, df)


def _interval(est: float, se: float, crit: float, alternative: Alternative) -> tuple[float, float]:
    lower = -math.inf if alternative == "less" else est - crit * se
    upper = math.inf if alternative == "greater" else est + crit * se
    return lower, upper


def _neutral(
    test: TestKind,
    alternative: Alternative,
    alpha: float,
    ma: float,
    mb: float,
    warnings: tuple[WarningCode, ...],
) -> EffectResult:
    inf = math.inf
    return EffectResult(
        test, alternative, alpha, ma, mb, 0.0, inf, -inf, inf, 0.0, inf, -inf, inf,
        0.0, inf, 1.0, 0.0, False, warnings,
    )  # fmt: skip


def compare_moments(
    n_a: float,
    mean_a: float,
    var_a: float,
    n_b: float,
    mean_b: float,
    var_b: float,
    *,
    test: TestKind = "welch_t",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    null_var_a: float | None = None,
    null_var_b: float | None = None,
    warnings: tuple[WarningCode, ...] = (),
) -> EffectResult:
    """Compare two arms given per-unit means and variances (the shared core of every test).

    ``null_var_*`` replace the variances in the test statistic only (the pooled variance of
    the two-proportion z-test); intervals always use the unpooled variances.
    """
    _check_alpha(alpha)
    warns = list(warnings)
    if n_a == 0 or n_b == 0:
        return _neutral(test, alternative, alpha, mean_a, mean_b, (*warns, EMPTY_ARM))
    if test == "welch_t" and min(n_a, n_b) < 2:
        return _neutral(test, alternative, alpha, mean_a, mean_b, (*warns, SMALL_SAMPLE))
    va, vb = var_a / n_a, var_b / n_b
    null_va = va if null_var_a is None else null_var_a / n_a
    null_vb = vb if null_var_b is None else null_var_b / n_b
    se, null_se = math.sqrt(va + vb), math.sqrt(null_va + null_vb)
    if null_se == 0.0:
        return _neutral(test, alternative, alpha, mean_a, mean_b, (*warns, ZERO_VARIANCE))
    df = math.inf
    if test == "welch_t":
        df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    effect = mean_b - mean_a
    statistic = effect / null_se
    log_p = _log_p(statistic, df, alternative)
    crit = critical_value(alpha, alternative, df)
    lo, hi = _interval(effect, se, crit, alternative)
    if mean_a == 0.0:
        rel, rel_se, rel_lo, rel_hi = 0.0, math.inf, -math.inf, math.inf
        warns.append(ZERO_BASELINE)
    else:
        rel = effect / mean_a
        rel_se = math.sqrt(vb / mean_a**2 + va * mean_b**2 / mean_a**4)
        rel_lo, rel_hi = _interval(rel, rel_se, crit, alternative)
    return EffectResult(
        test, alternative, alpha, mean_a, mean_b, effect, se, lo, hi, rel, rel_se, rel_lo, rel_hi,
        statistic, df, max(math.exp(log_p), _TINY), log_p, log_p < math.log(alpha), tuple(warns),
    )  # fmt: skip


def z_test_proportions(
    control: ProportionStats,
    treatment: ProportionStats,
    *,
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
) -> EffectResult:
    """Two-proportion z-test: pooled variance for the statistic, unpooled (Wald) intervals.

    Matches ``statsmodels.stats.proportion.proportions_ztest`` and ``confint_proportions_2indep
    (method="wald")``.
    """
    pooled = (control.conversions + treatment.conversions) / max(control.n + treatment.n, 1)
    null_var = pooled * (1.0 - pooled)
    return compare_moments(
        control.n, control.mean, control.variance, treatment.n, treatment.mean,
        treatment.variance, test="z", alternative=alternative, alpha=alpha,
        null_var_a=null_var, null_var_b=null_var,
    )  # fmt: skip


def welch_t_test(
    control: MeanStats | RatioStats | ProportionStats,
    treatment: MeanStats | RatioStats | ProportionStats,
    *,
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
) -> EffectResult:
    """Welch's unequal-variance t-test; ratio metrics use their delta-method variance.

    On ``ProportionStats`` it is the unpooled t-test on a 0/1 metric (GrowthBook's frequentist
    test); ``z_test_proportions`` is the textbook choice for conversions.
    """
    warns: tuple[WarningCode, ...] = ()
    if any(isinstance(s, RatioStats) and s.n > 0 and s.den_sum == 0 for s in (control, treatment)):
        warns = (ZERO_DENOMINATOR,)
    return compare_moments(
        control.n, control.mean, control.variance, treatment.n, treatment.mean,
        treatment.variance, test="welch_t", alternative=alternative, alpha=alpha,
        warnings=warns,
    )  # fmt: skip
