"""Multiple-testing corrections: Holm (family-wise error) and Benjamini-Hochberg (FDR).

The ``scope`` says what the family is (several metrics, several variants, several segments,
or the candidate events and properties screened as drivers of a conversion), so a reader of the
result knows what the correction was across.

>>> adjust_pvalues([0.01, 0.04, 0.03], method="holm", scope="metrics").adjusted
(0.03, 0.06, 0.06)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from microfunnel.errors import InputError

__all__ = ["AdjustedPValues", "CorrectionMethod", "Scope", "adjust_pvalues"]

CorrectionMethod = Literal["holm", "bh"]
Scope = Literal["metrics", "variants", "segments", "candidates"]


@dataclass(frozen=True, slots=True)
class AdjustedPValues:
    method: CorrectionMethod
    scope: Scope
    alpha: float
    labels: tuple[str, ...]
    raw: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]


def adjust_pvalues(
    p_values: Sequence[float],
    *,
    method: CorrectionMethod,
    scope: Scope,
    alpha: float = 0.05,
    labels: Sequence[str] | None = None,
) -> AdjustedPValues:
    """Adjusted p-values (compare each with ``alpha``), in the input order."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise InputError("p_values must be a flat sequence of numbers in [0, 1].")
    names = tuple(labels) if labels is not None else tuple(str(i) for i in range(p.size))
    if len(names) != p.size:
        raise InputError("give one label per p-value.")
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        steps = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        steps = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(steps, 1.0)
    adj = tuple(float(a) for a in adjusted)
    return AdjustedPValues(
        method, scope, alpha, names, tuple(float(x) for x in p), adj, tuple(a <= alpha for a in adj)
    )
