"""Thompson-sampling allocation for conversion bandits (beta-binomial, seeded).

Each arm's traffic share is the posterior probability that it is the best arm, estimated by
drawing from every arm's Beta posterior and counting wins. A floor keeps every arm alive so
a stale early lead can still be overturned.

>>> w = thompson_weights([ProportionStats(1000, 100), ProportionStats(1000, 130)], seed=1)
>>> [round(x, 2) for x in w]
[0.02, 0.98]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from microfunnel.errors import InputError
from microfunnel.stats.bayesian import BetaPrior
from microfunnel.stats.suffstats import ProportionStats

__all__ = ["thompson_weights"]


def thompson_weights(
    arms: Sequence[ProportionStats],
    *,
    prior: BetaPrior = BetaPrior(),
    draws: int = 10_000,
    seed: int = 0,
    floor: float = 0.0,
) -> tuple[float, ...]:
    """Traffic weights summing to 1; ``floor`` is the minimum share of each arm."""
    k = len(arms)
    if k < 2 or draws < 1 or not 0 <= floor * k <= 1:
        raise InputError("thompson_weights needs >= 2 arms, draws >= 1, 0 <= floor <= 1/arms.")
    rng = np.random.default_rng(seed)
    a = np.array([prior.alpha + s.conversions for s in arms], dtype=float)
    b = np.array([prior.beta + s.n - s.conversions for s in arms], dtype=float)
    samples = rng.beta(a, b, size=(draws, k))
    wins = np.bincount(np.argmax(samples, axis=1), minlength=k) / draws
    weights = floor + (1 - floor * k) * wins
    return tuple(float(w) for w in weights)
