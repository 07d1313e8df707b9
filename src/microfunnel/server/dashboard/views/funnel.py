"""Funnel page: the builder's question, the bars, the bottleneck, timings and segment drop-off."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from microfunnel.analytics.funnel import FunnelResult, funnel
from microfunnel.analytics.funnel_spec import Breakdown, Step
from microfunnel.query.funnel import FunnelMode
from microfunnel.server.dashboard.views.charts import funnel_bars, heatmap

__all__ = ["BREAKDOWNS", "DEFAULT_STEPS", "MODES", "funnel_page"]

DEFAULT_STEPS = (
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "add_shipping_info",
    "add_payment_info",
    "purchase",
)
MODES: tuple[FunnelMode, ...] = ("ordered", "strict", "any")
BREAKDOWNS = ("device", "utm_source", "country", "returning")


def default_steps(event_names: Sequence[str]) -> list[str]:
    known = set(event_names)
    return [s for s in DEFAULT_STEPS if s in known] or list(event_names[:3])


def drop_off_heatmap(result: FunnelResult) -> dict[str, Any] | None:
    """Share of each segment's units lost at each step (1 - conversion from the previous)."""
    if not result.segments:
        return None
    cols = [f"→ {s.name}" for s in result.steps[1:]]
    rows = [seg.segment for seg in result.segments]
    values = [
        [None if prev.count == 0 else 1.0 - cur.conversion_from_previous
         for prev, cur in zip(seg.steps, seg.steps[1:], strict=False)]
        for seg in result.segments
    ]  # fmt: skip
    counts = [[s.count for s in seg.steps[:-1]] for seg in result.segments]
    return heatmap(rows, cols, values, high="bad", counts=counts)


def funnel_page(
    store: Any,
    steps: Sequence[str],
    *,
    mode: FunnelMode = "ordered",
    window_hours: float = 24.0,
    breakdown: str = "",
    tz: str = "UTC",
) -> dict[str, Any]:
    result = funnel(
        store,
        [Step(s) for s in steps],
        window=timedelta(hours=window_hours),
        mode=mode,
        breakdown=Breakdown(breakdown) if breakdown else None,
        tz=tz,
    )
    return {
        "result": result,
        "main_chart": funnel_bars(result.steps, result.bottleneck_step),
        "heatmap": drop_off_heatmap(result),
    }
