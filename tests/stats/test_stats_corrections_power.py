"""Multiple-testing corrections and power calculations against statsmodels."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from microfunnel.stats import (
    MeanStats,
    adjust_pvalues,
    duration_days,
    inflation_factor,
    mde_means,
    mde_proportions,
    sample_size_means,
    sample_size_proportions,
    welch_t_test,
)


@pytest.mark.parametrize(("method", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_pvalues_match_statsmodels(method: str, sm_method: str) -> None:
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=15), rng.uniform(0, 0.01, size=5), [0.02, 0.02]])
    r = adjust_pvalues(p, method=method, scope="segments", labels=[f"s{i}" for i in range(22)])
    rejected, adjusted, _, _ = multipletests(p, alpha=0.05, method=sm_method)
    assert r.adjusted == pytest.approx(adjusted, rel=1e-12)
    assert r.rejected == tuple(rejected)
    assert (r.scope, r.method, r.labels[3]) == ("segments", method, "s3")


def test_correction_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        adjust_pvalues([0.5, 1.5], method="holm", scope="metrics")
    with pytest.raises(ValueError):
        adjust_pvalues([0.5], method="bh", scope="variants", labels=["a", "b"])


def test_sample_size_for_means_matches_statsmodels() -> None:
    # statsmodels: one-sided normal power analysis, effect size d = mde / sd
    r = sample_size_means(2.0, 0.1, alternative="greater", ratio=2.0)
    ref = NormalIndPower().solve_power(0.05, alpha=0.05, power=0.8, ratio=2.0, alternative="larger")
    assert r.n_per_arm == pytest.approx(ref, rel=1e-6)
    assert r.total == pytest.approx(3 * ref, rel=1e-6)


def test_sample_size_for_proportions_matches_statsmodels() -> None:
    r = sample_size_proportions(0.10, 0.10)
    # statsmodels two-sided also counts the far tail (tiny here), hence rel=1e-4
    es = 0.01 / math.sqrt((0.1 * 0.9 + 0.11 * 0.89) / 2)
    ref = NormalIndPower().solve_power(es, nobs1=None, alpha=0.05, power=0.8)
    assert r.n_per_arm == pytest.approx(ref, rel=1e-4)
    assert r.mde == pytest.approx(0.01)


def test_mde_inverts_sample_size() -> None:
    n = sample_size_proportions(0.05, 0.004, relative=False).n_per_arm
    assert mde_proportions(0.05, n).mde == pytest.approx(0.004, rel=1e-6)
    m = sample_size_means(3.0, 0.2, design="obrien_fleming").n_per_arm
    assert mde_means(3.0, m, design="obrien_fleming").mde == pytest.approx(0.2, rel=1e-6)
    fixed_total = sample_size_means(3.0, 0.2).total
    seq = sample_size_means(3.0, 0.2, design="msprt", tuning_n=fixed_total)
    back = mde_means(3.0, seq.n_per_arm, design="msprt", tuning_n=fixed_total)
    assert back.mde == pytest.approx(0.2, rel=1e-6)


def test_power_is_achieved_in_simulation() -> None:
    r = sample_size_means(1.0, 0.2)
    n = math.ceil(r.n_per_arm)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3000, 2, n))
    x[:, 1] += 0.2
    s, ss = x.sum(axis=2), (x * x).sum(axis=2)
    hits = sum(
        welch_t_test(MeanStats(n, a[0], b[0]), MeanStats(n, a[1], b[1])).significant
        for a, b in zip(s, ss, strict=True)
    )
    assert 0.77 <= hits / 3000 <= 0.83


def test_sequential_designs_need_more_units() -> None:
    fixed = sample_size_proportions(0.1, 0.05)
    obf = sample_size_proportions(0.1, 0.05, design="obrien_fleming", looks=5)
    pocock = sample_size_proportions(0.1, 0.05, design="pocock", looks=5)
    msprt = sample_size_proportions(0.1, 0.05, design="msprt")
    assert 1.0 < obf.inflation < 1.05 < pocock.inflation < 1.3 < msprt.inflation < 2.5
    assert obf.n_per_arm == pytest.approx(fixed.n_per_arm * obf.inflation)
    assert inflation_factor("fixed") == 1.0


def test_msprt_inflation_reaches_power_at_the_final_look() -> None:
    # At the inflated size the confidence-sequence boundary alone gives 80% power.
    k = inflation_factor("msprt", fixed_total=20_000)
    rho2 = (-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 20_000
    r = k * 20_000 * rho2
    bound = math.sqrt((1 + r) / r * (math.log1p(r) - 2 * math.log(0.05)))
    drift = stats.norm.isf(0.025) + stats.norm.isf(0.2)
    assert stats.norm.sf(bound - drift * math.sqrt(k)) == pytest.approx(0.8, abs=1e-9)


def test_duration_in_days() -> None:
    r = duration_days(sample_size_means(1.0, 0.1), 1000, traffic_fraction=0.5)
    assert r.days == math.ceil(r.total / 500)
    with pytest.raises(ValueError):
        duration_days(r, 0)
