"""``microfunnel report``: a self-contained HTML report of the overview, a funnel, an experiment."""

from __future__ import annotations

from pathlib import Path

import typer

from microfunnel.cli.common import ProjectOption, command, console
from microfunnel.report import build_report

__all__ = ["app"]

app = typer.Typer()


@app.command()
@command
def report(
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    project: Path = ProjectOption,
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Experiment key (default: the first running one)."
    ),
    step: list[str] = typer.Option(
        [], "--step", "-s", help="A funnel step, in order (repeat; default: the shop funnel)."
    ),
    window: float = typer.Option(24.0, "--window", help="Funnel window in hours."),
    breakdown: str = typer.Option("device", "--breakdown", help="Funnel breakdown property."),
) -> None:
    """Write a self-contained HTML report (inline CSS, JS and SVG; opens offline)."""
    html = build_report(
        project, experiment=experiment, steps=step or None, window_hours=window,
        breakdown=breakdown,
    )  # fmt: skip
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out} ({len(html) / 1024:,.0f} KiB)")
