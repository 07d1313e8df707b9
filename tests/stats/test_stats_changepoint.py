"""CUSUM drop detection and the binomial change point.

References: the change point against a brute-force scan of binomial log-likelihoods from
``scipy.stats.binom``; the detection delay against Siegmund's approximation of the CUSUM
average run length (Montgomery, *Introduction to Statistical Quality Control*, 6th ed.,
section 9.1.4); the false-alarm rate by simulation of a stationary binomial rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from microfunnel.errors import InputError
from microfunnel.stats import RateDrop, binomial_change_point, cusum_drops


def _siegmund_arl(delta: float, h: float) -> float:
    """Siegmund's average run length of a one-sided CUSUM whose increments have mean ``delta``
    (standardized), with ``b = h + 1.166`` (Montgomery, eq. 9.16)."""
    b = h + 1.166
    return (math.exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta)


def test_change_point_matches_a_scan_of_binomial_likelihoods() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        size = int(rng.integers(3, 20))
        n = rng.integers(0, 500, size)
        x = rng.binomial(n, rng.uniform(0.05, 0.3, size))
        p0 = float(rng.uniform(0.05, 0.3))
        llr = []
        for tau in range(size):
            xs, ns = x[tau:].sum(), n[tau:].sum()
            # The binomial coefficient is the same under both rates and cancels.
            fitted = stats.binom.logpmf(xs, ns, xs / ns) if ns else -np.inf
            llr.append(fitted - stats.binom.logpmf(xs, ns, p0) if ns else -np.inf)
        assert binomial_change_point(n, x, p0) == int(np.argmax(llr))


def test_change_point_respects_the_range_and_empty_days() -> None:
    n, x = [100, 100, 100, 100, 100], [10, 10, 2, 2, 2]
    assert binomial_change_point(n, x, 0.1) == 2
    assert binomial_change_point(n, x, 0.1, first=3) == 3
    assert binomial_change_point([0, 0, 0], [0, 0, 0], 0.1, first=1) == 1
    with pytest.raises(InputError):
        binomial_change_point(n, x, 0.1, first=4, last=2)


def test_false_alarm_rate_on_a_stationary_rate() -> None:
    # Known p0: Siegmund gives ~15 000 days for the CUSUM, the 1-day guard ~31 600; a baseline
    # pooled from 14 days of the same size is noisier, observed about once in 1 700 days.
    rng = np.random.default_rng(0)
    alarms = days = 0
    for _ in range(100):
        x = rng.binomial(2000, 0.1, 730)
        alarms += len(cusum_drops([2000] * 730, x.tolist()))
        days += 730 - 7  # the first 7 days build the baseline
    assert 1e-4 < alarms / days < 1e-3
    assert _siegmund_arl(-1.0, 4.0) == pytest.approx(15_349, rel=1e-3)


def test_detection_delay_and_change_point_on_a_planted_step() -> None:
    rng = np.random.default_rng(1)
    n, before, after, step = 1000, 0.10, 0.07, 25
    shift = (before - after) * n / math.sqrt(n * before * (1 - before))  # 3.16 standard errors
    delays, exact, near = [], 0, 0
    for _ in range(400):
        rates = np.r_[np.full(step, before), np.full(15, after)]
        drops = cusum_drops([n] * 40, rng.binomial(n, rates).tolist())
        first = next(d for d in drops if d.detected >= step)
        delays.append(first.detected - step + 1)
        exact += first.began == step
        near += abs(first.began - step) <= 1
    # Increments of the lower CUSUM have mean shift - k after the step.
    assert np.mean(delays) == pytest.approx(_siegmund_arl(shift - 1.0, 4.0), abs=0.3)
    assert max(delays) <= 6
    assert exact / 400 > 0.75 and near / 400 > 0.95


def test_one_drop_one_signal_with_its_rates() -> None:
    (drop,) = cusum_drops([1000] * 40, [100] * 20 + [60] * 20)
    assert drop == RateDrop(20, 20, 0.1, 0.06, pytest.approx(-0.4), 14)
    assert cusum_drops([1000] * 40, [100] * 20 + [95] * 20) == ()


def test_degenerate_series_give_no_signal() -> None:
    assert cusum_drops([], []) == ()
    assert cusum_drops([0] * 30, [0] * 30) == ()
    assert cusum_drops([100] * 30, [0] * 30) == ()  # a rate of 0 has no standard error
    assert cusum_drops([100] * 6 + [100], [10] * 6 + [0]) == ()  # too short a baseline


def test_misuse_raises() -> None:
    with pytest.raises(InputError, match="one conversions count"):
        cusum_drops([1, 2], [1])
    with pytest.raises(InputError, match="min_baseline_days"):
        cusum_drops([1], [1], baseline_days=3, min_baseline_days=7)
    with pytest.raises(InputError, match="h > 0"):
        cusum_drops([1], [1], h=0.0)
