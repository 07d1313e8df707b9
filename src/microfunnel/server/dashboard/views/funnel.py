"""Funnel page: the builder's question, the bars, the bottleneck, timings and segment drop-off."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from microfunnel.analytics.funnel import funnel
from microfunnel.analytics.funnel_spec import Step
from microfunnel.analytics.segments import BEHAVIOURS, DropOffMatrix, drop_off_matrix, segment_by
from microfunnel.analytics.velocity import TimeToConvert, time_to_convert
from microfunnel.query.funnel import FunnelMode
from microfunnel.server.dashboard.views.charts import funnel_bars, heatmap, lines, series
from microfunnel.stats.survival import KaplanMeier

__all__ = [
    "BREAKDOWNS",
    "DEFAULT_STEPS",
    "MODES",
    "drop_off_heatmap",
    "funnel_page",
    "survival_chart",
]

DEFAULT_STEPS = (
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "add_shipping_info",
    "add_payment_info",
    "purchase",
)
MODES: tuple[FunnelMode, ...] = ("ordered", "strict", "any")
BREAKDOWNS = ("device", "utm_source", "country", "returning", *BEHAVIOURS)
"""Properties to break a funnel down by, then the behaviour presets (did they open the size
guide, read reviews, ...)."""


def default_steps(event_names: Sequence[str]) -> list[str]:
    known = set(event_names)
    return [s for s in DEFAULT_STEPS if s in known] or list(event_names[:3])


def drop_off_heatmap(matrix: DropOffMatrix) -> dict[str, Any]:
    """Share of each segment's units lost at each step, with the units that entered it."""
    cols = [f"→ {name}" for name in matrix.steps[1:]]
    values = [[c.drop_off for c in row] for row in matrix.cells]
    counts = [[c.entered for c in row] for row in matrix.cells]
    return heatmap(matrix.segments, cols, values, high="bad", counts=counts)


def _survival_at(curve: KaplanMeier, grid: Sequence[float]) -> list[float]:
    """The step function's value at each grid time (1 before the first conversion)."""
    return [curve.survival[i - 1] if (i := bisect_right(curve.times, t)) else 1.0 for t in grid]


def survival_chart(ttc: TimeToConvert, *, most: int = 5, points: int = 150) -> dict[str, Any]:
    """Kaplan-Meier curves (share not yet converted by hours since entry): everyone, and the
    ``most`` largest segments; each sampled on one grid so the page stays small."""
    grid = [ttc.window_seconds * i / points for i in range(points + 1)]
    shown = [ttc.overall, *ttc.segments[:most]]
    out = []
    for k, ct in enumerate(shown):
        if ct.curve is None:
            continue
        name = "everyone" if k == 0 else ct.segment
        ys = _survival_at(ct.curve, grid)
        out.append(series(name, [(t / 3600, y) for t, y in zip(grid, ys, strict=True)], step=True,
                          dashed=k > 0))  # fmt: skip
    return lines(out, x="num", xfmt="hours", xlabel="hours since the first step", height=280)


def funnel_page(
    store: Any,
    steps: Sequence[str],
    *,
    mode: FunnelMode = "ordered",
    window_hours: float = 24.0,
    breakdown: str = "",
    tz: str = "UTC",
) -> dict[str, Any]:
    """The funnel; with a breakdown (a property or a behaviour preset) its drop-off matrix; and
    time to convert as Kaplan-Meier curves (ordered and strict funnels)."""
    window = timedelta(hours=window_hours)
    chosen = [Step(s) for s in steps]
    matrix: DropOffMatrix | None = None
    if breakdown:
        matrix = drop_off_matrix(store, chosen, breakdown, window=window, mode=mode, tz=tz)
        result = matrix.funnel
    else:
        result = funnel(store, chosen, window=window, mode=mode, tz=tz)
    ttc: TimeToConvert | None = None
    if mode != "any":
        by = segment_by(behaviour=breakdown) if breakdown in BEHAVIOURS else segment_by(breakdown)
        ttc = time_to_convert(store, chosen, window=window, mode=mode, breakdown=by, tz=tz)
    return {
        "result": result,
        "matrix": matrix,
        "main_chart": funnel_bars(result.steps, result.bottleneck_step),
        "heatmap": drop_off_heatmap(matrix) if matrix and matrix.segments else None,
        "ttc": ttc,
        "survival": survival_chart(ttc) if ttc and ttc.overall.curve else None,
    }
