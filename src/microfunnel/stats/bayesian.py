"""Bayesian comparisons: beta-binomial for conversions, Gaussian for means.

Chance to beat control and chance to be best are integrals of posterior densities, computed by
Gauss-Legendre quadrature on panels cut at every arm's posterior quantiles (deterministic, no
Monte Carlo noise). Expected loss ("risk") is the mean shortfall if you ship an arm that is
actually worse: ``E[max(control - treatment, 0)]`` for shipping the treatment. Quantities with
no closed form, such as a product of funnel step rates, use seeded posterior draws
(:func:`beta_posterior_draws`).

>>> r = bayes_proportions(ProportionStats(1000, 100), ProportionStats(1000, 130))
>>> round(r.chance_to_beat_control, 3)
0.982
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from microfunnel.errors import InputError
from microfunnel.stats.messages import EMPTY_ARM, SMALL_SAMPLE, ZERO_VARIANCE, WarningCode
from microfunnel.stats.suffstats import MeanStats, ProportionStats, RatioStats

__all__ = [
    "BayesResult",
    "BetaPrior",
    "NormalPrior",
    "bayes_means",
    "bayes_proportions",
    "beta_posterior_draws",
    "chance_to_be_best",
    "expected_loss_normal",
]

Model = Literal["beta_binomial", "gaussian"]
_LEVELS = special.ndtr(np.linspace(-8.0, 8.0, 65))
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


@dataclass(frozen=True, slots=True)
class BetaPrior:
    """Beta(alpha, beta) prior on a conversion rate; the default is flat."""

    alpha: float = 1.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.alpha <= 0 or self.beta <= 0:
            raise InputError("BetaPrior needs alpha > 0 and beta > 0, e.g. BetaPrior(1, 1).")

    @classmethod
    def from_history(cls, conversions: int, n: int, *, strength: float = 100.0) -> Self:
        """An informative prior centred on a historical rate, worth ``strength`` units of data.

        Capping the weight keeps a long history from drowning the experiment's own data.
        """
        if n <= 0 or not 0 <= conversions <= n or strength <= 0:
            raise InputError("from_history needs 0 <= conversions <= n, n > 0 and strength > 0.")
        rate, weight = conversions / n, min(float(n), strength)
        return cls(1.0 + rate * weight, 1.0 + (1.0 - rate) * weight)


@dataclass(frozen=True, slots=True)
class NormalPrior:
    """Normal(mean, variance) prior on the absolute treatment effect."""

    mean: float = 0.0
    variance: float = 1.0

    def __post_init__(self) -> None:
        if self.variance <= 0:
            raise InputError("NormalPrior needs variance > 0.")

    @classmethod
    def from_history(cls, past_effects: ArrayLike) -> Self:
        """Centre and spread of effects measured in earlier experiments on the same metric."""
        x = np.asarray(past_effects, dtype=float)
        if x.size < 2:
            raise InputError("from_history needs at least two past effects.")
        return cls(float(x.mean()), float(x.var(ddof=1)))


@dataclass(frozen=True, slots=True)
class _Beta:
    a: float
    b: float

    def pdf(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        xs = np.clip(x, 1e-300, 1.0 - 1e-16)
        log = (self.a - 1) * np.log(xs) + (self.b - 1) * np.log1p(-xs)
        log = log - special.betaln(self.a, self.b)
        return np.where((x > 0) & (x < 1), np.exp(log), 0.0)

    def cdf(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(special.betainc(self.a, self.b, np.clip(x, 0.0, 1.0)))

    def ppf(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(special.betaincinv(self.a, self.b, q))

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def var(self) -> float:
        s = self.a + self.b
        return self.a * self.b / (s * s * (s + 1))


@dataclass(frozen=True, slots=True)
class _Normal:
    mu: float
    sd: float

    def pdf(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (x - self.mu) / self.sd
        return np.exp(-0.5 * z * z) / (self.sd * math.sqrt(2 * math.pi))

    def cdf(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(special.ndtr((x - self.mu) / self.sd))

    def ppf(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.mu + self.sd * np.asarray(special.ndtri(q))


_Posterior = _Beta | _Normal


def _chance_best(posteriors: Sequence[_Posterior]) -> NDArray[np.float64]:
    """P(arm k has the largest value) = integral of f_k * prod_{j != k} F_j."""
    edges = np.unique(np.concatenate([p.ppf(_LEVELS) for p in posteriors]))
    half, mid = (edges[1:] - edges[:-1]) / 2, (edges[1:] + edges[:-1]) / 2
    nodes = (mid[:, None] + half[:, None] * _GL_X).ravel()
    weights = (half[:, None] * _GL_W).ravel()
    cdfs = np.array([p.cdf(nodes) for p in posteriors])
    probs = np.empty(len(posteriors))
    for k, post in enumerate(posteriors):
        others = np.prod(np.delete(cdfs, k, axis=0), axis=0)
        probs[k] = float(np.sum(weights * post.pdf(nodes) * others))
    return probs / probs.sum()


def expected_loss_normal(mu: float, sd: float) -> tuple[float, float]:
    """(loss of keeping control, loss of shipping treatment) for an effect ~ N(mu, sd^2)."""
    if sd == 0:
        return max(mu, 0.0), max(-mu, 0.0)
    z = mu / sd
    dens = sd * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return dens + mu * float(special.ndtr(z)), dens - mu * float(special.ndtr(-z))


@dataclass(frozen=True, slots=True)
class BayesResult:
    """Posterior comparison of treatment vs control; ``effect`` is treatment minus control.

    ``risk_treatment`` is the expected loss of shipping the treatment, ``risk_control`` of
    keeping the control, both in the metric's units.
    """

    model: Model
    alpha: float
    control_mean: float
    treatment_mean: float
    effect: float
    effect_sd: float
    ci_lower: float
    ci_upper: float
    relative_effect: float
    chance_to_beat_control: float
    risk_control: float
    risk_treatment: float
    control_interval: tuple[float, float]
    treatment_interval: tuple[float, float]
    warnings: tuple[WarningCode, ...] = ()


def _neutral(model: Model, alpha: float, warning: WarningCode) -> BayesResult:
    inf = (-math.inf, math.inf)
    nan = math.nan
    return BayesResult(
        model, alpha, nan, nan, 0.0, math.inf, -math.inf, math.inf, 0.0, 0.5, 0.0, 0.0, inf, inf,
        (warning,),
    )  # fmt: skip


def _ci(mu: float, sd: float, alpha: float) -> tuple[float, float]:
    z = float(special.ndtri(1 - alpha / 2))
    return mu - z * sd, mu + z * sd


def _arm_interval(post: _Posterior, alpha: float) -> tuple[float, float]:
    lo, hi = post.ppf(np.array([alpha / 2, 1 - alpha / 2]))
    return float(lo), float(hi)


def bayes_proportions(
    control: ProportionStats,
    treatment: ProportionStats,
    *,
    prior: BetaPrior = BetaPrior(),
    alpha: float = 0.05,
) -> BayesResult:
    """Beta-binomial model. Arm intervals are exact; the difference interval is normal with the
    exact posterior moments."""
    if control.n == 0 or treatment.n == 0:
        return _neutral("beta_binomial", alpha, EMPTY_ARM)
    a = _Beta(prior.alpha + control.conversions, prior.beta + control.n - control.conversions)
    b = _Beta(prior.alpha + treatment.conversions, prior.beta + treatment.n - treatment.conversions)
    a_up, b_up = _Beta(a.a + 1, a.b), _Beta(b.a + 1, b.b)
    ctw = float(_chance_best([a, b])[1])
    risk_treatment = a.mean * _chance_best([b, a_up])[1] - b.mean * _chance_best([b_up, a])[1]
    risk_control = b.mean * _chance_best([a, b_up])[1] - a.mean * _chance_best([a_up, b])[1]
    effect, sd = b.mean - a.mean, math.sqrt(a.var + b.var)
    lo, hi = _ci(effect, sd, alpha)
    return BayesResult(
        "beta_binomial", alpha, a.mean, b.mean, effect, sd, lo, hi, effect / a.mean, ctw,
        max(float(risk_control), 0.0), max(float(risk_treatment), 0.0),
        _arm_interval(a, alpha), _arm_interval(b, alpha),
    )  # fmt: skip


def bayes_means(
    control: MeanStats | RatioStats | ProportionStats,
    treatment: MeanStats | RatioStats | ProportionStats,
    *,
    prior: NormalPrior | None = None,
    alpha: float = 0.05,
) -> BayesResult:
    """Gaussian model: flat priors on the arm means, optionally a Normal prior on the effect.

    Any statistics with ``n``, ``mean`` and ``variance`` work (ratio metrics use the delta
    method; proportions the normal approximation to the beta-binomial).

    With ``prior=None`` the chance to win equals GrowthBook's absolute-effect result.
    """
    if control.n == 0 or treatment.n == 0:
        return _neutral("gaussian", alpha, EMPTY_ARM)
    if min(control.n, treatment.n) < 2:
        return _neutral("gaussian", alpha, SMALL_SAMPLE)
    va, vb = control.variance / control.n, treatment.variance / treatment.n
    if va + vb == 0:
        return _neutral("gaussian", alpha, ZERO_VARIANCE)
    mu, var = treatment.mean - control.mean, va + vb
    if prior is not None:
        precision = 1 / var + 1 / prior.variance
        mu, var = (mu / var + prior.mean / prior.variance) / precision, 1 / precision
    sd = math.sqrt(var)
    risk_control, risk_treatment = expected_loss_normal(mu, sd)
    lo, hi = _ci(mu, sd, alpha)
    rel = mu / control.mean if control.mean else 0.0
    return BayesResult(
        "gaussian", alpha, control.mean, treatment.mean, mu, sd, lo, hi, rel,
        float(special.ndtr(mu / sd)), risk_control, risk_treatment,
        _ci(control.mean, math.sqrt(va), alpha), _ci(treatment.mean, math.sqrt(vb), alpha),
    )  # fmt: skip


def chance_to_be_best(
    arms: Sequence[ProportionStats | MeanStats],
    *,
    prior: BetaPrior = BetaPrior(),
) -> tuple[tuple[float, ...], tuple[WarningCode, ...]]:
    """Posterior probability that each arm has the highest rate or mean.

    Proportions use Beta posteriors, means flat-prior normal posteriors. Arms that cannot be
    estimated (no units; fewer than two for means; zero variance) get 0 and a warning; if no
    arm can be estimated the answer is uniform.
    """
    if len(arms) < 2:
        raise InputError("chance_to_be_best needs at least two arms.")
    usable: list[int] = []
    posts: list[_Posterior] = []
    warns: set[WarningCode] = set()
    for i, arm in enumerate(arms):
        if isinstance(arm, ProportionStats):
            if arm.n == 0:
                warns.add(EMPTY_ARM)
                continue
            posts.append(_Beta(prior.alpha + arm.conversions, prior.beta + arm.n - arm.conversions))
        else:
            code = EMPTY_ARM if arm.n == 0 else SMALL_SAMPLE if arm.n < 2 else None
            if code is None and arm.variance == 0:
                code = ZERO_VARIANCE
            if code is not None:
                warns.add(code)
                continue
            posts.append(_Normal(arm.mean, math.sqrt(arm.variance / arm.n)))
        usable.append(i)
    probs = np.zeros(len(arms))
    if len(posts) == 0:
        probs[:] = 1.0 / len(arms)
    elif len(posts) == 1:
        probs[usable[0]] = 1.0
    else:
        probs[usable] = _chance_best(posts)
    return tuple(float(p) for p in probs), tuple(sorted(warns))


def beta_posterior_draws(
    arms: Sequence[ProportionStats],
    *,
    draws: int,
    seed: int,
    prior: BetaPrior = BetaPrior(),
) -> NDArray[np.float64]:
    """``draws`` samples of each arm's rate from its Beta posterior: one row per arm.

    One generator seeded with ``seed`` samples the arms in order, so the same arms, prior and
    seed always give the same draws.

    >>> d = beta_posterior_draws([ProportionStats(800, 200)], draws=20000, seed=0)
    >>> d.shape, round(float(d.mean()), 2)
    ((1, 20000), 0.25)
    """
    if draws < 1:
        raise InputError(f"draws must be at least 1, e.g. 4000, got {draws}.")
    rng = np.random.default_rng(seed)
    out = np.empty((len(arms), draws))
    for i, arm in enumerate(arms):
        a, b = prior.alpha + arm.conversions, prior.beta + arm.n - arm.conversions
        out[i] = rng.beta(a, b, size=draws)
    return out
