"""Association of a 0/1 outcome with what units did: odds ratios, logistic regression, ROC AUC.

These measure association, not cause: units that chose to do something differ in other ways.

>>> r = odds_ratio(30, 70, 20, 180)
>>> round(r.estimate, 3), round(r.ci_lower, 3), round(r.ci_upper, 3)
(3.857, 2.055, 7.239)
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from microfunnel.errors import InputError

__all__ = ["OddsRatio", "fit_logistic", "odds_ratio", "roc_auc"]


class OddsRatio(NamedTuple):
    """An odds ratio and its interval; a tuple, so ``ratio, lo, hi = odds_ratio(...)`` works."""

    estimate: float
    ci_lower: float
    ci_upper: float


def odds_ratio(a: int, b: int, c: int, d: int, alpha: float = 0.05) -> OddsRatio:
    """Odds ratio of a 2x2 table ``[[a, b], [c, d]]`` with Woolf's log interval.

    Rows are exposed / not exposed, columns outcome / no outcome, so the ratio is
    ``(a / b) / (c / d)``. A zero cell adds 0.5 to every cell (Haldane-Anscombe), so the
    estimate and interval stay finite.
    """
    if min(a, b, c, d) < 0:
        raise InputError("odds_ratio needs cell counts >= 0.")
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be between 0 and 1, e.g. 0.05, got {alpha}.")
    cells = (a, b, c, d)
    fa, fb, fc, fd = (x + 0.5 for x in cells) if 0 in cells else cells
    log_or = math.log(fa * fd / (fb * fc))
    se = math.sqrt(1 / fa + 1 / fb + 1 / fc + 1 / fd)
    z = float(special.ndtri(1 - alpha / 2))
    return OddsRatio(math.exp(log_or), math.exp(log_or - z * se), math.exp(log_or + z * se))


def fit_logistic(
    x: ArrayLike, y: ArrayLike, *, l2: float = 0.0, max_iter: int = 100
) -> NDArray[np.float64]:
    """Coefficients ``[intercept, b1, ...]`` of a logistic regression by Newton-Raphson.

    ``x`` holds one row per unit (a single feature may be a flat array), ``y`` is 0/1. ``l2``
    is a ridge penalty ``l2 / 2 * sum(b_j ** 2)`` on the slopes (not the intercept); a small
    one keeps the fit finite when a feature separates the classes.
    """
    features = np.asarray(x, dtype=float)
    outcome = np.asarray(y, dtype=float)
    if features.ndim not in (1, 2) or outcome.ndim != 1 or len(features) != len(outcome):
        raise InputError("fit_logistic needs x with one row per unit and a flat 0/1 y.")
    if l2 < 0:
        raise InputError(f"l2 must be >= 0, got {l2}.")
    design = np.column_stack([np.ones(len(features)), features])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(max_iter):
        p = special.expit(design @ beta)
        grad = design.T @ (outcome - p) - penalty * beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-10 * np.eye(len(beta)), grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def roc_auc(y: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n1 n0)); ties count one half.

    With no positives or no negatives the area is undefined: ``nan``.
    """
    pos = np.asarray(y) == 1
    values = np.asarray(score, dtype=float)
    if pos.shape != values.shape or pos.ndim != 1:
        raise InputError("roc_auc needs flat y and score of the same length.")
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = stats.rankdata(values)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
