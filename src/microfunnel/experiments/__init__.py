"""Experiments: GrowthBook-compatible assignment and flags, definitions, triggers, analysis,
design and the decision registry.

Public names are re-exported here and imported on first use, so ``microfunnel.experiments.features``
(used by the SDKs) stays light while ``from microfunnel.experiments import analyze`` works.

>>> from microfunnel.experiments import Evaluator
>>> Evaluator({"f": {"defaultValue": 1}}).eval_feature("f", {}).value
1
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "LIVE_ATTRIBUTES",
    "ArmSummary",
    "Decision",
    "DecisionRecord",
    "Definitions",
    "Evaluator",
    "ExperimentDef",
    "ExperimentReport",
    "ExperimentResult",
    "FeatureResult",
    "FlagServer",
    "Health",
    "Hypothesis",
    "InMemoryStickyBucketStore",
    "Measure",
    "MetricDef",
    "MetricResult",
    "Plan",
    "SegmentEffect",
    "StatsTable",
    "StickyBucketStore",
    "UserContext",
    "Variation",
    "VelocitySegment",
    "adaptive_weights",
    "analyze",
    "analyze_table",
    "analyze_units",
    "build_payload",
    "check_health",
    "check_trigger",
    "compile_condition",
    "decrypt_payload",
    "eval_condition",
    "experiment_stats",
    "exposure_event",
    "load_definitions",
    "load_hypotheses",
    "load_log",
    "load_project_definitions",
    "log_markdown",
    "parse_definitions",
    "parse_metric",
    "plan_experiment",
    "plan_from_baseline",
    "prioritize",
    "project_payload",
    "read_units",
    "record_decision",
    "save_experiment",
    "update_adaptive_weights",
    "velocity_guard",
]

_WHERE: dict[str, str] = {
    "adaptive_weights": "adaptive",
    "update_adaptive_weights": "adaptive",
    "analyze": "analysis",
    "analyze_table": "analysis",
    "experiment_stats": "analysis",
    "compile_condition": "conditions",
    "eval_condition": "conditions",
    "Definitions": "definitions",
    "ExperimentDef": "definitions",
    "Variation": "definitions",
    "load_definitions": "definitions",
    "parse_definitions": "definitions",
    "Plan": "design",
    "plan_experiment": "design",
    "plan_from_baseline": "design",
    "Evaluator": "features",
    "ExperimentResult": "features",
    "FeatureResult": "features",
    "UserContext": "features",
    "check_health": "health",
    "velocity_guard": "health",
    "Measure": "metrics",
    "MetricDef": "metrics",
    "parse_metric": "metrics",
    "build_payload": "payload",
    "decrypt_payload": "payload",
    "DecisionRecord": "registry",
    "Hypothesis": "registry",
    "load_hypotheses": "registry",
    "load_log": "registry",
    "log_markdown": "registry",
    "prioritize": "registry",
    "record_decision": "registry",
    "ArmSummary": "report",
    "Decision": "report",
    "ExperimentReport": "report",
    "Health": "report",
    "MetricResult": "report",
    "SegmentEffect": "report",
    "VelocitySegment": "report",
    "load_project_definitions": "serving",
    "project_payload": "serving",
    "save_experiment": "serving",
    "InMemoryStickyBucketStore": "sticky",
    "StickyBucketStore": "sticky",
    "StatsTable": "tables",
    "LIVE_ATTRIBUTES": "triggers",
    "FlagServer": "triggers",
    "check_trigger": "triggers",
    "exposure_event": "triggers",
    "analyze_units": "units",
    "read_units": "units",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
