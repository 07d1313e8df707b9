"""Bayesian models against closed forms and large seeded Monte Carlo references."""

import math

import numpy as np
import pytest
from scipy import special, stats

from microfunnel.stats import (
    BetaPrior,
    MeanStats,
    NormalPrior,
    ProportionStats,
    bayes_means,
    bayes_proportions,
    chance_to_be_best,
)


def evan_miller_prob_b_beats_a(aa: int, ba: int, ab: int, bb: int) -> float:
    """Exact P(pB > pA) for Beta posteriors with integer alpha_B (Evan Miller, "Formulas for
    Bayesian A/B testing", 2015)."""
    i = np.arange(ab)
    log_terms = (
        special.betaln(aa + i, ba + bb)
        - np.log(bb + i)
        - special.betaln(1 + i, bb)
        - special.betaln(aa, ba)
    )
    return float(np.exp(log_terms).sum())


@pytest.mark.parametrize(
    ("a", "b"),
    [((1000, 100), (1000, 130)), ((50, 3), (60, 9)), ((20000, 1500), (500, 40))],
)
def test_chance_to_beat_control_is_exact(a: tuple[int, int], b: tuple[int, int]) -> None:
    r = bayes_proportions(ProportionStats(*a), ProportionStats(*b))
    ref = evan_miller_prob_b_beats_a(1 + a[1], 1 + a[0] - a[1], 1 + b[1], 1 + b[0] - b[1])
    assert r.chance_to_beat_control == pytest.approx(ref, abs=1e-9)


def test_beta_expected_loss_matches_monte_carlo() -> None:
    r = bayes_proportions(ProportionStats(800, 80), ProportionStats(820, 95))
    rng = np.random.default_rng(0)
    pa = rng.beta(81, 721, 2_000_000)
    pb = rng.beta(96, 726, 2_000_000)
    assert r.risk_treatment == pytest.approx(np.maximum(pa - pb, 0).mean(), rel=0.02)
    assert r.risk_control == pytest.approx(np.maximum(pb - pa, 0).mean(), rel=0.01)
    # scipy: exact equal-tailed posterior interval of each arm
    assert r.control_interval == pytest.approx(stats.beta.ppf([0.025, 0.975], 81, 721))


def test_informative_prior_from_history_pulls_toward_history() -> None:
    prior = BetaPrior.from_history(5000, 100_000, strength=1000)
    assert prior.alpha / (prior.alpha + prior.beta) == pytest.approx(0.05, rel=0.02)
    flat = bayes_proportions(ProportionStats(100, 12), ProportionStats(100, 10))
    informed = bayes_proportions(ProportionStats(100, 12), ProportionStats(100, 10), prior=prior)
    assert abs(informed.control_mean - 0.05) < abs(flat.control_mean - 0.05)
    assert abs(informed.effect) < abs(flat.effect)


def test_gaussian_flat_prior_is_normal_closed_form() -> None:
    a, b = MeanStats(500, 2500.0, 17000.0), MeanStats(520, 2700.0, 18500.0)
    r = bayes_means(a, b)
    sd = math.sqrt(a.variance / a.n + b.variance / b.n)
    mu = b.mean - a.mean
    assert r.chance_to_beat_control == pytest.approx(stats.norm.sf(0, mu, sd))
    # Reference: E[max(-D, 0)] for D ~ N(mu, sd) by scipy numerical integration
    from scipy.integrate import quad

    loss = quad(lambda x: -x * stats.norm.pdf(x, mu, sd), -np.inf, 0)[0]
    assert r.risk_treatment == pytest.approx(loss, rel=1e-6)
    assert (r.ci_lower, r.ci_upper) == pytest.approx(stats.norm.interval(0.95, mu, sd))


def test_gaussian_informative_prior_is_conjugate_update() -> None:
    a, b = MeanStats(100, 500.0, 3000.0), MeanStats(100, 560.0, 3500.0)
    prior = NormalPrior.from_history([0.1, -0.2, 0.05, 0.0])
    r = bayes_means(a, b, prior=prior)
    v = a.variance / a.n + b.variance / b.n
    post_var = 1 / (1 / v + 1 / prior.variance)
    assert r.effect_sd == pytest.approx(math.sqrt(post_var))
    assert r.effect == pytest.approx(post_var * (0.6 / v + prior.mean / prior.variance))


def test_chance_to_be_best_matches_monte_carlo() -> None:
    arms = [ProportionStats(1000, 100), ProportionStats(1000, 112), ProportionStats(900, 105)]
    probs, warns = chance_to_be_best(arms)
    rng = np.random.default_rng(1)
    draws = np.column_stack(
        [rng.beta(1 + s.conversions, 1 + s.n - s.conversions, 1_000_000) for s in arms]
    )
    mc = np.bincount(draws.argmax(axis=1), minlength=3) / 1_000_000
    assert probs == pytest.approx(mc, abs=3e-3)
    assert sum(probs) == pytest.approx(1.0)
    assert warns == ()
    two, _ = chance_to_be_best(arms[:2])
    assert two[1] == pytest.approx(bayes_proportions(*arms[:2]).chance_to_beat_control)


def test_chance_to_be_best_for_means_and_degenerate_arms() -> None:
    a, b = MeanStats(400, 400.0, 800.0), MeanStats(400, 440.0, 880.0)
    probs, warns = chance_to_be_best([a, b, MeanStats(0, 0.0, 0.0)])
    assert probs[2] == 0.0 and warns == ("EMPTY_ARM",)
    assert probs[1] == pytest.approx(bayes_means(a, b).chance_to_beat_control, abs=1e-9)
    uniform, _ = chance_to_be_best([MeanStats(1, 1.0, 1.0), MeanStats(0, 0.0, 0.0)])
    assert uniform == (0.5, 0.5)


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (bayes_proportions(ProportionStats(0, 0), ProportionStats(10, 1)), "EMPTY_ARM"),
        (bayes_means(MeanStats(0, 0.0, 0.0), MeanStats(5, 5.0, 6.0)), "EMPTY_ARM"),
        (bayes_means(MeanStats(1, 1.0, 1.0), MeanStats(5, 5.0, 6.0)), "SMALL_SAMPLE"),
        (bayes_means(MeanStats(5, 5.0, 5.0), MeanStats(5, 10.0, 20.0)), "ZERO_VARIANCE"),
    ],
)
def test_degenerate_inputs_are_neutral(result: object, code: str) -> None:
    assert result.chance_to_beat_control == 0.5  # type: ignore[attr-defined]
    assert result.warnings == (code,)  # type: ignore[attr-defined]


def test_extreme_rates_are_symmetric() -> None:
    assert bayes_proportions(
        ProportionStats(100, 0), ProportionStats(100, 0)
    ).chance_to_beat_control == pytest.approx(0.5)
    r = bayes_proportions(ProportionStats(100, 100), ProportionStats(100, 0))
    assert r.chance_to_beat_control < 1e-20
