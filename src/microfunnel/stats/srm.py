"""Sample ratio mismatch: is the observed split of units across arms the one configured?

A mismatch means assignment or logging is broken, and every effect estimate is suspect. The
drill-down tests each (dimension, value) slice and ranks them, so the browser, country or app
version where the mismatch lives stands out; slices are judged against a Holm-adjusted p-value
because many slices are tested at once.

>>> round(srm_test([5000, 5300]).p_value, 4)
0.0031
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from microfunnel.errors import InputError
from microfunnel.stats.corrections import adjust_pvalues
from microfunnel.stats.messages import NO_DATA, WarningCode

__all__ = ["SrmResult", "SrmSlice", "srm_drilldown", "srm_test"]


@dataclass(frozen=True, slots=True)
class SrmResult:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    df: int
    p_value: float
    mismatch: bool
    warnings: tuple[WarningCode, ...] = ()


def srm_test(
    counts: Sequence[int], weights: Sequence[float] | None = None, *, alpha: float = 0.001
) -> SrmResult:
    """Chi-square goodness of fit of unit counts to the configured weights (equal by default).

    The default ``alpha = 0.001`` is the usual SRM alarm level: the check runs on every
    experiment, so it must rarely fire by chance.
    """
    obs = np.asarray(counts, dtype=float)
    w = np.ones(obs.size) if weights is None else np.asarray(weights, dtype=float)
    if obs.size < 2 or w.shape != obs.shape or np.any(w <= 0) or np.any(obs < 0):
        raise InputError("srm_test needs >= 2 non-negative counts and one positive weight each.")
    total = obs.sum()
    expected = w / w.sum() * total
    ints = tuple(int(c) for c in obs)
    if total == 0:
        return SrmResult(ints, tuple(expected), 0.0, obs.size - 1, 1.0, False, (NO_DATA,))
    stat = float(np.sum((obs - expected) ** 2 / expected))
    p = float(stats.chi2.sf(stat, obs.size - 1))
    return SrmResult(ints, tuple(float(e) for e in expected), stat, obs.size - 1, p, p < alpha)


@dataclass(frozen=True, slots=True)
class SrmSlice:
    dimension: str
    value: str
    result: SrmResult
    adjusted_p_value: float
    flagged: bool


def srm_drilldown(
    counts: Mapping[tuple[str, str], Sequence[int]],
    weights: Sequence[float] | None = None,
    *,
    alpha: float = 0.001,
) -> tuple[SrmSlice, ...]:
    """Test every (dimension, value) slice; most mismatched first (by chi-square statistic).

    ``counts[(dimension, value)]`` lists units per arm. ``flagged`` uses Holm-adjusted p-values
    over all slices, so the family-wise false alarm rate stays at ``alpha``.
    """
    keys = list(counts)
    results = [srm_test(counts[k], weights, alpha=alpha) for k in keys]
    if not results:
        return ()
    adjusted = adjust_pvalues(
        [r.p_value for r in results], method="holm", scope="segments", alpha=alpha
    ).adjusted
    slices = [
        SrmSlice(dim, val, r, adj, adj < alpha)
        for (dim, val), r, adj in zip(keys, results, adjusted, strict=True)
    ]
    return tuple(sorted(slices, key=lambda s: (-s.result.statistic, s.dimension, s.value)))
