"""Seeded Beta posterior draws, checked against scipy's Beta distribution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from microfunnel.errors import InputError
from microfunnel.stats import BetaPrior, ProportionStats, beta_posterior_draws


def test_draws_follow_the_beta_posterior() -> None:
    arms = [ProportionStats(10000, 800), ProportionStats(800, 200), ProportionStats(0, 0)]
    draws = beta_posterior_draws(arms, draws=20000, seed=4)
    assert draws.shape == (3, 20000)
    # Uniform prior: Beta(x + 1, n - x + 1); reference cdf from scipy.stats.beta.
    for row, (a, b) in zip(draws, [(801, 9201), (201, 601), (1, 1)], strict=True):
        # A correct sampler fails this in 1 of 1000 seeds (KS p-values are uniform).
        assert stats.kstest(row, stats.beta(a, b).cdf).pvalue > 0.001
        assert row.mean() == pytest.approx(stats.beta(a, b).mean(), rel=0.01)


def test_prior_shifts_the_posterior() -> None:
    prior = BetaPrior(30.0, 70.0)
    (row,) = beta_posterior_draws([ProportionStats(100, 10)], draws=20000, seed=0, prior=prior)
    ref = stats.beta(40, 160)
    assert np.quantile(row, [0.025, 0.975]) == pytest.approx(ref.ppf([0.025, 0.975]), rel=0.02)


def test_same_seed_same_draws_in_arm_order() -> None:
    arms = [ProportionStats(500, 40), ProportionStats(40, 10)]
    a = beta_posterior_draws(arms, draws=100, seed=9)
    assert np.array_equal(a, beta_posterior_draws(arms, draws=100, seed=9))
    # One generator for all arms: the second arm's draws follow the first arm's.
    rng = np.random.default_rng(9)
    assert np.array_equal(a[0], rng.beta(41, 461, size=100))
    assert np.array_equal(a[1], rng.beta(11, 31, size=100))
    assert not np.array_equal(a, beta_posterior_draws(arms, draws=100, seed=10))


def test_no_arms_and_misuse() -> None:
    assert beta_posterior_draws([], draws=5, seed=0).shape == (0, 5)
    with pytest.raises(InputError, match="draws"):
        beta_posterior_draws([ProportionStats(1, 1)], draws=0, seed=0)
