"""``microfunnel experiment ...``: analyze, plan, list, hypotheses, decide, log, adapt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table

from microfunnel.cli.common import (
    JsonOption,
    ProjectOption,
    command,
    console,
    open_store,
    print_json,
    print_table,
)
from microfunnel.config import Project
from microfunnel.experiments.registry import load_hypotheses, load_log, log_markdown, prioritize
from microfunnel.experiments.report import ExperimentReport, MetricResult
from microfunnel.experiments.workflow import (
    analyze_experiment,
    decide_experiment,
    list_experiments,
    plan_for,
    refresh_adaptive,
)

__all__ = ["app"]

app = typer.Typer(help="Experiments: analyze, size, prioritize and decide.", no_args_is_help=True)


def _pct(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}%}" if abs(x) != float("inf") else "n/a"


def _metrics_table(report: ExperimentReport) -> None:
    """One row per metric (and arm, beyond two arms). Numbers are never cut; a long metric
    name folds onto more lines, its role below it. A terminal under 120 columns leaves out the
    adjusted p and CUPED, one under 100 the arms' means too (``--json`` has everything)."""
    columns: list[tuple[str, Callable[[MetricResult], str]]] = [
        ("control", lambda m: f"{m.control_mean:.4g}"),
        ("treatment", lambda m: f"{m.treatment_mean:.4g}"),
        ("lift", lambda m: _pct(m.relative_effect, 1)),
        ("95% interval", lambda m: _interval(m.relative_ci_lower, m.relative_ci_upper)),
        ("p", lambda m: f"{m.p_value:.3g}"),
        ("adj.\np", lambda m: f"{m.adjusted_p_value:.3g}"),
        ("always-\nvalid p", lambda m: f"{m.sequential_p_value:.3g}"),
        ("chance\nto win", lambda m: f"{m.chance_to_win:.1%}"),
        ("CUPED", lambda m: _cuped(m.cuped_variance_removed)),
    ]
    left_out = {"adj.\np", "CUPED"} if console.width < 120 else set()
    if console.width < 100:
        left_out |= {"control", "treatment"}
    columns = [c for c in columns if c[0] not in left_out]
    arms = len(report.arms) > 2
    table = Table(title="Metrics")
    table.add_column("metric", overflow="fold", min_width=12)
    if arms:
        table.add_column("arm", overflow="fold")
    for name, _ in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for m in report.metrics:
        head = [f"{m.metric}\n[dim]{m.role}[/dim]", *([m.arm] if arms else [])]
        table.add_row(*head, *(cell(m) for _, cell in columns))
    console.print(table)


def _interval(low: float, high: float) -> str:
    return f"{_pct(low, 1)} .. {_pct(high, 1)}"


def _cuped(removed: float) -> str:
    return f"-{removed:.0%} var." if removed >= 0.005 else "–"


def _render(report: ExperimentReport) -> None:
    console.print(f"[bold]{report.experiment}[/bold] ({report.method}; {report.stopping})")
    if report.hypothesis:
        console.print(f"  hypothesis: {report.hypothesis}")
    print_table(
        "Arms", ["arm", "units", "share", "weight"],
        [(a.arm, a.units, f"{a.share:.1%}", f"{a.weight:.0%}") for a in report.arms],
    )  # fmt: skip
    _metrics_table(report)
    for problem in report.health.problems:
        console.print(f"[yellow]health:[/yellow] {problem}")
    colour = {"ship": "green", "stop": "red", "no_decision": "yellow"}.get(
        report.decision.outcome, "cyan"
    )
    console.print(f"[{colour}]{report.decision.reading}[/{colour}]")  # "Keep running: ..."


@app.command()
@command
def analyze(
    experiment_id: str = typer.Argument(..., help="The experiment key in experiments.yaml."),
    units: Path | None = typer.Option(
        None, "--units", help="Analyze a CSV or Parquet table of units instead of the store."
    ),
    until: datetime | None = typer.Option(None, help="Analyze data up to this UTC time."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Effects, health and the decision of the declared rule."""
    proj = Project(project)
    if units is not None:
        report = analyze_experiment(proj, None, experiment_id, units=units)
    else:
        with open_store(project) as store:
            report = analyze_experiment(proj, store, experiment_id, until=until)
    print_json(report) if as_json else _render(report)


@app.command()
@command
def plan(
    experiment_id: str = typer.Argument(..., help="The experiment key in experiments.yaml."),
    mde: float | None = typer.Option(None, help="Relative lift to detect (default: declared)."),
    lookback_days: int = typer.Option(28, help="Days of history to read the baseline from."),
    power: float = typer.Option(0.8, help="Chance to detect a lift of the MDE."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Size a test from the store's own baseline and traffic: users per arm and days."""
    with open_store(project) as store:
        result = plan_for(Project(project), store, experiment_id, mde=mde,
                          lookback_days=lookback_days, power=power)  # fmt: skip
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result.metric}: baseline {result.baseline:.4g}, MDE {result.mde:+.1%} ({result.design}, "
        f"alpha {result.alpha}, power {result.power:.0%})\n"
        f"  {result.n_per_arm:,.0f} units per arm x {result.arms} arms = {result.total:,.0f}; "
        f"at {result.daily_units or 0:,.0f} new units a day: {result.days} days"
    )


@app.command("list")
@command
def list_(project: Path = ProjectOption, as_json: bool = JsonOption) -> None:
    """Experiments in experiments.yaml."""
    items = list_experiments(Project(project))
    if as_json:
        print_json(items)
        return
    print_table(
        "Experiments", ["key", "status", "primary", "arms", "weights", "rule", "MDE", "trigger"],
        [(e.key, e.status + (" (adaptive)" if e.adaptive else ""), e.primary, " / ".join(e.arms),
          " / ".join(f"{w:.0%}" for w in e.weights), f"{e.method}, {e.stopping}",
          f"{e.mde:.0%}", "yes" if e.trigger else "") for e in items],
    )  # fmt: skip


@app.command()
@command
def hypotheses(
    by: str = typer.Option("pxl", help="Rank by pxl or ice."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Hypotheses from hypotheses.yaml, highest priority first."""
    order: Literal["ice", "pxl"] = "ice" if by == "ice" else "pxl"
    ranked = prioritize(load_hypotheses(Project(project).path), by=order)
    if as_json:
        print_json([{**_as_dict(h), "ice_score": h.ice_score, "pxl_score": h.pxl_score}
                    for h in ranked])  # fmt: skip
        return
    print_table(
        "Hypotheses", ["#", "key", "PXL", "ICE", "expected lift", "change"],
        [(i + 1, h.key, h.pxl_score, f"{h.ice_score:.1f}", f"{h.expected_lift:+.0%}", h.change)
         for i, h in enumerate(ranked)],
    )  # fmt: skip


def _as_dict(value: object) -> dict[str, object]:
    from microfunnel.cli.common import to_jsonable

    out: dict[str, object] = to_jsonable(value)
    return out


@app.command()
@command
def decide(
    experiment_id: str = typer.Argument(..., help="The experiment key in experiments.yaml."),
    learning: str = typer.Option("", help="What the team learned, for the learning log."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Analyze and record the decision (and the learning) in the project's log."""
    with open_store(project) as store:
        record = decide_experiment(Project(project), store, experiment_id, learning=learning)
    if as_json:
        print_json(record)
    else:
        console.print(f"recorded: [bold]{record.reading}[/bold]")


@app.command()
@command
def log(
    markdown: bool = typer.Option(False, "--markdown", help="Print the log as Markdown."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """The decision and learning log."""
    folder = Project(project).path
    records = load_log(folder)
    if as_json:
        print_json(records)
    elif markdown:
        typer.echo(log_markdown(records, load_hypotheses(folder)), nl=False)
    else:
        print_table(
            "Decisions", ["decided", "experiment", "outcome", "lift", "learning"],
            [(r.decided_at, r.experiment, r.outcome, _pct(r.relative_effect), r.learning)
             for r in records],
        )  # fmt: skip


@app.command()
@command
def adapt(project: Path = ProjectOption, as_json: bool = JsonOption) -> None:
    """Recompute Thompson-sampling weights of adaptive experiments (served to SDKs)."""
    with open_store(project) as store:
        weights = refresh_adaptive(Project(project), store)
    if as_json:
        print_json(weights)
    else:
        for key, w in weights.items():
            console.print(f"{key}: " + " / ".join(f"{x:.1%}" for x in w))
