"""Group-sequential boundaries by Lan-DeMets alpha spending, computed by recursive integration.

For K planned looks at information fractions ``t_1 < ... < t_K = 1`` the spending function
``alpha(t)`` says how much of the two-sided type I error may be used by time t:

* ``obrien_fleming``: ``2 - 2 Phi(z_{1-alpha/4} / sqrt(t))`` per side, so twice that in total
  (spends almost nothing early; the convention of R's ldbounds and gsDesign);
* ``pocock``: ``alpha * ln(1 + (e - 1) t)`` (spends evenly, near-constant boundaries).

Boundary ``c_k`` solves P(first crossing at look k) = alpha(t_k) - alpha(t_{k-1}), where the
crossing probability is integrated numerically over the sub-density of the score statistic on
the continuation region (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19).

>>> b = group_sequential_bounds(5, alpha=0.05, spending="obrien_fleming")
>>> [round(z, 2) for z in b.z_bounds]
[4.88, 3.36, 2.68, 2.29, 2.03]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from microfunnel.errors import InputError

__all__ = [
    "GroupSequentialBounds",
    "Spending",
    "crossing_probabilities",
    "group_sequential_bounds",
    "spent_alpha",
]

Spending = Literal["obrien_fleming", "pocock"]
_GRID = 241  # odd, for Simpson's rule; boundaries agree with 801 points to 1e-7
_MAX_Z = 40.0


def spent_alpha(t: float, alpha: float, spending: Spending) -> float:
    """Cumulative two-sided alpha spent by information fraction ``t``."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if spending == "obrien_fleming":
        return float(4.0 * special.ndtr(special.ndtri(alpha / 4) / math.sqrt(t)))
    return alpha * math.log1p((math.e - 1.0) * t)


def _simpson(lo: float, hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.linspace(lo, hi, _GRID)
    w = np.ones(_GRID)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (hi - lo) / (3.0 * (_GRID - 1))


class _Recursion:
    """Sub-density of the score S_k = Z_k sqrt(t_k) on the continuation region."""

    def __init__(self, drift: float) -> None:
        self.drift = drift
        self.t = 0.0
        self.x = np.zeros(1)
        self.w = np.ones(1)  # first look: point mass at 0
        self.f = np.ones(1)

    def exit_prob(self, t: float, z: float) -> float:
        dt = t - self.t
        b, sd = z * math.sqrt(t), math.sqrt(dt)
        mean = self.x + self.drift * dt
        tails = special.ndtr((-b - mean) / sd) + special.ndtr((mean - b) / sd)
        return float(np.sum(self.w * self.f * tails))

    def advance(self, t: float, z: float) -> None:
        dt, b = t - self.t, z * math.sqrt(t)
        sd = math.sqrt(dt)
        x, w = _simpson(-b, b)
        u = (x[:, None] - self.x[None, :] - self.drift * dt) / sd
        kernel = np.exp(-0.5 * u * u) / (sd * math.sqrt(2 * math.pi))
        self.f = kernel @ (self.w * self.f)
        self.x, self.w, self.t = x, w, t


def _fractions(looks: int | Sequence[float]) -> list[float]:
    if isinstance(looks, int):
        if looks < 1:
            raise InputError("`looks` must be at least 1.")
        return [(k + 1) / looks for k in range(looks)]
    t = [float(x) for x in looks]
    if not t or any(b <= a for a, b in itertools.pairwise(t)) or t[0] <= 0 or t[-1] != 1:
        raise InputError("information fractions must increase strictly and end at 1.")
    return t


def crossing_probabilities(
    z_bounds: Sequence[float], looks: int | Sequence[float], drift: float = 0.0
) -> tuple[float, ...]:
    """P(first crossing of ``|Z_k| >= z_k`` at each look) when ``E[Z_k] = drift sqrt(t_k)``.

    Under ``drift = 0`` the sum is the overall type I error; otherwise it is the power.
    """
    t = _fractions(looks)
    if len(t) != len(z_bounds):
        raise InputError("one boundary per look is needed.")
    rec, out = _Recursion(drift), []
    for tk, zk in zip(t, z_bounds, strict=True):
        out.append(rec.exit_prob(tk, zk))
        rec.advance(tk, zk)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class GroupSequentialBounds:
    """Two-sided efficacy boundaries on the z scale, one per look."""

    spending: Spending
    alpha: float
    information: tuple[float, ...]
    z_bounds: tuple[float, ...]
    nominal_p: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]


def _solve_bound(rec: _Recursion, t: float, target: float) -> float:
    return float(optimize.brentq(lambda c: rec.exit_prob(t, c) - target, 0.1, _MAX_Z))


def group_sequential_bounds(
    looks: int | Sequence[float],
    *,
    alpha: float = 0.05,
    spending: Spending = "obrien_fleming",
) -> GroupSequentialBounds:
    """Lan-DeMets boundaries for ``looks`` equally spaced looks (or given information fractions)."""
    if not 0 < alpha < 1:
        raise InputError("`alpha` must be in (0, 1).")
    t = _fractions(looks)
    rec, bounds, spent, prev = _Recursion(0.0), [], [], 0.0
    for tk in t:
        cum = spent_alpha(tk, alpha, spending)
        target = cum - prev
        if target <= 1e-300:
            z = _MAX_Z
        elif rec.t == 0.0:
            z = float(-special.ndtri(target / 2))
        else:
            z = _solve_bound(rec, tk, target)
        bounds.append(z)
        spent.append(cum)
        rec.advance(tk, z)
        prev = cum
    nominal = tuple(float(2 * special.ndtr(-z)) for z in bounds)
    return GroupSequentialBounds(spending, alpha, tuple(t), tuple(bounds), nominal, tuple(spent))
