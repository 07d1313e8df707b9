"""CUPED variance reduction and SRM checks."""

import numpy as np
import pytest
from scipy import stats

from microfunnel.stats import (
    CupedStats,
    MeanStats,
    cuped_test,
    srm_drilldown,
    srm_test,
    welch_t_test,
)


def _correlated(rho: float, n: int, seed: int, lift: float = 0.0) -> tuple[CupedStats, CupedStats]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, n))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(2, n))
    y[1] += lift
    return CupedStats.from_arrays(y[0], x[0]), CupedStats.from_arrays(y[1], x[1])


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_cuped_removes_about_rho_squared(rho: float) -> None:
    a, b = _correlated(rho, 20_000, seed=int(rho * 10))
    r = cuped_test(a, b)
    assert r.variance_removed == pytest.approx(rho**2, abs=0.02)
    plain = welch_t_test(a.metric, b.metric)
    assert r.result.std_error**2 == pytest.approx(plain.std_error**2 * (1 - rho**2), rel=0.05)


def test_theta_is_the_pooled_regression_slope() -> None:
    rng = np.random.default_rng(9)
    x = rng.gamma(2.0, 3.0, size=(2, 500))
    y = 2.0 + 0.7 * x + rng.normal(size=(2, 500))
    r = cuped_test(CupedStats.from_arrays(y[0], x[0]), CupedStats.from_arrays(y[1], x[1]))
    # numpy: least-squares slope of y on x over both arms
    assert r.theta == pytest.approx(np.polyfit(x.ravel(), y.ravel(), 1)[0], rel=1e-9)


def test_constant_covariate_falls_back_to_plain_test() -> None:
    y = np.arange(20, dtype=float)
    a = CupedStats.from_arrays(y[:10], np.ones(10))
    b = CupedStats.from_arrays(y[10:], np.ones(10))
    r = cuped_test(a, b)
    plain = welch_t_test(MeanStats.from_array(y[:10]), MeanStats.from_array(y[10:]))
    assert r.theta == 0.0 and r.variance_removed == 0.0
    assert r.result.warnings == ("ZERO_COVARIATE_VARIANCE",)
    assert r.result.p_value == pytest.approx(plain.p_value)


def test_cuped_aa_false_positive_rate() -> None:
    rng = np.random.default_rng(21)
    sims, n = 5000, 100
    x = rng.normal(size=(sims, 2, n))
    y = 0.8 * x + 0.6 * rng.normal(size=(sims, 2, n))
    hits = 0
    for i in range(sims):
        a = CupedStats(n, *(float(v) for v in _sums(y[i, 0], x[i, 0])))
        b = CupedStats(n, *(float(v) for v in _sums(y[i, 1], x[i, 1])))
        hits += cuped_test(a, b).result.significant
    assert 0.04 <= hits / sims <= 0.06


def _sums(y: np.ndarray, x: np.ndarray) -> tuple[float, ...]:
    return (y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())


@pytest.mark.parametrize(
    ("counts", "weights"),
    [([5000, 5300], None), ([1000, 2100, 980], [0.25, 0.5, 0.25]), ([10, 0, 12], None)],
)
def test_srm_matches_scipy_chisquare(counts: list[int], weights: list[float] | None) -> None:
    r = srm_test(counts, weights)
    w = np.ones(len(counts)) if weights is None else np.asarray(weights)
    # scipy: chi-square goodness of fit with expected counts from the weights
    ref = stats.chisquare(counts, w / w.sum() * sum(counts))
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue)


def test_srm_without_users_is_neutral() -> None:
    r = srm_test([0, 0])
    assert (r.p_value, r.mismatch, r.warnings) == (1.0, False, ("NO_DATA",))
    with pytest.raises(ValueError):
        srm_test([10])


def test_drilldown_finds_the_broken_slice() -> None:
    rng = np.random.default_rng(5)
    counts = {}
    dims = {"browser": ["chrome", "safari", "firefox"], "country": ["us", "de"]}
    for dim, values in dims.items():
        for v in values:
            counts[(dim, v)] = list(rng.multinomial(4000, [0.5, 0.5]))
    counts[("browser", "safari")] = [2000, 2350]  # treatment arm double-logs on Safari
    slices = srm_drilldown(counts)
    assert (slices[0].dimension, slices[0].value) == ("browser", "safari")
    assert [s.flagged for s in slices] == [True] + [False] * (len(slices) - 1)
    assert slices[0].adjusted_p_value == pytest.approx(min(1.0, 5 * slices[0].result.p_value))
    assert srm_drilldown({}) == ()
