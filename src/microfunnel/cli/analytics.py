"""Funnel commands: funnel, segments (drop-off by segment), velocity (and time to convert).

Each command parses its options, calls one analysis, and prints a table (or JSON with --json).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import typer

from microfunnel.analytics.funnel import funnel
from microfunnel.analytics.funnel_spec import Step, parse_window
from microfunnel.analytics.segments import drop_off_matrix, segment_by
from microfunnel.analytics.velocity import time_to_convert, velocity
from microfunnel.cli.common import (
    JsonOption,
    ProjectOption,
    command,
    open_store,
    parse_date,
    print_json,
    print_table,
)
from microfunnel.query.funnel import FunnelMode, Unit

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

StepsArg = typer.Argument(..., help="The steps in order, e.g. view_item add_to_cart purchase.")
WindowOpt = typer.Option("24h", help="Conversion window: 30m, 24h, 7d ...")
StartOpt = typer.Option(None, help="First local day, YYYY-MM-DD.")
EndOpt = typer.Option(None, help="Day after the last, YYYY-MM-DD.")
TzOpt = typer.Option("UTC", help="Time zone for day boundaries.")


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


@app.command("funnel")
@command
def funnel_cmd(
    steps: list[str] = StepsArg,
    mode: str = typer.Option("ordered", help="ordered, strict or any."),
    unit: str = typer.Option("person", help="person, session or total."),
    window: str = WindowOpt,
    breakdown: str | None = typer.Option(None, help="Property to break down by, e.g. device."),
    behaviour: str | None = typer.Option(None, help="Preset behaviour to split by."),
    start: str | None = StartOpt,
    end: str | None = EndOpt,
    tz: str = TzOpt,
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Count a funnel: units per step, conversion, time between steps and the biggest leak."""
    with open_store(project) as store:
        r = funnel(store, [Step(s) for s in steps], window=parse_window(window),
                   mode=cast(FunnelMode, mode), unit=cast(Unit, unit),
                   breakdown=segment_by(breakdown, behaviour), start=parse_date(start),
                   end=parse_date(end), tz=tz)  # fmt: skip
    if as_json:
        return print_json(r)
    rows = [(s.name, f"{s.count:,}", _pct(s.conversion_from_start),
             _pct(s.conversion_from_previous), "" if s.time_median is None
             else f"{s.time_median:,.0f}s") for s in r.steps]  # fmt: skip
    print_table(f"funnel ({r.mode}, {r.unit})",
                ["step", "count", "from start", "from previous", "median time"], rows)  # fmt: skip
    for seg in r.segments:
        print_table(seg.segment, ["step", "count", "from previous"],
                    [(s.name, f"{s.count:,}", _pct(s.conversion_from_previous))
                     for s in seg.steps])  # fmt: skip
    typer.echo(r.bottleneck)


@app.command("segments")
@command
def segments_cmd(
    steps: list[str] = StepsArg,
    by: str = typer.Option("device", help="Property, or a preset behaviour (size_guide, ...)."),
    unit: str = typer.Option("person", help="person or session."),
    window: str = WindowOpt,
    min_units: int = typer.Option(30, help="Smallest cell that may be called the worst."),
    start: str | None = StartOpt,
    end: str | None = EndOpt,
    tz: str = TzOpt,
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Drop-off per segment and step, and the segment where a step leaks worst."""
    with open_store(project) as store:
        m = drop_off_matrix(store, [Step(s) for s in steps], by, min_units=min_units,
                            unit=cast(Unit, unit), window=parse_window(window),
                            start=parse_date(start), end=parse_date(end), tz=tz)  # fmt: skip
    if as_json:
        return print_json(m)
    rows = [("(all)", *[_pct(x) for x in m.overall])]
    rows += [
        (seg, *[_pct(c.drop_off) for c in row])
        for seg, row in zip(m.segments, m.cells, strict=True)
    ]
    print_table("drop-off by segment", ["segment", *[f"-> {s}" for s in m.steps[1:]]], rows)
    typer.echo(m.sentence)


@app.command("velocity")
@command
def velocity_cmd(
    steps: list[str] = typer.Argument(None, help="Also time to convert along these steps."),
    by: str | None = typer.Option(None, help="Property to split by, e.g. device."),
    behaviour: str | None = typer.Option(None, help="Preset behaviour to split by."),
    window: str = WindowOpt,
    start: str | None = StartOpt,
    end: str | None = EndOpt,
    tz: str = TzOpt,
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Actions per minute per segment; with steps, time to convert (censored survival)."""
    seg = segment_by(by, behaviour)
    with open_store(project) as store:
        v = velocity(store, by=seg, start=parse_date(start), end=parse_date(end), tz=tz)
        ttc = (
            time_to_convert(store, [Step(s) for s in steps], window=parse_window(window),
                            breakdown=seg, start=parse_date(start), end=parse_date(end), tz=tz)
            if steps else None
        )  # fmt: skip
    if as_json:
        return print_json({"velocity": v, "time_to_convert": ttc})
    print_table("actions per minute", ["segment", "sessions", "mean", "median"],
                [(s.segment, f"{s.sessions:,}", f"{s.mean:.2f}",
                  "" if s.median is None else f"{s.median:.2f}") for s in v.segments])  # fmt: skip
    if ttc is not None:
        rows = [(c.segment or "(all)", f"{c.entrants:,}", f"{c.converted:,}",
                 "" if c.median_seconds is None else f"{c.median_seconds:,.0f}s")
                for c in (ttc.overall, *ttc.segments)]  # fmt: skip
        print_table(f"time to convert ({' -> '.join(ttc.steps)})",
                    ["segment", "entrants", "converted", "median"], rows)  # fmt: skip
