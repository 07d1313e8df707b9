"""CUPED: remove the part of a metric explained by a pre-experiment covariate.

``y_adj = y - theta * (x - mean(x))`` with ``theta = cov(x, y) / var(x)`` estimated on both arms
pooled (so it does not depend on the treatment). The adjusted variance is
``var(y) * (1 - rho^2)``; ``variance_removed`` reports that fraction, so a covariate correlated
at rho = 0.7 with the metric removes about half of the variance and halves the sample size.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(2, 5000)); y = x + rng.normal(size=(2, 5000))
>>> r = cuped_test(CupedStats.from_arrays(y[0], x[0]), CupedStats.from_arrays(y[1], x[1]))
>>> round(r.variance_removed, 1)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

from microfunnel.stats.frequentist import Alternative, EffectResult, TestKind, compare_moments
from microfunnel.stats.messages import ZERO_COVARIATE_VARIANCE, WarningCode
from microfunnel.stats.suffstats import CupedStats

__all__ = ["AdjustedArm", "CupedAdjustment", "CupedResult", "cuped_adjust", "cuped_test"]


@dataclass(frozen=True, slots=True)
class AdjustedArm:
    """Per-unit moments of the CUPED-adjusted metric in one arm."""

    n: int
    mean: float
    variance: float


@dataclass(frozen=True, slots=True)
class CupedAdjustment:
    theta: float
    variance_removed: float
    control: AdjustedArm
    treatment: AdjustedArm
    warnings: tuple[WarningCode, ...] = ()


@dataclass(frozen=True, slots=True)
class CupedResult:
    """The adjusted test, plus theta and the fraction of variance CUPED removed.

    ``result.relative_effect`` is relative to the adjusted control mean (equal to the observed
    one in expectation, since the covariate is balanced by randomisation).
    """

    result: EffectResult
    theta: float
    variance_removed: float


def cuped_adjust(control: CupedStats, treatment: CupedStats) -> CupedAdjustment:
    """Pooled theta and the adjusted per-arm means and variances."""
    pooled = control + treatment
    var_x = pooled.covariate.variance
    warns: tuple[WarningCode, ...] = ()
    theta = pooled.covariance / var_x if var_x > 0 else 0.0
    if var_x <= 0:
        warns = (ZERO_COVARIATE_VARIANCE,)
    x_bar = pooled.covariate.mean

    def adjust(s: CupedStats) -> AdjustedArm:
        var = s.variance + theta**2 * s.covariate.variance - 2 * theta * s.covariance
        return AdjustedArm(s.n, s.mean - theta * (s.covariate.mean - x_bar), max(var, 0.0))

    a, b = adjust(control), adjust(treatment)
    raw = control.variance * control.n + treatment.variance * treatment.n
    adjusted = a.variance * a.n + b.variance * b.n
    removed = 1.0 - adjusted / raw if raw > 0 else 0.0
    return CupedAdjustment(theta, removed, a, b, warns)


def cuped_test(
    control: CupedStats,
    treatment: CupedStats,
    *,
    test: TestKind = "welch_t",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
) -> CupedResult:
    """Welch (or z) test on the CUPED-adjusted metric."""
    adj = cuped_adjust(control, treatment)
    a, b = adj.control, adj.treatment
    result = compare_moments(
        a.n, a.mean, a.variance, b.n, b.mean, b.variance, test=test,
        alternative=alternative, alpha=alpha, warnings=adj.warnings,
    )  # fmt: skip
    return CupedResult(result, adj.theta, adj.variance_removed)
