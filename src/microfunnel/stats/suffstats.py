"""Sufficient statistics: the only input the statistics engine needs.

SQL produces these per variant x segment x metric (x day); they add together, so days and
segments merge without rescanning events. Variances are sample variances (``ddof=1``) except
for proportions, whose Bernoulli variance ``p(1 - p)`` is exact.

>>> a = MeanStats.from_array([1.0, 2.0]) + MeanStats.from_array([3.0])
>>> a.n, a.mean, a.variance
(3, 2.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from microfunnel.errors import InputError

__all__ = ["CupedStats", "MeanStats", "ProportionStats", "RatioStats"]


def _sample_variance(n: float, total: float, total_sq: float) -> float:
    if n < 2:
        return 0.0
    return max((total_sq - total * total / n) / (n - 1), 0.0)


def _sample_covariance(n: float, sum_x: float, sum_y: float, sum_xy: float) -> float:
    if n < 2:
        return 0.0
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


def _check_n(n: int) -> None:
    if n < 0:
        raise InputError(f"`n` must be >= 0, got {n}: counts of units cannot be negative.")


@dataclass(frozen=True, slots=True)
class ProportionStats:
    """Units and how many of them converted (a 0/1 metric)."""

    n: int
    conversions: int

    def __post_init__(self) -> None:
        _check_n(self.n)
        if not 0 <= self.conversions <= self.n:
            raise InputError(
                f"`conversions` must be between 0 and n={self.n}, got {self.conversions}: "
                "count each unit at most once."
            )

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return ProportionStats(self.n + other.n, self.conversions + other.conversions)

    @property
    def mean(self) -> float:
        return self.conversions / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        p = self.mean
        return p * (1.0 - p)

    @classmethod
    def from_array(cls, converted: ArrayLike) -> Self:
        x = np.asarray(converted, dtype=bool)
        return cls(int(x.size), int(x.sum()))


@dataclass(frozen=True, slots=True)
class MeanStats:
    """Units, and the sum and sum of squares of a per-unit metric."""

    n: int
    sum: float
    sum_sq: float

    def __post_init__(self) -> None:
        _check_n(self.n)

    def __add__(self, other: MeanStats) -> MeanStats:
        return MeanStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        return _sample_variance(self.n, self.sum, self.sum_sq)

    @classmethod
    def from_array(cls, values: ArrayLike) -> Self:
        x = np.asarray(values, dtype=float)
        return cls(int(x.size), float(x.sum()), float((x * x).sum()))


@dataclass(frozen=True, slots=True)
class RatioStats:
    """A ratio metric sum(num) / sum(den) over units, e.g. revenue per session.

    ``variance`` is the per-unit delta-method variance of the ratio, so that
    ``variance / n`` is the variance of ``mean``.
    """

    n: int
    num_sum: float
    num_sum_sq: float
    den_sum: float
    den_sum_sq: float
    cross_sum: float

    def __post_init__(self) -> None:
        _check_n(self.n)

    def __add__(self, other: RatioStats) -> RatioStats:
        return RatioStats(
            self.n + other.n,
            self.num_sum + other.num_sum,
            self.num_sum_sq + other.num_sum_sq,
            self.den_sum + other.den_sum,
            self.den_sum_sq + other.den_sum_sq,
            self.cross_sum + other.cross_sum,
        )

    @property
    def numerator(self) -> MeanStats:
        return MeanStats(self.n, self.num_sum, self.num_sum_sq)

    @property
    def denominator(self) -> MeanStats:
        return MeanStats(self.n, self.den_sum, self.den_sum_sq)

    @property
    def covariance(self) -> float:
        return _sample_covariance(self.n, self.num_sum, self.den_sum, self.cross_sum)

    @property
    def mean(self) -> float:
        return self.num_sum / self.den_sum if self.den_sum else 0.0

    @property
    def variance(self) -> float:
        if self.n < 2 or self.den_sum == 0:
            return 0.0
        mx, my = self.numerator.mean, self.denominator.mean
        v = (
            self.numerator.variance / my**2
            - 2 * self.covariance * mx / my**3
            + mx**2 * self.denominator.variance / my**4
        )
        return max(v, 0.0)

    @classmethod
    def from_arrays(cls, numerator: ArrayLike, denominator: ArrayLike) -> Self:
        x = np.asarray(numerator, dtype=float)
        y = np.asarray(denominator, dtype=float)
        if x.shape != y.shape:
            raise InputError("numerator and denominator arrays must have the same length.")
        return cls(
            int(x.size),
            float(x.sum()),
            float((x * x).sum()),
            float(y.sum()),
            float((y * y).sum()),
            float((x * y).sum()),
        )


@dataclass(frozen=True, slots=True)
class CupedStats:
    """A metric together with its pre-experiment covariate (usually the same metric before)."""

    n: int
    sum: float
    sum_sq: float
    cov_sum: float
    cov_sum_sq: float
    cross_sum: float

    def __post_init__(self) -> None:
        _check_n(self.n)

    def __add__(self, other: CupedStats) -> CupedStats:
        return CupedStats(
            self.n + other.n,
            self.sum + other.sum,
            self.sum_sq + other.sum_sq,
            self.cov_sum + other.cov_sum,
            self.cov_sum_sq + other.cov_sum_sq,
            self.cross_sum + other.cross_sum,
        )

    @property
    def metric(self) -> MeanStats:
        return MeanStats(self.n, self.sum, self.sum_sq)

    @property
    def covariate(self) -> MeanStats:
        return MeanStats(self.n, self.cov_sum, self.cov_sum_sq)

    @property
    def mean(self) -> float:
        return self.metric.mean

    @property
    def variance(self) -> float:
        return self.metric.variance

    @property
    def covariance(self) -> float:
        return _sample_covariance(self.n, self.sum, self.cov_sum, self.cross_sum)

    @classmethod
    def from_arrays(cls, metric: ArrayLike, covariate: ArrayLike) -> Self:
        y = np.asarray(metric, dtype=float)
        x = np.asarray(covariate, dtype=float)
        if x.shape != y.shape:
            raise InputError("metric and covariate arrays must have the same length.")
        return cls(
            int(y.size),
            float(y.sum()),
            float((y * y).sum()),
            float(x.sum()),
            float((x * x).sum()),
            float((x * y).sum()),
        )
