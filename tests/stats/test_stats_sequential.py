"""mSPRT and group-sequential boundaries: references from papers, R tables and simulation."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from microfunnel.stats import (
    CupedStats,
    MeanStats,
    ProportionStats,
    StoppingRule,
    crossing_probabilities,
    decide,
    group_sequential_bounds,
    msprt_log_evalue,
    msprt_rho2,
    msprt_test,
)


def test_evalue_is_the_normal_mixture_likelihood_ratio() -> None:
    # Johari et al. (2017): Lambda = integral of the likelihood ratio over a N(0, tau^2) prior,
    # here integrated numerically by scipy as an independent reference.
    d, v, n = 0.03, 0.0001, 10_000
    rho2 = msprt_rho2(5000, 0.05)
    tau2 = rho2 * v * n

    def lr(theta: float) -> float:
        return math.exp((theta * d - theta**2 / 2) / v) * stats.norm.pdf(theta, 0, math.sqrt(tau2))

    ref = integrate.quad(lr, -1, 1, points=[0, d], limit=200)[0]
    assert float(msprt_log_evalue(d, v, n, rho2)) == pytest.approx(math.log(ref), rel=1e-6)


def test_confidence_sequence_edges_have_evalue_one_over_alpha() -> None:
    r = msprt_test(ProportionStats(6000, 600), ProportionStats(6000, 690))
    rho2 = msprt_rho2(r.tuning_n, r.alpha)
    for edge in (r.ci_lower, r.ci_upper):
        log_e = float(msprt_log_evalue(r.effect - edge, r.std_error**2, r.n, rho2))
        assert log_e == pytest.approx(-math.log(0.05), rel=1e-9)
    assert r.p_value == pytest.approx(math.exp(-r.log_evalue))


def test_running_minimum_and_neutral_cases() -> None:
    weak = msprt_test(ProportionStats(100, 10), ProportionStats(100, 11), previous_p_value=0.2)
    assert weak.p_value == 0.2
    empty = msprt_test(ProportionStats(0, 0), ProportionStats(10, 1))
    assert empty.warnings == ("EMPTY_ARM",) and not empty.significant
    flat = msprt_test(ProportionStats(10, 0), ProportionStats(10, 0))
    assert flat.warnings == ("ZERO_VARIANCE",) and flat.p_value == 1.0


def _aa_paths(sims: int, looks: int, per_look: int, seed: int) -> tuple[np.ndarray, ...]:
    """Cumulative n, difference of means and its variance at each look of A/A experiments."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(sims, 2, looks, per_look))
    s = x.sum(axis=3).cumsum(axis=2)
    ss = (x * x).sum(axis=3).cumsum(axis=2)
    n = per_look * np.arange(1, looks + 1)
    mean = s / n
    var = (ss - s * s / n) / (n - 1)
    diff = mean[:, 1] - mean[:, 0]
    v = (var[:, 0] + var[:, 1]) / n
    return n, diff, v


def test_peeking_20_times_inflates_the_naive_test_but_not_sequential_ones() -> None:
    looks = 20
    n, diff, v = _aa_paths(sims=4000, looks=looks, per_look=50, seed=3)
    z = np.abs(diff / np.sqrt(v))
    naive = np.mean((z > stats.norm.isf(0.025)).any(axis=1))
    log_e = msprt_log_evalue(diff, v, 2 * n, msprt_rho2(2 * n[-1], 0.05))
    msprt = np.mean((log_e >= -math.log(0.05)).any(axis=1))
    obf = group_sequential_bounds(looks, spending="obrien_fleming").z_bounds
    pocock = group_sequential_bounds(looks, spending="pocock").z_bounds
    obf_rate = np.mean((z >= np.array(obf)).any(axis=1))
    pocock_rate = np.mean((z >= np.array(pocock)).any(axis=1))
    assert naive > 0.15
    assert msprt <= 0.05
    assert obf_rate <= 0.05 + 0.007  # 0.05 spent exactly; 0.007 ~ 2 Monte Carlo SE
    assert pocock_rate <= 0.05 + 0.007


def test_lan_demets_boundaries_match_ldbounds() -> None:
    # R package ldbounds, bounds(t = seq(0.2, 1, 0.2), iuse = c(1, 1) / c(2, 2),
    # alpha = c(0.025, 0.025)): O'Brien-Fleming-type and Pocock-type spending.
    obf = group_sequential_bounds(5, alpha=0.05, spending="obrien_fleming")
    assert obf.z_bounds == pytest.approx([4.8769, 3.3569, 2.6803, 2.2898, 2.0310], abs=2e-4)
    poc = group_sequential_bounds(5, alpha=0.05, spending="pocock")
    assert poc.z_bounds == pytest.approx([2.4380, 2.4268, 2.4101, 2.3966, 2.3859], abs=2e-4)
    assert obf.cumulative_alpha[-1] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("looks", "pocock", "obrien_fleming"),
    # Jennison & Turnbull (2000), Tables 2.1 and 2.3: constants C_P(K, 0.05), C_B(K, 0.05)
    [(2, 2.178, 1.977), (5, 2.413, 2.040), (10, 2.555, 2.087)],
)
def test_classical_boundaries_have_size_alpha(
    looks: int, pocock: float, obrien_fleming: float
) -> None:
    assert sum(crossing_probabilities([pocock] * looks, looks)) == pytest.approx(0.05, abs=3e-4)
    ob = [obrien_fleming * math.sqrt(looks / k) for k in range(1, looks + 1)]
    assert sum(crossing_probabilities(ob, looks)) == pytest.approx(0.05, abs=3e-4)


def test_crossing_probability_matches_bivariate_normal() -> None:
    # scipy: P(|Z1| < c1, |Z2| < c2) with corr sqrt(t1/t2) by multivariate normal CDF
    c, t = [2.5, 2.0], [0.4, 1.0]
    rho = math.sqrt(t[0] / t[1])
    mvn = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]])
    inside = (
        mvn.cdf([c[0], c[1]])
        - mvn.cdf([-c[0], c[1]])
        - mvn.cdf([c[0], -c[1]])
        + mvn.cdf([-c[0], -c[1]])
    )
    assert sum(crossing_probabilities(c, t)) == pytest.approx(1 - inside, abs=1e-5)


@pytest.mark.parametrize(
    ("design", "power", "ref"),
    # Jennison & Turnbull (2000), Tables 2.2 and 2.4: R_P(5, 0.05, beta), R_B(5, 0.05, beta)
    [
        ("pocock", 0.8, 1.229),
        ("pocock", 0.9, 1.207),
        ("obrien_fleming", 0.8, 1.028),
        ("obrien_fleming", 0.9, 1.026),
    ],
)
def test_classical_inflation_factors(design: str, power: float, ref: float) -> None:
    from scipy.optimize import brentq

    c = {"pocock": [2.413] * 5, "obrien_fleming": [2.040 * math.sqrt(5 / k) for k in range(1, 6)]}
    drift = brentq(lambda d: sum(crossing_probabilities(c[design], 5, d)) - power, 0, 10)
    fixed = stats.norm.isf(0.025) + stats.norm.isf(1 - power)
    assert (drift / fixed) ** 2 == pytest.approx(ref, abs=2e-3)


def test_stopping_rule_decisions() -> None:
    rule = StoppingRule(method="pocock", looks=3, min_sample=1000)
    a, b = ProportionStats(300, 30), ProportionStats(300, 60)
    assert decide(rule, a, b, look=1).reason == "below_min_sample"
    strong = decide(rule, ProportionStats(2000, 200), ProportionStats(2000, 300), look=2)
    assert strong.action == "stop_reject"
    flat = decide(rule, ProportionStats(2000, 200), ProportionStats(2000, 201), look=3)
    assert (flat.action, flat.reason) == ("stop_accept", "final_look")
    fixed = decide(StoppingRule(method="fixed"), a, b, look=1)
    assert fixed.threshold == pytest.approx(stats.norm.isf(0.025))
    a, b = ProportionStats(3000, 300), ProportionStats(3000, 420)
    seq = decide(StoppingRule(method="msprt", looks=10), a, b, look=4)
    assert seq.action == "stop_reject" and seq.statistic <= 0.05
    with pytest.raises(ValueError):
        decide(rule, a, b, look=4)


def test_msprt_with_cuped_is_tighter() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3000))
    y = x + 0.5 * rng.normal(size=(2, 3000))
    plain = msprt_test(MeanStats.from_array(y[0]), MeanStats.from_array(y[1]))
    cuped = msprt_test(CupedStats.from_arrays(y[0], x[0]), CupedStats.from_arrays(y[1], x[1]))
    assert cuped.std_error < 0.6 * plain.std_error
