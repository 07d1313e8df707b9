"""Drivers, Forecast and the data-quality panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from microfunnel.analytics.drivers import drivers, lead_score
from microfunnel.analytics.forecast import forecast
from microfunnel.analytics.quality import quality
from microfunnel.server.dashboard.views.charts import lines, series

__all__ = ["drivers_page", "forecast_page", "quality_panel"]


def drivers_page(store: Any, macro: str = "purchase") -> dict[str, Any]:
    d = drivers(store, macro, properties=("device", "utm_source"))
    score = lead_score(store, macro)
    rows = [
        {
            "label": x.candidate, "est": x.odds_ratio, "lo": x.ci_lower, "hi": x.ci_upper,
            "flag": ("good" if x.odds_ratio > 1 else "bad") if x.significant else "neutral",
        }
        for x in d.drivers
    ]  # fmt: skip
    return {
        "drivers": d,
        "score": score,
        "forest": {"type": "forest", "rows": rows, "fmt": "x", "ref": 1.0, "log": True},
    }


def forecast_page(store: Any, steps: Sequence[str], rates: Mapping[str, float]) -> dict[str, Any]:
    """The funnel as observed, and with the chosen step rates (step -> rate); a slider left at
    its observed rate (to the slider's 0.1 % step) is no change."""
    base = forecast(store, steps)
    observed = {s.step: s.observed_rate for s in base.steps}
    changes = {s: r for s, r in rates.items() if s in observed and abs(r - observed[s]) >= 5e-4}
    result = forecast(store, steps, changes=changes) if changes else base
    return {"base": base, "forecast": result}


def quality_panel(store: Any, known: Sequence[str]) -> dict[str, Any]:
    q = quality(store, known=known)
    by_event: dict[str, list[tuple[Any, float | None]]] = {}
    for v in q.volumes:
        by_event.setdefault(v.event, []).append((v.day, float(v.events)))
    top = sorted(by_event, key=lambda e: -sum(n or 0 for _, n in by_event[e]))[:6]
    chart = lines([series(e, by_event[e]) for e in top], fmt="num", zero=True)
    return {"quality": q, "volume_chart": chart}
