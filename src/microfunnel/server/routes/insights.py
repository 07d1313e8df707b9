"""Insight routes behind a secret key: trends, paths, retention, drivers, forecast, quality.

Each route parses its query, calls one analysis, and returns the result dataclass as JSON.
Bad questions raise ``QueryError``, rendered as a 400 by the app's error handler.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from microfunnel.analytics.drivers import drivers, lead_score
from microfunnel.analytics.forecast import forecast
from microfunnel.analytics.paths import find_loops, paths_around, paths_between
from microfunnel.analytics.quality import quality
from microfunnel.analytics.retention import retention
from microfunnel.analytics.trends import trend
from microfunnel.cli.common import to_jsonable
from microfunnel.errors import QueryError
from microfunnel.server.deps import read_store

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["insights"])


def _where(device: str | None, utm_source: str | None) -> dict[str, str]:
    return {k: v for k, v in (("device", device), ("utm_source", utm_source)) if v}


def _changes(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        step, _, rate = item.partition("=")
        try:
            out[step] = float(rate)
        except ValueError:
            raise QueryError(f"change `{item}` must look like `add_to_cart=0.095`.") from None
    return out


@router.get("/trends")
def trends_route(
    event: str, among: str | None = None, start: date | None = None, end: date | None = None,
    tz: str = "UTC", interval: Literal["day", "week"] = "day", device: str | None = None,
    utm_source: str | None = None, store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    return to_jsonable(
        trend(
            store,
            event,
            among=among,
            start=start,
            end=end,
            tz=tz,
            interval=interval,
            where=_where(device, utm_source),
        )
    )


@router.get("/paths")
def paths_route(
    event: str | None = None, to: str | None = None,
    direction: Literal["next", "previous", "loops"] = "next", depth: int = Query(3, ge=1, le=6),
    start: date | None = None, end: date | None = None, tz: str = "UTC",
    store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    if direction == "loops":
        return to_jsonable(find_loops(store, start=start, end=end, tz=tz))
    if event is None:
        raise QueryError("pass `event` (the anchor step), or direction=loops.", field="event")
    if to is not None:
        return to_jsonable(paths_between(store, event, to, start=start, end=end, tz=tz))
    return to_jsonable(
        paths_around(store, event, direction=direction, depth=depth, start=start, end=end, tz=tz)
    )


@router.get("/retention")
def retention_route(
    event: str | None = None, weeks: int = Query(8, ge=1, le=52), tz: str = "UTC",
    store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    return to_jsonable(retention(store, event=event, weeks=weeks, tz=tz))


@router.get("/drivers")
def drivers_route(
    macro: str = "purchase", properties: list[str] = Query([]), min_persons: int = 30,
    score: bool = False, store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    result: dict[str, Any] = {
        "drivers": to_jsonable(
            drivers(store, macro, properties=properties, min_persons=min_persons)
        )
    }
    if score:
        result["lead_score"] = to_jsonable(lead_score(store, macro))
    return result


@router.get("/forecast")
def forecast_route(
    steps: list[str] = Query(...), change: list[str] = Query([]),
    start: date | None = None, end: date | None = None, store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    return to_jsonable(forecast(store, steps, changes=_changes(change), start=start, end=end))


@router.get("/quality")
def quality_route(
    known: list[str] | None = Query(None), start: date | None = None, end: date | None = None,
    tz: str = "UTC", store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    return to_jsonable(quality(store, known=known, start=start, end=end, tz=tz))
