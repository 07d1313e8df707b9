"""Odds ratios, logistic regression and ROC AUC against statsmodels and scipy.

References: ``statsmodels`` ``Table2x2`` (odds ratio and Woolf interval) and ``Logit``
(maximum likelihood); ``scipy.optimize.minimize`` on the penalized log-likelihood for the ridge
fit; the Mann-Whitney U of ``scipy.stats.mannwhitneyu`` for the AUC (AUC = U / (n1 n0));
``statsmodels`` ``multipletests`` for BH across candidates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special
from scipy.stats import mannwhitneyu
from statsmodels.discrete.discrete_model import Logit
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests

from microfunnel.errors import InputError
from microfunnel.stats import (
    OddsRatio,
    ProportionStats,
    adjust_pvalues,
    fit_logistic,
    odds_ratio,
    roc_auc,
    z_test_proportions,
)


@pytest.mark.parametrize(
    "cells",
    [(30, 70, 20, 180), (5, 3, 7, 40), (1000, 9000, 800, 9200), (0, 10, 5, 10), (12, 0, 0, 3)],
)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_odds_ratio_and_woolf_interval_match_statsmodels(
    cells: tuple[int, int, int, int], alpha: float
) -> None:
    table = np.array(cells, dtype=float).reshape(2, 2)
    # Haldane-Anscombe adds 0.5 to every cell when one is 0; statsmodels' own shift_zeros
    # replaces only the zero cells, so it is given the corrected table.
    ref = Table2x2(table + 0.5 if 0 in cells else table, shift_zeros=False)
    r = odds_ratio(*cells, alpha=alpha)
    assert r.estimate == pytest.approx(ref.oddsratio, rel=1e-12)
    assert (r.ci_lower, r.ci_upper) == pytest.approx(ref.oddsratio_confint(alpha), rel=1e-12)
    estimate, lo, hi = r
    assert (estimate, lo, hi) == (r.estimate, r.ci_lower, r.ci_upper)
    assert isinstance(r, OddsRatio)


def test_odds_ratio_misuse_raises() -> None:
    with pytest.raises(InputError):
        odds_ratio(-1, 2, 3, 4)
    with pytest.raises(InputError, match="alpha"):
        odds_ratio(1, 2, 3, 4, alpha=1.5)


def test_candidates_scope_controls_fdr_like_statsmodels() -> None:
    # Candidates screened as drivers: exposed vs not, BH across candidates.
    rng = np.random.default_rng(7)
    n, base = 5000, 0.05
    p_values, labels = [], []
    for i, lift in enumerate([1.0, 1.0, 1.6, 1.0, 2.2, 0.6, 1.0, 1.0]):
        did = int(rng.integers(300, 1500))
        did_conv = int(rng.binomial(did, base * lift))
        others_conv = int(rng.binomial(n - did, base))
        test = z_test_proportions(
            ProportionStats(n - did, others_conv), ProportionStats(did, did_conv)
        )
        p_values.append(test.p_value)
        labels.append(f"candidate_{i}")
    r = adjust_pvalues(p_values, method="bh", scope="candidates", labels=labels)
    rejected, adjusted, _, _ = multipletests(p_values, alpha=0.05, method="fdr_bh")
    assert r.scope == "candidates" and r.labels == tuple(labels)
    assert r.adjusted == pytest.approx(adjusted, rel=1e-12)
    assert r.rejected == tuple(rejected)


def _simulated(n: int, beta: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.minimum(rng.poisson(1.5, (n, len(beta) - 1)), 10).astype(float)
    y = rng.binomial(1, special.expit(beta[0] + x @ beta[1:])).astype(float)
    return x, y


def test_logistic_fit_matches_statsmodels_logit() -> None:
    x, y = _simulated(3000, np.array([-1.5, 0.6, -0.4, 0.1]), seed=2)
    ref = Logit(y, np.column_stack([np.ones(len(y)), x])).fit(disp=0, tol=1e-12)
    assert fit_logistic(x, y) == pytest.approx(ref.params, rel=1e-8, abs=1e-10)
    # One feature as a flat array.
    ref1 = Logit(y, np.column_stack([np.ones(len(y)), x[:, 0]])).fit(disp=0, tol=1e-12)
    assert fit_logistic(x[:, 0], y) == pytest.approx(ref1.params, rel=1e-8, abs=1e-10)


def test_ridge_logistic_fit_maximizes_the_penalized_likelihood() -> None:
    x, y = _simulated(400, np.array([-0.5, 0.8, -0.3]), seed=5)
    design = np.column_stack([np.ones(len(y)), x])
    l2 = 2.0

    def objective(b: np.ndarray) -> float:
        eta = design @ b
        return float(np.sum(np.logaddexp(0, eta) - y * eta) + l2 / 2 * np.sum(b[1:] ** 2))

    ref = optimize.minimize(objective, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    assert fit_logistic(x, y, l2=l2) == pytest.approx(ref.x, abs=1e-6)
    # Perfect separation: the penalty keeps the slope finite.
    sep_x, sep_y = np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0])
    assert np.all(np.isfinite(fit_logistic(sep_x, sep_y, l2=1.0)))


def test_logistic_misuse_raises() -> None:
    with pytest.raises(InputError):
        fit_logistic(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(InputError, match="l2"):
        fit_logistic(np.zeros((3, 2)), np.zeros(3), l2=-1.0)


def test_auc_is_the_mann_whitney_u_over_n1_n0() -> None:
    rng = np.random.default_rng(11)
    y = rng.binomial(1, 0.3, 500)
    score = np.round(rng.normal(size=500) + 0.8 * y, 1)  # rounded, so there are ties
    u = mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert roc_auc(y, score) == pytest.approx(u / (y.sum() * (1 - y).sum()), rel=1e-12)


def test_auc_counts_ties_half_and_needs_both_classes() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1], [1.0, 1.0]) == 0.5
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))
    with pytest.raises(InputError):
        roc_auc([0, 1, 1], [0.2, 0.3])
