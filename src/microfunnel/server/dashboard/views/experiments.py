"""Experiments: the declared experiments with their status, and one experiment's report."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal, Protocol

from microfunnel.config import Project
from microfunnel.events.plan import TrackingPlan
from microfunnel.experiments.analysis import EPOCH, analyze_table, experiment_stats
from microfunnel.experiments.definitions import Definitions, ExperimentDef, load_definitions
from microfunnel.experiments.registry import load_hypotheses, load_log, prioritize
from microfunnel.experiments.report import ExperimentReport
from microfunnel.experiments.tables import StatsTable
from microfunnel.experiments.workflow import analyze_experiment, list_experiments
from microfunnel.server.dashboard.views.charts import lines, series
from microfunnel.store.base import Store

__all__ = ["ProjectData", "definitions", "listing", "report_page", "running", "sequential_path"]


class ProjectData(Protocol):
    """What the experiment pages read: a running server's Runtime, or the report's project."""

    project: Project
    store: Store
    plan: TrackingPlan


def definitions(runtime: ProjectData) -> Definitions:
    return load_definitions(runtime.project.experiments_path, events=runtime.plan.event_names)


def running(runtime: ProjectData) -> list[ExperimentDef]:
    return [e for e in definitions(runtime).experiments.values() if e.status == "running"]


def listing(runtime: ProjectData, *, rank: Literal["pxl", "ice"] = "pxl") -> dict[str, Any]:
    """The experiments, the hypothesis board (``hypotheses.yaml`` ranked by PXL or ICE) and
    the decision and learning log (``decisions.jsonl``, latest first)."""
    order = {"running": 0, "draft": 1, "stopped": 2}
    exps = sorted(list_experiments(runtime.project), key=lambda e: (order.get(e.status, 3), e.key))
    folder = runtime.project.path
    return {
        "experiments": exps,
        "hypotheses": prioritize(load_hypotheses(folder), by=rank),
        "rank": rank,
        "log": list(reversed(load_log(folder))),
    }


def _until_day(table: StatsTable, day: int) -> StatsTable:
    keep = table.mask(max_day=day)
    return replace(
        table,
        arm=table.arm[keep],
        day=table.day[keep],
        segment_values={k: v[keep] for k, v in table.segment_values.items()},
        columns={k: v[keep] for k, v in table.columns.items()},
    )


def sequential_path(table: StatsTable, exp: ExperimentDef, metric: str) -> list[dict[str, Any]]:
    """The primary effect and its always-valid interval as the report read it after each day."""
    path = []
    for day in table.days:
        report = analyze_table(_until_day(table, day), exp, segments=False)
        for r in report.metrics:
            if r.metric == metric and r.arm == exp.arms[1]:
                path.append({"day": EPOCH + timedelta(days=day), "result": r})
    return path


def report_page(runtime: ProjectData, key: str) -> dict[str, Any]:
    exp = definitions(runtime).experiment(key)
    report = analyze_experiment(runtime.project, runtime.store, key)
    primary = report.metrics[0].metric if report.metrics else exp.primary.key
    path: list[dict[str, Any]] = []
    if report.since is not None and report.until is not None:
        table = experiment_stats(runtime.store, exp, since=report.since, until=report.until)
        path = sequential_path(table, exp, primary)
    return {
        "exp": exp,
        "report": report,
        "path_chart": _path_chart(path, primary, exp.primary.kind),
        "forest": forest(report),
        "primary_segments": [s for s in report.segments if s.metric == primary],
        "other_segments": [s for s in report.segments if s.metric != primary],
    }


def _path_chart(path: list[dict[str, Any]], metric: str, kind: str) -> dict[str, Any]:
    effect = series(
        f"{metric}: effect (treatment − control) and its always-valid interval",
        [(p["day"], p["result"].effect) for p in path],
        band=[(p["day"], p["result"].sequential_ci_lower, p["result"].sequential_ci_upper)
              for p in path],
    )  # fmt: skip
    return lines([effect], fmt="pp" if kind == "conversion" else "num", zero=True)


def forest(report: ExperimentReport) -> dict[str, Any]:
    rows = []
    two_arms = len(report.arms) == 2
    for r in report.metrics:
        better = r.relative_effect > 0 if r.higher_is_better else r.relative_effect < 0
        flag = ("good" if better else "bad") if r.adjusted_p_value < 0.05 else "neutral"
        rows.append({
            "label": f"{r.metric} ({r.role})" if two_arms else f"{r.metric} ({r.role}, {r.arm})",
            "est": r.relative_effect,
            "lo": r.relative_ci_lower, "hi": r.relative_ci_upper, "flag": flag,
        })  # fmt: skip
    return {"type": "forest", "rows": rows, "fmt": "spct", "ref": 0, "log": False}
