"""Funnel routes behind a secret key: funnels, the segment drop-off matrix, velocity and time
to convert.

``POST /api/funnel`` takes the question as JSON::

    {"steps": ["view_item", {"event": "add_to_cart", "where": {"device": "mobile"}}, "purchase"],
     "window": "24h", "mode": "ordered", "unit": "person", "breakdown": "device",
     "exclude": [{"event": "refund"}], "start": "2024-04-01", "end": "2024-05-01", "tz": "UTC"}

Each route parses its input, calls one analysis and returns the result dataclass as JSON; bad
questions raise ``QueryError``, rendered as a 400 by the app's error handler.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from microfunnel.analytics.funnel import Exclude, funnel
from microfunnel.analytics.funnel_spec import (
    breakdown_from_json,
    parse_window,
    step_from_json,
)
from microfunnel.analytics.segments import drop_off_matrix, segment_by
from microfunnel.analytics.velocity import time_to_convert, velocity
from microfunnel.cli.common import to_jsonable
from microfunnel.server.deps import read_store

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["funnels"])


class ExcludeBody(BaseModel):
    event: str
    where: dict[str, Any] = Field(default_factory=dict)
    after: int = 0
    before: int | None = None


class FunnelBody(BaseModel):
    steps: list[str | dict[str, Any]] = Field(..., min_length=1)
    window: str | float = "24h"
    mode: Literal["ordered", "strict", "any"] = "ordered"
    unit: Literal["person", "session", "total"] = "person"
    breakdown: str | dict[str, Any] | None = None
    exclude: list[ExcludeBody] = Field(default_factory=list)
    hold: str | None = None
    start: datetime | date | None = None
    end: datetime | date | None = None
    tz: str = "UTC"
    include_bots: bool = False
    timings: bool = True

    def options(self) -> dict[str, Any]:
        return {
            "window": parse_window(self.window),
            "mode": self.mode,
            "unit": self.unit,
            "exclude": [Exclude(x.event, x.where, x.after, x.before) for x in self.exclude],
            "hold": self.hold,
            "start": self.start,
            "end": self.end,
            "tz": self.tz,
            "include_bots": self.include_bots,
            "timings": self.timings,
        }


class SegmentsBody(FunnelBody):
    by: str | dict[str, Any] = "device"
    min_units: int = Field(30, ge=1)


@router.post("/funnel")
def funnel_route(body: FunnelBody, store: Any = Depends(read_store)) -> Any:
    steps = [step_from_json(s) for s in body.steps]
    breakdown = breakdown_from_json(body.breakdown)
    return to_jsonable(funnel(store, steps, breakdown=breakdown, **body.options()))


@router.post("/funnel/segments")
def segments_route(body: SegmentsBody, store: Any = Depends(read_store)) -> Any:
    steps = [step_from_json(s) for s in body.steps]
    by = body.by if isinstance(body.by, str) else breakdown_from_json(body.by)
    assert by is not None
    return to_jsonable(
        drop_off_matrix(store, steps, by, min_units=body.min_units, **body.options())
    )


@router.post("/funnel/time-to-convert")
def time_to_convert_route(body: FunnelBody, store: Any = Depends(read_store)) -> Any:
    steps = [step_from_json(s) for s in body.steps]
    options = body.options()
    options.pop("timings")
    return to_jsonable(
        time_to_convert(store, steps, breakdown=breakdown_from_json(body.breakdown), **options)
    )


@router.get("/velocity")
def velocity_route(
    by: str | None = None, behaviour: str | None = None, start: date | None = None,
    end: date | None = None, tz: str = "UTC", include_bots: bool = False,
    top: int = Query(10, ge=1), store: Any = Depends(read_store),
) -> Any:  # fmt: skip
    seg = segment_by(by, behaviour, top=top)
    return to_jsonable(
        velocity(store, by=seg, start=start, end=end, tz=tz, include_bots=include_bots)
    )
