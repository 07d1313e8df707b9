"""Partial pooling, Thompson sampling and survival analysis."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.meta_analysis import combine_effects

from microfunnel.stats import (
    ProportionStats,
    chance_to_be_best,
    kaplan_meier,
    kaplan_meier_from_counts,
    logrank_test,
    partial_pool,
    thompson_weights,
)


def _segments(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.01, 0.05, 20)
    return rng.normal(0.05, 0.03, 20) + rng.normal(0, se), se


def test_method_of_moments_tau2_matches_statsmodels() -> None:
    y, se = _segments(3)
    r = partial_pool(y, se, method="mm")
    # statsmodels: DerSimonian-Laird random-effects meta-analysis
    ref = combine_effects(y, se**2, method_re="dl")
    assert r.tau2 == pytest.approx(ref.tau2, rel=1e-10)
    assert r.mu == pytest.approx(ref.mean_effect_re, rel=1e-10)


def test_reml_tau2_maximises_the_restricted_likelihood() -> None:
    y, se = _segments(4)
    v = se**2

    def neg_restricted_loglik(t: float) -> float:
        w = 1 / (v + t)
        mu = (w * y).sum() / w.sum()
        return 0.5 * (np.log(v + t).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())

    ref = minimize_scalar(
        neg_restricted_loglik, bounds=(0, 1), method="bounded", options={"xatol": 1e-12}
    )
    assert partial_pool(y, se).tau2 == pytest.approx(ref.x, rel=1e-4)


def test_shrinkage_pulls_noisy_segments_more() -> None:
    r = partial_pool([0.2, 0.2, 0.0, 0.01], [0.01, 0.1, 0.01, 0.01], labels=list("abcd"))
    assert r.shrinkage[1] > r.shrinkage[0]
    assert abs(r.effects[1] - r.mu) < abs(r.effects[0] - r.mu)
    assert all(lo < e < hi for lo, e, hi in zip(r.ci_lower, r.effects, r.ci_upper, strict=True))
    pooled = partial_pool([0.05, 0.05, 0.05], [0.02, 0.03, 0.04])
    assert pooled.tau2 == 0.0 and pooled.effects == pytest.approx([0.05] * 3)


def test_pooling_beats_raw_estimates_and_intervals_nearly_cover() -> None:
    # Empirical Bayes intervals are known to under-cover somewhat when tau is estimated from
    # 20 segments (Morris 1983, JASA 78:47); the tau^2 correction keeps them near nominal.
    rng = np.random.default_rng(6)
    covered = total = 0
    raw_err = pooled_err = 0.0
    for _ in range(400):
        true = rng.normal(0.02, 0.02, 20)
        se = rng.uniform(0.01, 0.03, 20)
        y = true + rng.normal(0, se)
        r = partial_pool(y, se)
        covered += int(np.sum((np.array(r.ci_lower) <= true) & (true <= np.array(r.ci_upper))))
        total += 20
        raw_err += float(np.sum((y - true) ** 2))
        pooled_err += float(np.sum((np.array(r.effects) - true) ** 2))
    assert pooled_err < 0.8 * raw_err
    assert 0.9 <= covered / total <= 0.97


def test_thompson_weights_estimate_chance_to_be_best() -> None:
    arms = [ProportionStats(500, 50), ProportionStats(500, 60), ProportionStats(500, 55)]
    w = thompson_weights(arms, draws=200_000, seed=3)
    exact, _ = chance_to_be_best(arms)
    assert w == pytest.approx(exact, abs=5e-3)
    assert thompson_weights(arms, seed=3) == thompson_weights(arms, seed=3)
    floored = thompson_weights([ProportionStats(1000, 10), ProportionStats(1000, 90)], floor=0.1)
    assert floored[0] == pytest.approx(0.1) and sum(floored) == pytest.approx(1.0)


def _censored(seed: int, scale: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.exponential(scale, n).round()
    follow_up = rng.uniform(5, 20, n).round()
    return np.minimum(t, follow_up), t <= follow_up


def test_kaplan_meier_matches_statsmodels() -> None:
    t, e = _censored(1, 10.0, 300)
    km = kaplan_meier(t, e)
    ref = SurvfuncRight(t, e.astype(int))
    assert km.times == pytest.approx(ref.surv_times)
    assert km.survival == pytest.approx(ref.surv_prob, rel=1e-12)
    assert km.std_error == pytest.approx(ref.surv_prob_se, rel=1e-10)
    bands = zip(km.ci_lower, km.survival, km.ci_upper, strict=True)
    assert all(lo <= s <= hi for lo, s, hi in bands)


def test_kaplan_meier_from_counts_equals_per_unit() -> None:
    t, e = _censored(2, 8.0, 200)
    times = np.unique(t)
    events = [int(np.sum((t == x) & e)) for x in times]
    censored = [int(np.sum((t == x) & ~e)) for x in times]
    assert kaplan_meier_from_counts(times, events, censored) == kaplan_meier(t, e)


def test_logrank_matches_statsmodels() -> None:
    ta, ea = _censored(3, 10.0, 250)
    tb, eb = _censored(4, 7.0, 250)
    r = logrank_test(ta, ea, tb, eb)
    group = np.r_[np.zeros(250), np.ones(250)]
    stat, p = survdiff(np.r_[ta, tb], np.r_[ea, eb].astype(int), group)
    assert r.statistic == pytest.approx(stat, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-6)
    assert logrank_test([], [], tb, eb).warnings == ("EMPTY_ARM",)
    assert logrank_test([1, 2], [0, 0], [3], [0]).p_value == 1.0
