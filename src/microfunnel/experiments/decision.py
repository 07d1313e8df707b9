"""The decision an experiment's declared rule gives, and what it means in plain words.

Frequentist experiments use their declared stopping rule (``microfunnel.stats.decide``: mSPRT,
O'Brien-Fleming, Pocock or fixed horizon) on the primary metric at the current look. Bayesian
experiments ship when the chance to win reaches ``1 - alpha / 2`` and stop when it falls to
``alpha / 2``; at the planned sample anything else is a draw. Either way a guardrail that is
worse with an always-valid p-value below alpha stops the experiment, and an unhealthy experiment
(sample ratio mismatch, collapsed velocity) gets no decision at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from microfunnel.experiments.definitions import ExperimentDef
from microfunnel.experiments.report import Decision, Health, MetricResult
from microfunnel.stats import StoppingRule, decide
from microfunnel.stats.stopping import Stats

__all__ = ["make_decision"]


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.1%}"


def _effect_words(r: MetricResult) -> str:
    return (
        f"{r.metric} {r.control_mean:.4g} -> {r.treatment_mean:.4g} "
        f"({_pct(r.relative_effect)}, 95% interval {_pct(r.relative_ci_lower)} to "
        f"{_pct(r.relative_ci_upper)}; always-valid p = {r.sequential_p_value:.3g})"
    )


def _look(rule: StoppingRule, fraction: float) -> int:
    return max(1, min(rule.looks, math.ceil(fraction * rule.looks)))


def _frequentist_call(exp: ExperimentDef, stats: Mapping[str, Stats], look: int) -> dict[str, str]:
    control = stats[exp.arms[0]]
    return {
        arm: decide(exp.stopping, control, stats[arm], look=look).action for arm in exp.arms[1:]
    }


def _bayesian_call(
    exp: ExperimentDef, primary: Sequence[MetricResult], final: bool
) -> dict[str, str]:
    alpha = exp.stopping.alpha
    out = {}
    for r in primary:
        if r.chance_to_win >= 1 - alpha / 2 or r.chance_to_win <= alpha / 2:
            out[r.arm] = "stop_reject"
        else:
            out[r.arm] = "stop_accept" if final else "continue"
    return out


def make_decision(
    exp: ExperimentDef,
    primary: Sequence[MetricResult],
    primary_stats: Mapping[str, Stats],
    guardrails: Sequence[MetricResult],
    health: Health,
    fraction: float,
) -> Decision:
    """Ship, stop, keep running, or no decision (unhealthy), with a reading."""
    rule = exp.stopping
    look = _look(rule, fraction)

    def result(outcome: str, arm: str | None, reason: str, reading: str) -> Decision:
        return Decision(outcome, arm, reason, reading, look, rule.looks, fraction)  # type: ignore[arg-type]

    if health.blocking:
        return result(
            "no_decision", None, "unhealthy",
            "No decision: " + " ".join(p for p in health.problems if "too little" not in p),
        )  # fmt: skip
    if health.too_little_data:
        return result(
            "keep_running", None, "too_little_data", "Keep running: " + health.problems[-1]
        )
    harmed = [g for g in guardrails if not g.better and g.sequential_p_value <= rule.alpha]
    if harmed:
        g = harmed[0]
        return result(
            "stop", g.arm, "guardrail",
            f"Stop: guardrail {_effect_words(g)} got worse in arm {g.arm}. Keep control, find "
            "out why the change hurts, and fix it before testing again.",
        )  # fmt: skip
    if exp.method == "bayesian":
        calls = _bayesian_call(exp, primary, fraction >= 1)
    else:
        calls = _frequentist_call(exp, primary_stats, look)
    by_arm = {r.arm: r for r in primary}
    winners = [by_arm[a] for a, c in calls.items() if c == "stop_reject" and by_arm[a].better]
    if winners:
        best = max(winners, key=lambda r: r.relative_effect * (1 if r.higher_is_better else -1))
        return result(
            "ship", best.arm, "win",
            f"Win: {_effect_words(best)} in arm {best.arm}, past the declared {rule.method} "
            f"boundary at look {look} of {rule.looks}. Ship {best.arm}.",
        )  # fmt: skip
    if all(c == "stop_reject" for c in calls.values()):
        worst = primary[0]
        return result(
            "stop", None, "loss",
            f"Loss: {_effect_words(worst)}; the change hurts the primary metric. Stop and keep "
            "control; note what this says about the hypothesis in the learning log.",
        )  # fmt: skip
    if all(c != "continue" for c in calls.values()):
        r = primary[0]
        return result(
            "stop", None, "draw",
            f"Draw: {_effect_words(r)}. No effect as large as the planned MDE of {exp.mde:.0%} "
            "showed up. A draw suggests the change does not move this micro-conversion enough "
            "to matter: keep the simpler version, or test a bolder variant of the idea.",
        )  # fmt: skip
    r = primary[0]
    return result(
        "keep_running", None, "within_bounds",
        f"Keep running: {_effect_words(r)} has not crossed the declared {rule.method} boundary "
        f"({fraction:.0%} of the planned sample, look {look} of {rule.looks}).",
    )  # fmt: skip
