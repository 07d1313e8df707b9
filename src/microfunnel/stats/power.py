"""Sample size, minimum detectable effect and duration, fixed-horizon or sequential.

Fixed horizon: ``n_control = (z_{1-a} + z_{1-b})^2 (var_c + var_t / ratio) / delta^2`` with
``ratio = n_treatment / n_control`` (normal approximation, unpooled variances).

Sequential designs need more units at the horizon, by an *inflation factor*:

* group-sequential (``obrien_fleming``, ``pocock``): the drift at which the Lan-DeMets
  boundaries reach the target power, squared, over the fixed-horizon one (Jennison & Turnbull
  2000, sec. 2.3 and 7.2);
* ``msprt``: the sample at which the confidence sequence's final-look boundary alone reaches the
  target power (conservative: earlier looks only add power). ``tuning_n`` defaults to the
  fixed-horizon total, where the mixture is then tightest.

>>> round(sample_size_proportions(0.10, 0.10).n_per_arm)
14748
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from scipy import optimize, special

from microfunnel.errors import InputError
from microfunnel.stats.frequentist import Alternative, critical_value
from microfunnel.stats.group_sequential import crossing_probabilities, group_sequential_bounds
from microfunnel.stats.sequential import msprt_rho2

__all__ = [
    "Design",
    "PowerResult",
    "duration_days",
    "inflation_factor",
    "mde_means",
    "mde_proportions",
    "sample_size_means",
    "sample_size_proportions",
]

Design = Literal["fixed", "msprt", "obrien_fleming", "pocock"]


@dataclass(frozen=True, slots=True)
class PowerResult:
    """``n_per_arm`` is the control arm; the treatment arm gets ``ratio * n_per_arm``."""

    design: Design
    alpha: float
    power: float
    mde: float
    n_per_arm: float
    total: float
    inflation: float
    days: int | None = None


def _z_sum(alpha: float, power: float, alternative: Alternative) -> float:
    if not 0 < power < 1:
        raise InputError("`power` must be in (0, 1), e.g. 0.8.")
    return critical_value(alpha, alternative) + float(special.ndtri(power))


def inflation_factor(
    design: Design,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    looks: int = 5,
    fixed_total: float | None = None,
    tuning_n: float | None = None,
) -> float:
    """Max sample size of a sequential design over the fixed-horizon one (two-sided).

    ``fixed_total`` (both arms) is needed for mSPRT, whose boundary depends on the sample size.
    """
    base = _z_sum(alpha, power, "two-sided")
    if design == "fixed":
        return 1.0
    if design == "msprt":
        if fixed_total is None or fixed_total <= 0:
            raise InputError("mSPRT inflation needs the fixed-horizon total sample size.")
        rho2 = msprt_rho2(tuning_n or fixed_total, alpha)
        z_beta = float(special.ndtri(power))

        def gap(k: float) -> float:  # k = inflation; the boundary at n = k * fixed_total
            return (_msprt_bound(k * fixed_total * rho2, alpha) + z_beta) ** 2 - k * base**2

        return float(optimize.brentq(gap, 1e-3, 1e6))
    z = group_sequential_bounds(looks, alpha=alpha, spending=design).z_bounds

    def shortfall(drift: float) -> float:
        return sum(crossing_probabilities(z, looks, drift)) - power

    return (float(optimize.brentq(shortfall, 0.0, 20.0)) / base) ** 2


def _msprt_bound(r: float, alpha: float) -> float:
    """|z| the confidence sequence needs at a look where ``r = n * rho^2``."""
    return math.sqrt((1 + r) / r * (math.log1p(r) - 2 * math.log(alpha)))


def _inflation_at_max(
    design: Design, alpha: float, power: float, looks: int, total: float, tuning_n: float | None
) -> float:
    """Inflation when ``total`` is the maximum sample (the MDE direction)."""
    if design != "msprt":
        return inflation_factor(design, alpha=alpha, power=power, looks=looks)
    r = total * msprt_rho2(tuning_n or total, alpha)
    needed = _msprt_bound(r, alpha) + float(special.ndtri(power))
    return (needed / _z_sum(alpha, power, "two-sided")) ** 2


def _result(
    design: Design, alpha: float, power: float, mde: float, n_fixed: float, ratio: float,
    looks: int, tuning_n: float | None,
) -> PowerResult:  # fmt: skip
    total = n_fixed * (1 + ratio)
    k = inflation_factor(
        design, alpha=alpha, power=power, looks=looks, fixed_total=total, tuning_n=tuning_n
    )
    return PowerResult(design, alpha, power, mde, n_fixed * k, total * k, k)


def sample_size_means(
    sd: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    ratio: float = 1.0,
    design: Design = "fixed",
    looks: int = 5,
    tuning_n: float | None = None,
) -> PowerResult:
    """Units per arm to detect an absolute difference ``mde`` in a mean with std dev ``sd``."""
    if sd <= 0 or mde == 0 or ratio <= 0:
        raise InputError("sample_size_means needs sd > 0, mde != 0 and ratio > 0.")
    n = _z_sum(alpha, power, alternative) ** 2 * sd**2 * (1 + 1 / ratio) / mde**2
    return _result(design, alpha, power, abs(mde), n, ratio, looks, tuning_n)


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    ratio: float = 1.0,
    design: Design = "fixed",
    looks: int = 5,
    tuning_n: float | None = None,
) -> PowerResult:
    """Units per arm to move a conversion rate from ``baseline`` by ``mde`` (relative lift by
    default, else absolute)."""
    target = baseline * (1 + mde) if relative else baseline + mde
    if not 0 < baseline < 1 or not 0 < target < 1 or mde == 0 or ratio <= 0:
        raise InputError("rates before and after the effect must lie strictly in (0, 1).")
    var = baseline * (1 - baseline) + target * (1 - target) / ratio
    n = _z_sum(alpha, power, alternative) ** 2 * var / (target - baseline) ** 2
    return _result(design, alpha, power, abs(target - baseline), n, ratio, looks, tuning_n)


def mde_means(
    sd: float,
    n_per_arm: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    ratio: float = 1.0,
    design: Design = "fixed",
    looks: int = 5,
    tuning_n: float | None = None,
) -> PowerResult:
    """Smallest absolute difference detectable with ``n_per_arm`` control units."""
    if sd <= 0 or n_per_arm <= 0:
        raise InputError("mde_means needs sd > 0 and n_per_arm > 0.")
    total = n_per_arm * (1 + ratio)
    k = _inflation_at_max(design, alpha, power, looks, total, tuning_n)
    mde = _z_sum(alpha, power, alternative) * sd * math.sqrt(k * (1 + 1 / ratio) / n_per_arm)
    return PowerResult(design, alpha, power, mde, n_per_arm, total, k)


def mde_proportions(
    baseline: float,
    n_per_arm: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    ratio: float = 1.0,
    design: Design = "fixed",
    looks: int = 5,
    tuning_n: float | None = None,
) -> PowerResult:
    """Smallest absolute upward change in a rate detectable with ``n_per_arm`` control units."""
    if not 0 < baseline < 1 or n_per_arm <= 0:
        raise InputError("mde_proportions needs 0 < baseline < 1 and n_per_arm > 0.")
    total = n_per_arm * (1 + ratio)
    k = _inflation_at_max(design, alpha, power, looks, total, tuning_n)
    z2 = _z_sum(alpha, power, alternative) ** 2 * k

    def gap(p: float) -> float:
        var = baseline * (1 - baseline) + p * (1 - p) / ratio
        return (p - baseline) ** 2 * n_per_arm - z2 * var

    if gap(1.0 - 1e-12) < 0:
        raise InputError("no detectable effect below a rate of 1: increase n_per_arm.")
    target = float(optimize.brentq(gap, baseline, 1.0 - 1e-12))
    return PowerResult(design, alpha, power, target - baseline, n_per_arm, total, k)


def duration_days(
    result: PowerResult, daily_units: float, *, traffic_fraction: float = 1.0
) -> PowerResult:
    """The same design with ``days``: how long ``daily_units`` (all arms, before the traffic
    fraction in the experiment) take to reach the required total."""
    if daily_units <= 0 or not 0 < traffic_fraction <= 1:
        raise InputError("duration needs daily_units > 0 and traffic_fraction in (0, 1].")
    return replace(result, days=math.ceil(result.total / (daily_units * traffic_fraction)))
