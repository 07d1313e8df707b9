"""Insight commands: trends, paths, retention, drivers, forecast, quality.

Each command parses its options, calls one analysis, and prints a table (or JSON with --json).
"""

from __future__ import annotations

from pathlib import Path

import typer

from microfunnel.analytics.drivers import drivers, lead_score
from microfunnel.analytics.forecast import forecast
from microfunnel.analytics.paths import find_loops, paths_around, paths_between
from microfunnel.analytics.quality import delay_words, quality
from microfunnel.analytics.retention import retention
from microfunnel.analytics.trends import trend
from microfunnel.cli.common import (
    JsonOption,
    ProjectOption,
    command,
    open_store,
    parse_date,
    print_json,
    print_table,
)
from microfunnel.errors import QueryError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command("trends")
@command
def trends_cmd(
    event: str = typer.Argument(..., help="The micro-conversion or funnel step."),
    among: str | None = typer.Option(None, help="Rate among persons doing this event."),
    start: str | None = typer.Option(None, help="First local day, YYYY-MM-DD."),
    end: str | None = typer.Option(None, help="Last local day, YYYY-MM-DD."),
    tz: str = typer.Option("UTC", help="Time zone for day boundaries."),
    week: bool = typer.Option(False, "--week", help="Weekly points instead of daily."),
    device: str | None = typer.Option(None, help="Only this device."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Daily (or weekly) rate of an event, its change, and drop alerts."""
    with open_store(project) as store:
        t = trend(store, event, among=among, start=parse_date(start), end=parse_date(end), tz=tz,
                  interval="week" if week else "day",
                  where={"device": device} if device else None)  # fmt: skip
    if as_json:
        return print_json(t)
    rows: list[tuple[object, ...]] = [
        (p.period, p.active, p.converted, f"{p.rate:.2%}") for p in t.points
    ]
    columns = ["period", "active", "converted", "rate"]
    if week:  # a week the range cuts short is not comparable with whole ones: say so
        cut = ["" if p.days == 7 else f"{p.days} of 7" for p in t.points]
        rows = [(*r, c) for r, c in zip(rows, cut, strict=True)]
        columns.append("days (partial)")
    print_table(f"{event} rate", columns, rows)
    for a in t.alerts:
        print_table("drop alert", ["began", "detected", "baseline", "since", "change"],
                    [(a.began, a.detected, f"{a.baseline_rate:.2%}", f"{a.rate_since:.2%}",
                      f"{a.relative_change:+.1%}")])  # fmt: skip


@app.command("paths")
@command
def paths_cmd(
    event: str | None = typer.Argument(None, help="The anchor step (omit with --loops)."),
    to: str | None = typer.Option(None, help="Show paths from EVENT to this event."),
    previous: bool = typer.Option(False, "--previous", help="Events before EVENT."),
    loops: bool = typer.Option(False, "--loops", help="Detours that return to a step."),
    depth: int = typer.Option(3, help="Steps to follow."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Next or previous events around a step, paths between two steps, or loops."""
    with open_store(project) as store:
        if loops:
            found = find_loops(store)
            if as_json:
                return print_json(found)
            rows = [(" > ".join(x.steps), x.sessions, f"{x.share_of_sessions:.1%}")
                    for x in found.loops]  # fmt: skip
            return print_table("loops", ["loop", "sessions", "share"], rows)
        if event is None:
            raise QueryError("give the anchor EVENT, or pass --loops.")
        result = (
            paths_between(store, event, to) if to
            else paths_around(store, event, direction="previous" if previous else "next",
                              depth=depth)
        )  # fmt: skip
    if as_json:
        return print_json(result)
    top = result.paths if hasattr(result, "paths") else result.top
    print_table("paths", ["path", "sessions", "share"],
                [(" > ".join(p.steps), p.sessions, f"{p.share:.1%}") for p in top])  # fmt: skip


@app.command("retention")
@command
def retention_cmd(
    event: str | None = typer.Option(None, help="The return event (default: any event)."),
    weeks: int = typer.Option(8, help="Weeks after the first week."),
    tz: str = typer.Option("UTC", help="Time zone for week boundaries."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Weekly cohorts by first-seen week and the share doing EVENT in later weeks."""
    with open_store(project) as store:
        r = retention(store, event=event, weeks=weeks, tz=tz)
    if as_json:
        return print_json(r)
    cols = ["cohort", "size", *[f"w{k}" for k in range(weeks + 1)]]
    rows = [(c.week, c.size, *["" if s is None else f"{s:.1%}" for s in c.shares])
            for c in r.cohorts]  # fmt: skip
    print_table("retention", cols, rows)


@app.command("drivers")
@command
def drivers_cmd(
    macro: str = typer.Option("purchase", help="The macro conversion."),
    prop: list[str] = typer.Option([], "--property", help="Also test values of this column."),
    min_persons: int = typer.Option(30, help="Skip candidates done by fewer persons."),
    score: bool = typer.Option(False, "--score", help="Also fit the lead score."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Which events go with the macro conversion (associations, not causes)."""
    with open_store(project) as store:
        d = drivers(store, macro, properties=prop, min_persons=min_persons)
        s = lead_score(store, macro) if score else None
    if as_json:
        return print_json({"drivers": d, "lead_score": s})
    rows = [(x.candidate, x.persons, f"{x.odds_ratio:.2f}",
             f"{x.ci_lower:.2f}-{x.ci_upper:.2f}", f"{x.q_value:.3g}")
            for x in d.drivers]  # fmt: skip
    print_table(f"drivers of {macro}", ["candidate", "persons", "odds ratio", "95% CI", "q"], rows)
    if s is not None:
        print_table(f"lead score (held-out AUC {s.test_auc:.3f})", ["event", "points"],
                    [(f.event, f.points) for f in s.features])  # fmt: skip
    typer.echo(d.note)


@app.command("forecast")
@command
def forecast_cmd(
    steps: list[str] = typer.Argument(..., help="The funnel steps, in order."),
    change: list[str] = typer.Option([], help="A new rate into a step: add_to_cart=0.095."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Predicted conversions and revenue when step rates change."""
    changes = {}
    for item in change:
        step, _, rate = item.partition("=")
        try:
            changes[step] = float(rate)
        except ValueError:
            raise QueryError(f"--change `{item}` must look like `add_to_cart=0.095`.") from None
    with open_store(project) as store:
        f = forecast(store, steps, changes=changes)
    if as_json:
        return print_json(f)
    rows = [(s.step, s.observed_count, f"{s.observed_rate:.2%}", f"{s.rate:.2%}",
             f"{s.predicted_count:.1f}", f"{s.value_per_person:.2f}") for s in f.steps]  # fmt: skip
    print_table("forecast", ["step", "observed", "rate", "new rate", "predicted", "value"], rows)
    lo, hi = f.conversions_interval
    typer.echo(f"conversions {f.predicted_conversions:.1f} ({f.relative_change:+.2%}), "
               f"{f.level:.0%} interval {lo:.1f}-{hi:.1f}")  # fmt: skip


@app.command("quality")
@command
def quality_cmd(
    known: list[str] = typer.Option([], help="Known event names (the tracking plan)."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Tagging health: unknown names, quarantine, bots, clock skew."""
    with open_store(project) as store:
        q = quality(store, known=known or None)
    if as_json:
        return print_json(q)
    print_table("quality", ["check", "value"], [
        ("events", q.events), ("unknown events", ", ".join(q.unknown_events)),
        ("quarantine rate", f"{q.quarantine_rate:.2%}"), ("bot share", f"{q.bot_event_share:.2%}"),
        ("arrival delay p99", delay_words(q.clock_skew.p99_seconds)),
    ])  # fmt: skip
