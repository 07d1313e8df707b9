"""Always-valid inference by the normal-mixture SPRT (mSPRT).

Johari, Pekelis & Walsh (2017), "Always valid inference", and Howard, Ramdas, McAuliffe &
Sekhon (2021), "Time-uniform, nonparametric, nonasymptotic confidence sequences", eq. (14).
With an estimate ``d`` of the effect whose variance is ``V``, mixing the likelihood ratio over
a prior ``N(0, tau^2)`` on the true effect gives the e-value::

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * d^2 / (2 V (V + tau^2)))

``1 / Lambda`` (running minimum over looks) is a p-value valid at every look, however often
you peek, and ``{delta : Lambda(delta) < 1 / alpha}`` is a confidence sequence.

**The tuning parameter tau.** ``tau`` is the spread of effects you expect to test. A small tau
makes the test patient (tight late, loose early), a large one eager. We set
``tau^2 = rho^2 * sigma^2`` with sigma^2 the per-unit variance and
``rho^2 = (-2 ln alpha + ln(1 - 2 ln alpha)) / tuning_n`` (Howard et al. 2021, eq. 161 of the
arXiv v7 version), which makes the confidence sequence narrowest when ``tuning_n`` units (both
arms) have been observed. Set ``tuning_n`` to the sample size you plan to decide at; the
default 5000 is GrowthBook's, and it costs little if you are off by a factor of a few.

>>> r = msprt_test(ProportionStats(5000, 500), ProportionStats(5000, 600))
>>> r.significant, round(r.p_value, 4)
(True, 0.0335)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfunnel.errors import InputError
from microfunnel.stats.cuped import cuped_adjust
from microfunnel.stats.messages import EMPTY_ARM, SMALL_SAMPLE, ZERO_VARIANCE, WarningCode
from microfunnel.stats.suffstats import CupedStats, MeanStats, ProportionStats, RatioStats

__all__ = [
    "DEFAULT_TUNING_N",
    "SequentialResult",
    "msprt_log_evalue",
    "msprt_rho2",
    "msprt_test",
]

DEFAULT_TUNING_N = 5000.0


def msprt_rho2(tuning_n: float = DEFAULT_TUNING_N, alpha: float = 0.05) -> float:
    """rho^2 that makes the confidence sequence tightest at ``tuning_n`` total units."""
    if tuning_n <= 0 or not 0 < alpha < 1:
        raise InputError("msprt needs tuning_n > 0 and alpha in (0, 1).")
    la = -2.0 * math.log(alpha)
    return (la + math.log(la + 1.0)) / tuning_n


def msprt_log_evalue(
    estimate: ArrayLike,
    variance: ArrayLike,
    n: ArrayLike,
    rho2: float,
) -> NDArray[np.float64]:
    """log Lambda for an effect ``estimate`` with sampling ``variance`` after ``n`` units.

    Vectorized over numpy arrays so simulations can score every look at once.
    """
    d, v, nn = (np.asarray(a, dtype=float) for a in (estimate, variance, n))
    ratio = nn * rho2  # tau^2 / V
    with np.errstate(divide="ignore", invalid="ignore"):
        log_e = -0.5 * np.log1p(ratio) + ratio / (1.0 + ratio) * d * d / (2.0 * v)
    return np.where(v > 0, log_e, 0.0)


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """One look of an mSPRT: an always-valid p-value and confidence sequence for the effect."""

    alpha: float
    tuning_n: float
    n: int
    effect: float
    std_error: float
    ci_lower: float
    ci_upper: float
    log_evalue: float
    p_value: float
    significant: bool
    warnings: tuple[WarningCode, ...] = ()


def _arm_moments(
    control: ProportionStats | MeanStats | RatioStats | CupedStats,
    treatment: ProportionStats | MeanStats | RatioStats | CupedStats,
) -> tuple[float, float, float, float, float, float, tuple[WarningCode, ...]]:
    if isinstance(control, CupedStats) and isinstance(treatment, CupedStats):
        adj = cuped_adjust(control, treatment)
        a, b = adj.control, adj.treatment
        return a.n, a.mean, a.variance, b.n, b.mean, b.variance, adj.warnings
    if isinstance(control, CupedStats) or isinstance(treatment, CupedStats):
        raise InputError("msprt_test needs CupedStats in both arms or in neither.")
    return (
        control.n, control.mean, control.variance, treatment.n, treatment.mean,
        treatment.variance, (),
    )  # fmt: skip


def msprt_test(
    control: ProportionStats | MeanStats | RatioStats | CupedStats,
    treatment: ProportionStats | MeanStats | RatioStats | CupedStats,
    *,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
    previous_p_value: float = 1.0,
) -> SequentialResult:
    """Two-sided mSPRT at the current look (cumulative statistics).

    Pass the p-value of the previous look as ``previous_p_value`` to carry the running minimum;
    CUPED statistics are adjusted first, which shrinks the variance and so the sample needed.
    """
    rho2 = msprt_rho2(tuning_n, alpha)
    n_a, m_a, v_a, n_b, m_b, v_b, warns = _arm_moments(control, treatment)
    n = int(n_a + n_b)
    if n_a == 0 or n_b == 0:
        return _neutral(alpha, tuning_n, n, previous_p_value, (*warns, EMPTY_ARM))
    if min(n_a, n_b) < 2:
        return _neutral(alpha, tuning_n, n, previous_p_value, (*warns, SMALL_SAMPLE))
    var = v_a / n_a + v_b / n_b
    if var <= 0:
        return _neutral(alpha, tuning_n, n, previous_p_value, (*warns, ZERO_VARIANCE))
    effect = m_b - m_a
    log_e = float(msprt_log_evalue(effect, var, n, rho2))
    ratio = n * rho2
    half = math.sqrt(var * (1 + ratio) / ratio * (math.log1p(ratio) - 2 * math.log(alpha)))
    p = min(previous_p_value, math.exp(-log_e) if log_e > 0 else 1.0)
    return SequentialResult(
        alpha, tuning_n, n, effect, math.sqrt(var), effect - half, effect + half, log_e, p,
        p <= alpha, warns,
    )  # fmt: skip


def _neutral(
    alpha: float, tuning_n: float, n: int, p: float, warns: tuple[WarningCode, ...]
) -> SequentialResult:
    inf = math.inf
    return SequentialResult(alpha, tuning_n, n, 0.0, inf, -inf, inf, 0.0, p, p <= alpha, warns)
