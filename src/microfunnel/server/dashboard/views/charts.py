"""Chart specs (plain JSON) for ``static/charts.js``, built from library results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

__all__ = ["funnel_bars", "heatmap", "lines", "sankey", "series", "spark"]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def series(
    name: str,
    points: Iterable[tuple[Any, float | None]],
    *,
    band: Iterable[tuple[Any, float | None, float | None]] = (),
    step: bool = False,
    dashed: bool = False,
    color: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "points": [[_iso(x), y] for x, y in points],
        "band": [[_iso(x), lo, hi] for x, lo, hi in band],
        "step": step,
        "dashed": dashed,
    }
    if color:
        out["color"] = color
    return out


def lines(
    all_series: Sequence[dict[str, Any]],
    *,
    x: str = "date",
    fmt: str = "pct",
    xfmt: str = "num",
    markers: Iterable[tuple[Any, str]] = (),
    xlabel: str = "",
    zero: bool = False,
    height: int = 260,
) -> dict[str, Any]:
    return {
        "type": "lines",
        "series": list(all_series),
        "x": x,
        "fmt": fmt,
        "xfmt": xfmt,
        "markers": [{"x": _iso(mx), "label": label} for mx, label in markers],
        "xlabel": xlabel,
        "zero": zero,
        "height": height,
    }


def funnel_bars(steps: Sequence[Any], bottleneck: int | None) -> dict[str, Any]:
    return {
        "type": "funnel",
        "bottleneck": bottleneck,
        "steps": [
            {
                "label": s.name,
                "count": s.count,
                "rate": s.conversion_from_start,
                "step_rate": s.conversion_from_previous,
            }
            for s in steps
        ],
    }


def heatmap(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    fmt: str = "pct",
    high: str = "bad",
    counts: Sequence[Sequence[int | None]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "heatmap",
        "rows": list(rows),
        "cols": list(cols),
        "values": [list(r) for r in values],
        "fmt": fmt,
        "high": high,
    }
    if counts is not None:
        spec["counts"] = [list(r) for r in counts]
    return spec


def sankey(nodes: Sequence[Any], links: Sequence[Any]) -> dict[str, Any]:
    return {
        "type": "sankey",
        "nodes": [{"id": n.id, "name": n.name, "level": n.level, "count": n.count} for n in nodes],
        "links": [{"source": k.source, "target": k.target, "value": k.value} for k in links],
    }


def spark(values: Sequence[float | None]) -> dict[str, Any]:
    return {"type": "spark", "values": list(values)}
