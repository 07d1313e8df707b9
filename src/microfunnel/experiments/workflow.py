"""Project-level experiment operations: what the CLI commands and HTTP routes call.

Each function takes a :class:`~microfunnel.config.Project` and an open store, reads the
project's definitions, and returns a dataclass the adapters render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from microfunnel.config import Project
from microfunnel.experiments.adaptive import update_adaptive_weights
from microfunnel.experiments.analysis import analyze
from microfunnel.experiments.design import Plan, plan_experiment
from microfunnel.experiments.registry import DecisionRecord, record_decision
from microfunnel.experiments.report import ExperimentReport
from microfunnel.experiments.serving import load_project_definitions, load_weights
from microfunnel.experiments.units import analyze_units, read_units
from microfunnel.store.base import Store

__all__ = [
    "ExperimentSummary",
    "analyze_experiment",
    "decide_experiment",
    "list_experiments",
    "plan_for",
    "refresh_adaptive",
]


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    key: str
    name: str
    status: str
    primary: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    method: str
    stopping: str
    mde: float
    adaptive: bool
    trigger: bool
    hypothesis: str


def list_experiments(project: Project) -> list[ExperimentSummary]:
    """Every experiment in experiments.yaml, with adaptive weights where computed."""
    defs = load_project_definitions(project)
    weights = load_weights(project)
    return [
        ExperimentSummary(
            e.key,
            e.name,
            e.status,
            e.primary.key,
            e.arms,
            tuple(weights.get(e.key, e.weights)) if e.adaptive else e.weights,
            e.method,
            e.stopping.method,
            e.mde,
            e.adaptive,
            bool(e.trigger),
            e.hypothesis,
        )
        for e in defs.experiments.values()
    ]


def analyze_experiment(
    project: Project,
    store: Store | None,
    key: str,
    *,
    units: str | Path | None = None,
    until: datetime | None = None,
) -> ExperimentReport:
    """Analyze experiment ``key`` from the store, or from a units file (CSV or Parquet)."""
    exp = load_project_definitions(project).experiment(key)
    if units is not None:
        return analyze_units(read_units(units), exp)
    assert store is not None, "a store is needed unless a units file is given"
    return analyze(store, exp, until=until)


def plan_for(
    project: Project,
    store: Store,
    key: str,
    *,
    mde: float | None = None,
    lookback_days: int = 28,
    power: float = 0.8,
) -> Plan:
    """Size experiment ``key`` from the store's own baseline and traffic."""
    exp = load_project_definitions(project).experiment(key)
    return plan_experiment(store, exp, mde=mde, lookback_days=lookback_days, power=power)


def decide_experiment(
    project: Project, store: Store, key: str, *, learning: str = ""
) -> DecisionRecord:
    """Analyze ``key`` and record its decision and the learning in the project's log."""
    report = analyze_experiment(project, store, key)
    return record_decision(project.path, report, learning=learning)


def refresh_adaptive(project: Project, store: Store) -> dict[str, list[float]]:
    """Recompute the Thompson-sampling weights served for adaptive experiments."""
    return update_adaptive_weights(project, store)
