"""The experiment report: frozen dataclasses the CLI, the API and the dashboard render.

A report holds, per metric and treatment arm, the effect with its interval, the p-value (or the
chance to win and the risk), the always-valid sequential interval, the CUPED variance reduction
and the multiple-testing adjusted p-value; segment effects with partial pooling; the health
checks (sample ratio, units in several arms, too little data, conversion velocity); and the
decision the declared rule gives, with a reading in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from microfunnel.stats import SrmResult, SrmSlice

__all__ = [
    "ArmSummary",
    "Decision",
    "ExperimentReport",
    "Health",
    "MetricResult",
    "Outcome",
    "Role",
    "SegmentEffect",
    "VelocitySegment",
]

Role = Literal["primary", "secondary", "guardrail"]
Outcome = Literal["ship", "stop", "keep_running", "no_decision"]


@dataclass(frozen=True, slots=True)
class ArmSummary:
    arm: str
    units: int
    weight: float
    share: float


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One metric, one treatment arm against control (arm 0). Effects are treatment - control.

    ``ci_*`` is the fixed-horizon (or Bayesian credible) interval of the absolute effect,
    ``relative_ci_*`` of the relative lift; ``sequential_ci_*`` is the always-valid mSPRT interval
    and ``sequential_p_value`` its p-value, safe to read at every look.
    """

    metric: str
    kind: str
    role: Role
    arm: str
    higher_is_better: bool
    control_mean: float
    treatment_mean: float
    effect: float
    std_error: float
    ci_lower: float
    ci_upper: float
    relative_effect: float
    relative_ci_lower: float
    relative_ci_upper: float
    p_value: float
    adjusted_p_value: float
    chance_to_win: float
    risk: float
    sequential_ci_lower: float
    sequential_ci_upper: float
    sequential_p_value: float
    cuped_variance_removed: float
    n_control: int
    n_treatment: int
    warnings: tuple[str, ...] = ()

    @property
    def better(self) -> bool:
        """The effect goes the good way for this metric (up, or down for a cost)."""
        return (self.effect > 0) == self.higher_is_better and self.effect != 0


@dataclass(frozen=True, slots=True)
class SegmentEffect:
    """A metric's effect within one segment value, raw and partially pooled across values."""

    dimension: str
    value: str
    metric: str
    arm: str
    n_control: int
    n_treatment: int
    effect: float
    std_error: float
    pooled_effect: float
    pooled_ci_lower: float
    pooled_ci_upper: float


@dataclass(frozen=True, slots=True)
class VelocitySegment:
    """Micro-conversions per minute in a segment: the pre-launch baseline and the last day."""

    dimension: str
    value: str
    baseline_per_minute: float
    recent_per_minute: float
    ratio: float
    collapsed: bool


@dataclass(frozen=True, slots=True)
class Health:
    srm: SrmResult
    srm_slices: tuple[SrmSlice, ...]
    units: int
    mixed_units: int
    too_little_data: bool
    velocity: tuple[VelocitySegment, ...]
    problems: tuple[str, ...]

    @property
    def mixed_share(self) -> float:
        return self.mixed_units / self.units if self.units else 0.0

    @property
    def velocity_collapsed(self) -> bool:
        return any(v.collapsed for v in self.velocity)

    @property
    def blocking(self) -> bool:
        """Problems that make any effect estimate untrustworthy: no decision is declared."""
        return self.srm.mismatch or self.velocity_collapsed


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    arm: str | None
    reason: str
    reading: str
    look: int
    looks: int
    information_fraction: float


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    experiment: str
    hypothesis: str
    method: str
    stopping: str
    since: datetime | None
    until: datetime | None
    first_day: date | None
    last_day: date | None
    arms: tuple[ArmSummary, ...]
    metrics: tuple[MetricResult, ...]
    segments: tuple[SegmentEffect, ...]
    health: Health
    decision: Decision

    def metric(self, key: str, arm: str | None = None) -> MetricResult:
        """The result of metric ``key`` (for ``arm``, else the first treatment arm)."""
        for result in self.metrics:
            if result.metric == key and (arm is None or result.arm == arm):
                return result
        raise KeyError(key)
