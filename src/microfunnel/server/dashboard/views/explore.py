"""Trends, Paths and Retention pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from microfunnel.analytics.paths import DEFAULT_EXCLUDE, find_loops, paths_around
from microfunnel.analytics.retention import retention
from microfunnel.analytics.trends import trend
from microfunnel.server.dashboard.views.charts import heatmap, lines, sankey, series

__all__ = ["paths_page", "retention_page", "trends_page"]


def trends_page(
    store: Any,
    event: str,
    *,
    among: str | None = None,
    where: Mapping[str, str] | None = None,
    tz: str = "UTC",
) -> dict[str, Any]:
    t = trend(store, event, among=among, where=where, tz=tz, interval="day")
    weekly = trend(store, event, among=among, where=where, tz=tz, interval="week")
    markers = [(a.began, f"drop began {a.began:%m-%d}: {a.relative_change:+.0%}") for a in t.alerts]
    daily = series(f"{event} daily rate", [(p.period, p.rate) for p in t.points])
    chart = lines([daily], markers=markers, zero=True)
    # a week cut short by the range is not comparable with whole ones: left out, and said so
    whole = [(p.period, p.rate) for p in weekly.points if p.days == 7]
    week_chart = lines([series("weekly rate", whole)]) if whole else None
    partial = [p.period for p in weekly.points if p.days < 7]
    return {
        "trend": t,
        "weekly": weekly,
        "main_chart": chart,
        "week_chart": week_chart,
        "partial_weeks": partial,
    }


def paths_page(
    store: Any,
    anchor: str,
    *,
    direction: Literal["next", "previous"] = "next",
    depth: int = 3,
    tz: str = "UTC",
) -> dict[str, Any]:
    around = paths_around(store, anchor, direction=direction, depth=depth, tz=tz)
    loops = find_loops(store, tz=tz)
    return {
        "around": around,
        "loops": loops,
        "main_chart": sankey(around.nodes, around.links),
        "excluded": DEFAULT_EXCLUDE,
    }


def retention_page(
    store: Any, *, event: str | None = None, weeks: int = 6, tz: str = "UTC"
) -> dict[str, Any]:
    r = retention(store, event=event, weeks=weeks, tz=tz)
    rows = [f"{c.week:%Y-%m-%d} ({c.size:,})" for c in r.cohorts]
    cols = [f"week {k}" for k in range(weeks + 1)]
    chart = heatmap(
        rows,
        cols,
        [list(c.shares) for c in r.cohorts],
        high="good",
        counts=[list(c.returning) for c in r.cohorts],
    )
    return {"retention": r, "main_chart": chart}
