"""Sufficient statistics: additivity, and agreement with numpy on raw arrays."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microfunnel.errors import InputError
from microfunnel.stats import CupedStats, MeanStats, ProportionStats, RatioStats

values = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=0, max_size=30)


@given(values, values)
def test_mean_stats_add_like_concatenation(a: list[float], b: list[float]) -> None:
    joined = MeanStats.from_array(a) + MeanStats.from_array(b)
    direct = MeanStats.from_array(a + b)
    assert joined.n == direct.n
    assert joined.sum == pytest.approx(direct.sum, abs=1e-6)
    assert joined.sum_sq == pytest.approx(direct.sum_sq, rel=1e-9, abs=1e-6)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=40))
def test_proportion_and_ratio_stats_add(rows: list[tuple[bool, bool]]) -> None:
    half = len(rows) // 2
    x = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float) + 1.0
    assert ProportionStats.from_array(x[:half]) + ProportionStats.from_array(
        x[half:]
    ) == ProportionStats.from_array(x)
    parts = RatioStats.from_arrays(x[:half], y[:half]) + RatioStats.from_arrays(x[half:], y[half:])
    assert parts == RatioStats.from_arrays(x, y)
    cuped = CupedStats.from_arrays(x[:half], y[:half]) + CupedStats.from_arrays(x[half:], y[half:])
    assert cuped == CupedStats.from_arrays(x, y)


def test_moments_match_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=500)
    s = MeanStats.from_array(x)
    assert s.mean == pytest.approx(np.mean(x))
    assert s.variance == pytest.approx(np.var(x, ddof=1))
    b = rng.random(400) < 0.3
    p = ProportionStats.from_array(b)
    assert p.mean == pytest.approx(b.mean())
    assert p.variance == pytest.approx(b.mean() * (1 - b.mean()))


def test_ratio_variance_is_delta_method() -> None:
    # Reference: gradient g = (1/mu_y, -mu_x/mu_y^2) applied to numpy's covariance matrix.
    rng = np.random.default_rng(2)
    sessions = rng.poisson(3, 2000) + 1
    revenue = sessions * rng.gamma(2.0, 5.0, 2000)
    s = RatioStats.from_arrays(revenue, sessions)
    mx, my = revenue.mean(), sessions.mean()
    g = np.array([1 / my, -mx / my**2])
    assert s.mean == pytest.approx(revenue.sum() / sessions.sum())
    assert s.variance == pytest.approx(g @ np.cov(revenue, sessions) @ g)


def test_cuped_covariance_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    s = CupedStats.from_arrays(y, x)
    assert s.covariance == pytest.approx(np.cov(y, x)[0, 1])
    assert s.covariate.variance == pytest.approx(np.var(x, ddof=1))


def test_degenerate_sizes_have_zero_variance() -> None:
    assert MeanStats(0, 0.0, 0.0).mean == 0.0
    assert MeanStats(1, 5.0, 25.0).variance == 0.0
    assert RatioStats(10, 1.0, 1.0, 0.0, 0.0, 0.0).mean == 0.0


def test_misuse_raises_input_error() -> None:
    with pytest.raises(InputError):
        ProportionStats(10, 11)
    with pytest.raises(InputError):
        MeanStats(-1, 0.0, 0.0)
    with pytest.raises(ValueError):
        RatioStats.from_arrays([1.0, 2.0], [1.0])
