"""Degenerate data across the engine: a neutral result with a warning code, never a crash."""

import math

import pytest

from microfunnel.stats import (
    CupedStats,
    MeanStats,
    ProportionStats,
    StoppingRule,
    cuped_test,
    decide,
    kaplan_meier,
    logrank_test,
    msprt_test,
    thompson_weights,
)


def test_sequential_and_cuped_on_empty_or_tiny_arms() -> None:
    empty = CupedStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    r = cuped_test(empty, empty)
    assert set(r.result.warnings) == {"EMPTY_ARM", "ZERO_COVARIATE_VARIANCE"}
    assert r.result.p_value == 1.0 and not r.result.significant
    tiny = msprt_test(MeanStats(1, 1.0, 1.0), MeanStats(1, 9.0, 81.0))
    assert tiny.warnings == ("SMALL_SAMPLE",) and not tiny.significant
    assert math.isinf(tiny.ci_upper)


def test_stopping_rule_on_empty_arms_never_rejects() -> None:
    rule = StoppingRule(method="pocock", looks=2)
    none = MeanStats(0, 0.0, 0.0)
    first = decide(rule, none, none, look=1)
    last = decide(rule, none, none, look=2)
    assert (first.action, last.action) == ("continue", "stop_accept")
    assert last.warnings == ("EMPTY_ARM",)


def test_survival_and_bandit_without_data() -> None:
    assert kaplan_meier([], []).survival == ()
    assert logrank_test([1, 1], [1, 1], [1, 1], [1, 1]).p_value == 1.0
    w = thompson_weights([ProportionStats(0, 0), ProportionStats(0, 0)], draws=20_000)
    assert sum(w) == pytest.approx(1.0) and abs(w[0] - 0.5) < 0.02
