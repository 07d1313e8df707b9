"""The analysis pipeline on the simulated shop recovers what was planted, and nothing else."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime

import pytest

from microfunnel.cli.common import to_jsonable
from microfunnel.experiments.analysis import analyze
from microfunnel.experiments.definitions import Definitions
from microfunnel.experiments.report import ExperimentReport
from microfunnel.sim import Planted
from microfunnel.store.duckdb import DuckDBStore


@pytest.fixture(scope="module")
def banner(shop: DuckDBStore, definitions: Definitions, planted: Planted,
           before_break: datetime) -> ExperimentReport:  # fmt: skip
    return analyze(shop, definitions.experiment(planted.experiment_id), until=before_break)


def _covers(lo: float, hi: float, truth: float) -> bool:
    return lo <= truth <= hi


def test_planted_lift_is_detected_with_an_interval_covering_the_truth(
    banner: ExperimentReport, planted: Planted
) -> None:
    atc = banner.metric("add_to_cart")
    assert atc.role == "primary" and atc.arm == "treatment"
    assert atc.relative_effect > 0 and atc.relative_ci_lower > 0
    assert _covers(atc.relative_ci_lower, atc.relative_ci_upper, planted.experiment_atc_lift)
    assert atc.sequential_p_value < 0.05 and atc.chance_to_win > 0.99
    assert atc.sequential_ci_lower <= atc.ci_lower  # the always-valid interval is wider
    items = banner.metric("items_per_cart")  # a ratio metric: add_to_cart events per converter
    assert _covers(items.relative_ci_lower, items.relative_ci_upper, planted.experiment_aov_lift)
    revenue = banner.metric("revenue_per_visitor")
    truth = planted.experiment_revenue_lift
    assert revenue.relative_effect > 0
    assert _covers(revenue.relative_ci_lower, revenue.relative_ci_upper, truth)
    assert banner.decision.outcome == "ship" and banner.decision.arm == "treatment"
    assert banner.decision.reading.startswith("Win: add_to_cart")
    assert banner.health.problems == ()


def test_report_has_guardrails_funnel_steps_corrections_and_segments(
    banner: ExperimentReport,
) -> None:
    guard = banner.metric("checkout_error_rate")
    assert guard.role == "guardrail" and guard.higher_is_better is False
    steps = [m.metric for m in banner.metrics if m.metric.startswith("checkout_funnel:")]
    assert steps[0] == "checkout_funnel:add_to_cart->begin_checkout" and len(steps) == 3
    for m in banner.metrics:
        if m.role != "guardrail":
            assert m.adjusted_p_value >= m.p_value
    device = [s for s in banner.segments if s.dimension == "device" and s.metric == "add_to_cart"]
    assert {s.value for s in device} == {"desktop", "mobile", "tablet"}
    for s in device:  # pooled estimates are pulled toward each other, not away
        assert s.pooled_ci_lower <= s.pooled_effect <= s.pooled_ci_upper
    spread_raw = max(s.effect for s in device) - min(s.effect for s in device)
    spread_pooled = max(s.pooled_effect for s in device) - min(s.pooled_effect for s in device)
    assert spread_pooled <= spread_raw + 1e-12
    json.dumps(to_jsonable(banner))  # renders for the CLI and the API


def test_aa_experiment_declares_nothing(
    shop: DuckDBStore, definitions: Definitions, planted: Planted, before_break: datetime
) -> None:
    report = analyze(shop, definitions.experiment(planted.aa_experiment_id), until=before_break)
    assert report.decision.outcome == "keep_running"
    for m in report.metrics:
        assert m.sequential_p_value > 0.05
    assert not report.health.srm.mismatch


def test_planted_srm_is_caught_with_a_drilldown(
    shop: DuckDBStore, definitions: Definitions, planted: Planted, before_break: datetime
) -> None:
    assert planted.srm_experiment_id is not None
    report = analyze(shop, definitions.experiment(planted.srm_experiment_id), until=before_break)
    assert report.health.srm.mismatch
    control = report.arms[0]
    assert control.share == pytest.approx(planted.srm_control_share, abs=0.01)
    assert report.health.srm_slices and report.health.srm_slices[0].flagged
    assert report.decision.outcome == "no_decision"
    assert "sample ratio mismatch" in report.decision.reading


def test_planted_tracking_break_is_caught_by_the_velocity_guard(
    shop: DuckDBStore, definitions: Definitions, planted: Planted, before_break: datetime
) -> None:
    exp = definitions.experiment(planted.experiment_id)
    report = analyze(shop, exp)
    collapsed = [v for v in report.health.velocity if v.collapsed]
    assert [(v.dimension, v.value) for v in collapsed] == [
        ("device", planted.tracking_break_device)
    ]
    assert report.decision.outcome == "no_decision"
    assert "velocity collapse in device = desktop" in report.decision.reading
    # Up to the break the same segment is healthy, and the decision stands.
    before = analyze(shop, exp, until=before_break, segments=False)
    assert not any(v.collapsed for v in before.health.velocity)
    assert before.decision.outcome == "ship"


def test_bayesian_method_and_too_little_data(
    shop: DuckDBStore, definitions: Definitions, planted: Planted, before_break: datetime
) -> None:
    exp = replace(definitions.experiment(planted.experiment_id), method="bayesian")
    report = analyze(shop, exp, until=before_break, segments=False)
    assert report.decision.outcome == "ship"
    early = analyze(shop, exp, until=datetime(2024, 4, 1, 1), segments=False)
    assert early.health.too_little_data and early.decision.outcome == "keep_running"
    assert math.isfinite(early.metric("add_to_cart").control_mean)
