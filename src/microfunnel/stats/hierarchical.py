"""Partial pooling of segment (or funnel-stage) effects: empirical Bayes normal-normal model.

Each segment's estimate ``y_i ~ N(theta_i, s_i^2)`` with ``theta_i ~ N(mu, tau^2)``. Segments
with noisy estimates are pulled toward the overall effect ``mu`` by ``B_i = s_i^2 / (s_i^2 +
tau^2)``, which tames the "it only works on iOS in Belgium" findings of small segments.
``tau^2`` is estimated by the DerSimonian-Laird method of moments (``"mm"``) or by REML.

>>> r = partial_pool([0.10, 0.00, 0.05], [0.03, 0.03, 0.03])
>>> round(r.tau2, 5), round(r.mu, 3)
(0.0016, 0.05)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from microfunnel.errors import InputError

__all__ = ["PooledEffects", "TauMethod", "partial_pool"]

TauMethod = Literal["mm", "reml"]


@dataclass(frozen=True, slots=True)
class PooledEffects:
    """Shrunk effects with intervals that include the uncertainty in ``mu`` and ``tau^2``."""

    method: TauMethod
    alpha: float
    labels: tuple[str, ...]
    mu: float
    mu_std_error: float
    tau2: float
    raw: tuple[float, ...]
    shrinkage: tuple[float, ...]
    effects: tuple[float, ...]
    std_errors: tuple[float, ...]
    ci_lower: tuple[float, ...]
    ci_upper: tuple[float, ...]


def _mu(y: NDArray[np.float64], v: NDArray[np.float64], tau2: float) -> tuple[float, float]:
    w = 1.0 / (v + tau2)
    return float(np.sum(w * y) / np.sum(w)), float(np.sum(w))


def _tau2_mm(y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    w = 1.0 / v
    mu, sw = _mu(y, v, 0.0)
    q = float(np.sum(w * (y - mu) ** 2))
    return max(0.0, (q - (y.size - 1)) / (sw - np.sum(w * w) / sw))


def _tau2_reml(y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """Fisher scoring on the restricted likelihood (Viechtbauer 2005, eq. 9), from the MM value."""
    tau2 = _tau2_mm(y, v)
    for _ in range(200):
        w = 1.0 / (v + tau2)
        mu, sw = _mu(y, v, tau2)
        p_diag = w - w * w / sw
        resid = y - mu
        step_num = float(np.sum(w * w * resid * resid) - np.sum(p_diag))
        info = float(np.sum(w * w) - 2 * np.sum(w**3) / sw + np.sum(w * w) ** 2 / sw**2)
        new = max(0.0, tau2 + step_num / info)
        if abs(new - tau2) < 1e-12 * max(1.0, tau2):
            return new
        tau2 = new
    return tau2


def partial_pool(
    effects: ArrayLike,
    std_errors: ArrayLike,
    *,
    method: TauMethod = "reml",
    alpha: float = 0.05,
    labels: Sequence[str] | None = None,
) -> PooledEffects:
    """Shrink per-segment effects toward their precision-weighted mean."""
    y = np.asarray(effects, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    if y.ndim != 1 or y.shape != se.shape or y.size < 2 or np.any(se <= 0):
        raise InputError(
            "partial_pool needs >= 2 effects, each with a std error > 0: leave out segments "
            "whose comparison returned a warning (no data or no variance) before pooling."
        )
    names = tuple(labels) if labels is not None else tuple(str(i) for i in range(y.size))
    if len(names) != y.size:
        raise InputError("give one label per effect.")
    v = se * se
    tau2 = float(_tau2_mm(y, v) if method == "mm" else _tau2_reml(y, v))
    mu, sw = _mu(y, v, tau2)
    shrink = v / (v + tau2)
    post = mu + (1 - shrink) * (y - mu)
    # Kass & Steffey (1989) first-order correction for the uncertainty in tau^2, whose
    # restricted-likelihood variance is about 2 / sum(w^2); without it intervals under-cover.
    w = 1.0 / (v + tau2)
    var_tau2 = 2.0 / float(np.sum(w * w))
    post_var = (1 - shrink) * v + shrink * shrink / sw + (shrink * w * (y - mu)) ** 2 * var_tau2
    post_se = np.sqrt(post_var)
    z = float(special.ndtri(1 - alpha / 2))

    def tup(a: NDArray[np.float64]) -> tuple[float, ...]:
        return tuple(float(x) for x in a)

    return PooledEffects(
        method, alpha, names, mu, float(1 / np.sqrt(sw)), tau2, tup(y), tup(shrink), tup(post),
        tup(post_se), tup(post - z * post_se), tup(post + z * post_se),
    )  # fmt: skip
