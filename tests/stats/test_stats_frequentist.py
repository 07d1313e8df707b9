"""Frequentist tests against scipy and statsmodels, plus A/A error rate and coverage."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from microfunnel.stats import (
    MeanStats,
    ProportionStats,
    RatioStats,
    welch_t_test,
    z_test_proportions,
)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_z_test_matches_statsmodels(alternative: str) -> None:
    r = z_test_proportions(
        ProportionStats(4000, 410), ProportionStats(4100, 470), alternative=alternative
    )
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    # statsmodels: pooled-variance z statistic
    z, p = proportions_ztest([470, 410], [4100, 4000], alternative=sm_alt)
    assert r.statistic == pytest.approx(z, rel=1e-12)
    assert r.p_value == pytest.approx(p, rel=1e-9)
    if alternative == "two-sided":
        # statsmodels: Wald (unpooled) interval for the difference of proportions
        lo, hi = confint_proportions_2indep(470, 4100, 410, 4000, method="wald")
        assert (r.ci_lower, r.ci_upper) == pytest.approx((lo, hi), rel=1e-10)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy_and_statsmodels(alternative: str) -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(10, 3, 200), rng.normal(10.8, 5, 150)
    r = welch_t_test(MeanStats.from_array(a), MeanStats.from_array(b), alternative=alternative)
    # scipy: Welch t-test on the raw arrays
    ref = stats.ttest_ind(b, a, equal_var=False, alternative=alternative)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.df == pytest.approx(ref.df, rel=1e-10)
    lo, hi = ref.confidence_interval(0.95)
    assert r.ci_lower == pytest.approx(lo, rel=1e-9)
    assert r.ci_upper == pytest.approx(hi, rel=1e-9)
    # statsmodels: the same through CompareMeans with unequal variances
    cm = CompareMeans(DescrStatsW(b), DescrStatsW(a))
    assert r.std_error == pytest.approx(cm.std_meandiff_separatevar, rel=1e-10)


def test_relative_interval_is_delta_method() -> None:
    # Reference: Var(mb/ma) ~ vb/ma^2 + ma_var * mb^2/ma^4, evaluated with numpy by hand.
    a, b = MeanStats(1000, 5000.0, 40000.0), MeanStats(1200, 6600.0, 52000.0)
    r = welch_t_test(a, b)
    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(vb / a.mean**2 + va * b.mean**2 / a.mean**4)
    assert r.relative_effect == pytest.approx(b.mean / a.mean - 1)
    assert r.relative_std_error == pytest.approx(se)
    crit = stats.t.ppf(0.975, r.df)
    assert r.relative_ci_upper - r.relative_ci_lower == pytest.approx(2 * crit * se)


def test_ratio_metric_uses_delta_variance() -> None:
    rng = np.random.default_rng(5)
    den = [rng.poisson(2, 800) + 1 for _ in range(2)]
    num = [d * rng.gamma(2.0, 3.0, 800) for d in den]
    a, b = RatioStats.from_arrays(num[0], den[0]), RatioStats.from_arrays(num[1], den[1])
    r = welch_t_test(a, b)
    assert r.effect == pytest.approx(b.mean - a.mean)
    assert r.std_error == pytest.approx(math.sqrt(a.variance / 800 + b.variance / 800))


def test_tiny_p_values_do_not_underflow() -> None:
    r = z_test_proportions(ProportionStats(10**7, 10**6), ProportionStats(10**7, 12 * 10**5))
    # scipy: log survival function of the normal, two-sided
    assert r.log_p_value == pytest.approx(math.log(2) + stats.norm.logsf(r.statistic), rel=1e-9)
    assert r.log_p_value < -10_000
    assert r.p_value > 0.0
    t = welch_t_test(MeanStats(50, 50.0, 50.5), MeanStats(50, 500.0, 5000.5))
    assert t.log_p_value == pytest.approx(math.log(2) + stats.t.logsf(t.statistic, t.df), rel=1e-6)
    assert t.p_value > 0.0


@pytest.mark.parametrize(
    ("control", "treatment", "code"),
    [
        (ProportionStats(0, 0), ProportionStats(100, 10), "EMPTY_ARM"),
        (ProportionStats(100, 0), ProportionStats(100, 0), "ZERO_VARIANCE"),
        (ProportionStats(100, 100), ProportionStats(100, 100), "ZERO_VARIANCE"),
    ],
)
def test_degenerate_proportions_are_neutral(
    control: ProportionStats, treatment: ProportionStats, code: str
) -> None:
    r = z_test_proportions(control, treatment)
    assert (r.p_value, r.significant, r.warnings) == (1.0, False, (code,))


@pytest.mark.parametrize(
    ("control", "treatment", "code"),
    [
        (MeanStats(0, 0.0, 0.0), MeanStats(10, 10.0, 20.0), "EMPTY_ARM"),
        (MeanStats(1, 3.0, 9.0), MeanStats(10, 10.0, 20.0), "SMALL_SAMPLE"),
        (MeanStats(10, 30.0, 90.0), MeanStats(10, 50.0, 250.0), "ZERO_VARIANCE"),
        (RatioStats(10, 0.0, 0.0, 0.0, 0.0, 0.0), RatioStats(10, 0.0, 0.0, 0.0, 0.0, 0.0), None),
    ],
)
def test_degenerate_means_are_neutral(
    control: MeanStats | RatioStats, treatment: MeanStats | RatioStats, code: str | None
) -> None:
    r = welch_t_test(control, treatment)
    assert r.p_value == 1.0 and not r.significant
    assert code is None or code in r.warnings
    assert r.warnings


def test_zero_baseline_leaves_relative_effect_neutral() -> None:
    r = welch_t_test(MeanStats(10, 0.0, 2.0), MeanStats(10, 5.0, 9.0))
    assert "ZERO_BASELINE" in r.warnings
    assert r.relative_effect == 0.0 and math.isinf(r.relative_std_error)


def test_aa_false_positive_rate() -> None:
    rng = np.random.default_rng(11)
    sims, n = 6000, 400
    conv = rng.binomial(n, 0.1, size=(sims, 2))
    values = rng.exponential(2.0, size=(sims, 2, 60))
    sums, sq = values.sum(axis=2), (values**2).sum(axis=2)
    z_hits = sum(
        z_test_proportions(ProportionStats(n, int(c[0])), ProportionStats(n, int(c[1]))).significant
        for c in conv
    )
    t_hits = sum(
        welch_t_test(MeanStats(60, s[0], q[0]), MeanStats(60, s[1], q[1])).significant
        for s, q in zip(sums, sq, strict=True)
    )
    assert 0.04 <= z_hits / sims <= 0.06
    assert 0.04 <= t_hits / sims <= 0.06


def test_intervals_cover_95_percent() -> None:
    rng = np.random.default_rng(12)
    sims, n = 6000, 2000
    conv = rng.binomial(n, [0.10, 0.12], size=(sims, 2))
    abs_cover = rel_cover = 0
    for c in conv:
        r = z_test_proportions(ProportionStats(n, int(c[0])), ProportionStats(n, int(c[1])))
        abs_cover += r.ci_lower <= 0.02 <= r.ci_upper
        rel_cover += r.relative_ci_lower <= 0.2 <= r.relative_ci_upper
    assert 0.94 <= abs_cover / sims <= 0.96
    assert 0.94 <= rel_cover / sims <= 0.96
