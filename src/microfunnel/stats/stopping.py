"""A declared stopping rule, and the decision it gives at a look.

Declare the rule before the experiment starts; ``decide`` then turns each look's cumulative
statistics into stop / continue without leaving room for optional stopping.

>>> rule = StoppingRule(method="obrien_fleming", looks=4, min_sample=100)
>>> decide(rule, ProportionStats(2000, 200), ProportionStats(2000, 290), look=2).action
'stop_reject'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from microfunnel.errors import InputError
from microfunnel.stats.cuped import cuped_adjust
from microfunnel.stats.frequentist import compare_moments, critical_value
from microfunnel.stats.group_sequential import Spending, group_sequential_bounds
from microfunnel.stats.messages import WarningCode
from microfunnel.stats.sequential import DEFAULT_TUNING_N, msprt_test
from microfunnel.stats.suffstats import CupedStats, MeanStats, ProportionStats, RatioStats

__all__ = ["Action", "Decision", "Method", "StoppingRule", "decide"]

Method = Literal["fixed", "msprt", "obrien_fleming", "pocock"]
Action = Literal["continue", "stop_reject", "stop_accept"]
Reason = Literal["below_min_sample", "boundary_crossed", "within_bounds", "final_look"]
Stats = ProportionStats | MeanStats | RatioStats | CupedStats


@dataclass(frozen=True, slots=True)
class StoppingRule:
    """``looks`` is the planned number of analyses (the last one is final); ``min_sample`` the
    total units (both arms) before any early decision; ``tuning_n`` only matters for mSPRT."""

    method: Method = "msprt"
    alpha: float = 0.05
    looks: int = 1
    min_sample: int = 0
    tuning_n: float = DEFAULT_TUNING_N

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or self.looks < 1 or self.min_sample < 0:
            raise InputError("StoppingRule needs 0 < alpha < 1, looks >= 1, min_sample >= 0.")
        if self.method == "fixed" and self.looks != 1:
            raise InputError("a fixed-horizon rule has exactly one look: set looks=1.")


@dataclass(frozen=True, slots=True)
class Decision:
    look: int
    action: Action
    reason: Reason
    statistic: float
    threshold: float
    warnings: tuple[WarningCode, ...] = ()


@lru_cache(maxsize=64)
def _bounds(looks: int, alpha: float, spending: Spending) -> tuple[float, ...]:
    return group_sequential_bounds(looks, alpha=alpha, spending=spending).z_bounds


def _z_statistic(control: Stats, treatment: Stats) -> tuple[float, tuple[WarningCode, ...]]:
    if isinstance(control, CupedStats) and isinstance(treatment, CupedStats):
        adj = cuped_adjust(control, treatment)
        a, b = adj.control, adj.treatment
        r = compare_moments(a.n, a.mean, a.variance, b.n, b.mean, b.variance, test="z")
    else:
        r = compare_moments(
            control.n, control.mean, control.variance, treatment.n, treatment.mean,
            treatment.variance, test="z",
        )  # fmt: skip
    return r.statistic, r.warnings


def decide(rule: StoppingRule, control: Stats, treatment: Stats, *, look: int) -> Decision:
    """Decision at look ``look`` (1-based) from cumulative statistics.

    mSPRT compares the always-valid p-value with alpha (the statistic reported is that p-value);
    group-sequential and fixed rules compare ``|z|`` with the boundary of this look.
    """
    if not 1 <= look <= rule.looks:
        raise InputError(f"look must be between 1 and {rule.looks}, got {look}.")
    final = look == rule.looks
    if control.n + treatment.n < rule.min_sample and not final:
        return Decision(look, "continue", "below_min_sample", math.nan, math.nan)
    if rule.method == "msprt":
        r = msprt_test(control, treatment, alpha=rule.alpha, tuning_n=rule.tuning_n)
        crossed, stat, threshold, warns = r.significant, r.p_value, rule.alpha, r.warnings
    else:
        z, warns = _z_statistic(control, treatment)
        if rule.method == "fixed":
            threshold = critical_value(rule.alpha, "two-sided")
        else:
            threshold = _bounds(rule.looks, rule.alpha, rule.method)[look - 1]
        crossed, stat = abs(z) >= threshold, z
    if crossed:
        return Decision(look, "stop_reject", "boundary_crossed", stat, threshold, warns)
    if final:
        return Decision(look, "stop_accept", "final_look", stat, threshold, warns)
    return Decision(look, "continue", "within_bounds", stat, threshold, warns)
