"""Statistics engine benchmark: agreement with and speed against gbstats, and sequential savings.

1. One analysis of 3 arms x 20 segments x 5 metrics (200 treatment-vs-control comparisons):
   Welch t-test (absolute and relative effect, CI, p-value), Gaussian Bayesian chance to win and
   risk, mSPRT always-valid CI and p-value, and SRM per segment, by microfunnel.stats and by
   gbstats on the same numbers. Asserts agreement within 1e-6 and reports the speed ratio.
2. Users needed to reach a decision: mSPRT + CUPED (looks every 5% of the fixed sample) against a
   fixed-horizon z-test sized for 80% power, at the same nominal alpha = 0.05.

Run: .venv/bin/python bench/stats.py
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, RatioStatistic, SampleMeanStatistic
from gbstats.utils import check_srm

from microfunnel.stats import (
    CupedStats,
    MeanStats,
    ProportionStats,
    RatioStats,
    bayes_means,
    compare_moments,
    msprt_test,
    sample_size_means,
    srm_test,
    welch_t_test,
)

ARMS, SEGMENTS = 3, 20
METRICS = ("add_to_cart", "purchase", "revenue", "items", "revenue_per_session")
TOLERANCE = 1e-6

Stats = ProportionStats | MeanStats | RatioStats


@dataclass
class Cell:
    """Sufficient statistics of one (segment, arm), as SQL would return them."""

    users: int
    stats: dict[str, Stats]


def make_cells(seed: int = 7) -> list[list[Cell]]:
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(SEGMENTS):
        row = []
        for arm in range(ARMS):
            n = int(rng.integers(2_000, 20_000))
            lift = 1.0 + 0.03 * arm
            sessions = rng.poisson(2.0, n) + 1
            revenue = rng.gamma(0.3, 60.0 * lift, n)
            items = rng.poisson(0.4 * lift, n).astype(float)
            row.append(
                Cell(
                    n,
                    {
                        "add_to_cart": ProportionStats(n, int(rng.binomial(n, 0.22 * lift))),
                        "purchase": ProportionStats(n, int(rng.binomial(n, 0.035 * lift))),
                        "revenue": MeanStats.from_array(revenue),
                        "items": MeanStats.from_array(items),
                        "revenue_per_session": RatioStats.from_arrays(revenue, sessions),
                    },
                )
            )
        cells.append(row)
    return cells


def ours(cells: list[list[Cell]]) -> list[tuple[float, ...]]:
    out: list[tuple[float, ...]] = []
    for row in cells:
        srm = srm_test([c.users for c in row]).p_value
        for metric in METRICS:
            control = row[0].stats[metric]
            for arm in range(1, ARMS):
                treatment = row[arm].stats[metric]
                f = welch_t_test(control, treatment)
                b = bayes_means(control, treatment)
                s = msprt_test(control, treatment)
                out.append(
                    (
                        f.effect, f.ci_lower, f.ci_upper, f.p_value,
                        f.relative_effect, f.relative_ci_lower, f.relative_ci_upper,
                        b.chance_to_beat_control, b.risk_control, b.risk_treatment,
                        s.ci_lower, s.ci_upper, s.p_value, srm,
                    )
                )  # fmt: skip
    return out


def to_gbstats(s: Stats) -> ProportionStatistic | SampleMeanStatistic | RatioStatistic:
    if isinstance(s, ProportionStats):
        return ProportionStatistic(n=s.n, sum=s.conversions)
    if isinstance(s, MeanStats):
        return SampleMeanStatistic(n=s.n, sum=s.sum, sum_squares=s.sum_sq)
    return RatioStatistic(
        n=s.n,
        m_statistic=SampleMeanStatistic(n=s.n, sum=s.num_sum, sum_squares=s.num_sum_sq),
        d_statistic=SampleMeanStatistic(n=s.n, sum=s.den_sum, sum_squares=s.den_sum_sq),
        m_d_sum_of_products=s.cross_sum,
    )


def theirs(cells: list[list[Cell]]) -> list[tuple[float, ...]]:
    absolute = FrequentistConfig(difference_type="absolute")
    relative = FrequentistConfig(difference_type="relative")
    bayes = EffectBayesianConfig(difference_type="absolute")
    sequential = SequentialConfig(difference_type="absolute")
    out: list[tuple[float, ...]] = []
    for row in cells:
        srm = check_srm([c.users for c in row], [1 / ARMS] * ARMS)
        for metric in METRICS:
            control = to_gbstats(row[0].stats[metric])
            for arm in range(1, ARMS):
                treatment = to_gbstats(row[arm].stats[metric])
                f = TwoSidedTTest(control, treatment, absolute).compute_result()
                r = TwoSidedTTest(control, treatment, relative).compute_result()
                b = EffectBayesianABTest(control, treatment, bayes).compute_result()
                s = SequentialTwoSidedTTest(control, treatment, sequential).compute_result()
                out.append(
                    (
                        f.expected, f.ci[0], f.ci[1], f.p_value, r.expected, r.ci[0], r.ci[1],
                        b.chance_to_win, b.risk[0], b.risk[1], s.ci[0], s.ci[1], s.p_value, srm,
                    )
                )  # fmt: skip
    return out


def best_time(
    fn: Callable[[list[list[Cell]]], list[tuple[float, ...]]], cells: list[list[Cell]], repeat: int
) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(cells)
        times.append(time.perf_counter() - start)
    return min(times)


def agreement() -> dict[str, float]:
    cells = make_cells()
    a, b = np.array(ours(cells)), np.array(theirs(cells))
    # Relative error where values are large, absolute where near 0 (p-values, risks).
    err = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    names = "effect ci_lo ci_hi p rel rel_lo rel_hi ctw risk_c risk_t seq_lo seq_hi seq_p srm"
    worst = dict(zip(names.split(), err.max(axis=0), strict=True))
    assert float(err.max()) <= TOLERANCE, worst
    ours_s = best_time(ours, cells, 5)
    theirs_s = best_time(theirs, cells, 3)
    return {
        "comparisons": float(len(a)),
        "max_error": float(err.max()),
        "ours_ms": ours_s * 1e3,
        "gbstats_ms": theirs_s * 1e3,
        "speedup": theirs_s / ours_s,
    }


def _sequential_users(
    sims: int, rho: float, lift: float, n_fixed: int, looks: int, seed: int, cuped: bool
) -> tuple[float, float]:
    """Mean users (both arms) until mSPRT rejects or the horizon, and the rejection rate."""
    rng = np.random.default_rng(seed)
    batch = n_fixed // looks  # horizon never exceeds the fixed-horizon sample
    sums = np.zeros((sims, 2, 5))
    stopped = np.zeros(sims, dtype=bool)
    users = np.full(sims, 2.0 * batch * looks)
    for look in range(1, looks + 1):
        x = rng.normal(size=(sims, 2, batch))
        y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(sims, 2, batch))
        y[:, 1] += lift
        parts = [y.sum(2), (y * y).sum(2), x.sum(2), (x * x).sum(2), (x * y).sum(2)]
        sums += np.stack(parts, axis=2)
        n = batch * look
        for i in np.flatnonzero(~stopped):
            a, b = (CupedStats(n, *(float(v) for v in sums[i, arm])) for arm in (0, 1))
            control, treatment = (a, b) if cuped else (a.metric, b.metric)
            if msprt_test(control, treatment, tuning_n=2 * n_fixed).significant:
                stopped[i] = True
                users[i] = 2.0 * n
    return float(users.mean()), float(stopped.mean())


def _fixed_rejections(sims: int, lift: float, n_fixed: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(sims, 2, n_fixed))
    y[:, 1] += lift
    s, ss = y.sum(2), (y * y).sum(2)
    hits = 0
    for i in range(sims):
        a, b = MeanStats(n_fixed, s[i, 0], ss[i, 0]), MeanStats(n_fixed, s[i, 1], ss[i, 1])
        hits += compare_moments(
            a.n, a.mean, a.variance, b.n, b.mean, b.variance, test="z"
        ).significant
    return hits / sims


def sequential_savings(
    sims: int = 1000, rho: float = 0.7, effect: float = 0.1, looks: int = 20, seed: int = 1
) -> dict[str, float]:
    """Users to a decision: mSPRT (+ CUPED or not) vs a fixed-horizon z-test at 80% power."""
    n_fixed = math.ceil(sample_size_means(1.0, effect).n_per_arm)
    out: dict[str, float] = {"n_fixed_per_arm": n_fixed, "rho": rho, "looks": looks}
    for label, lift in (("h1", effect), ("h0", 0.0)):
        out[f"{label}_fixed_users"] = 2.0 * n_fixed
        out[f"{label}_fixed_reject"] = _fixed_rejections(sims, lift, n_fixed, seed + 100)
        for name, cuped in (("cuped", True), ("plain", False)):
            users, reject = _sequential_users(sims, rho, lift, n_fixed, looks, seed, cuped)
            out[f"{label}_{name}_users"], out[f"{label}_{name}_reject"] = users, reject
    out["saving"] = 1.0 - out["h1_cuped_users"] / out["h1_fixed_users"]
    out["saving_plain"] = 1.0 - out["h1_plain_users"] / out["h1_fixed_users"]
    return out


def main() -> None:
    agree = agreement()
    print(f"comparisons: {agree['comparisons']:.0f} (3 arms x 20 segments x 5 metrics)")
    print(f"max disagreement with gbstats: {agree['max_error']:.1e} (tolerance {TOLERANCE:.0e})")
    print(f"microfunnel.stats: {agree['ours_ms']:.1f} ms   gbstats: {agree['gbstats_ms']:.1f} ms")
    print(f"speed ratio: {agree['speedup']:.1f}x")
    seq = sequential_savings()
    print(
        f"fixed-horizon z-test: {seq['n_fixed_per_arm']:.0f} users/arm (80% power, d = 0.1 sd);"
        f" mSPRT looks every {1 / seq['looks']:.0%} of that, covariate rho = {seq['rho']}"
    )
    for label, truth in (("h1", "effect"), ("h0", "A/A")):
        print(
            f"  {truth}: fixed {seq[f'{label}_fixed_users']:.0f} users, rejects "
            f"{seq[f'{label}_fixed_reject']:.3f} | mSPRT+CUPED {seq[f'{label}_cuped_users']:.0f}"
            f" users, rejects {seq[f'{label}_cuped_reject']:.3f} | mSPRT alone "
            f"{seq[f'{label}_plain_users']:.0f} users, rejects {seq[f'{label}_plain_reject']:.3f}"
        )
    print(f"users saved under the alternative, mSPRT + CUPED: {seq['saving']:.1%}")
    print(f"users saved under the alternative, mSPRT alone: {seq['saving_plain']:.1%}")
    assert seq["h0_cuped_reject"] <= 0.05 and seq["h0_plain_reject"] <= 0.05


if __name__ == "__main__":
    main()
