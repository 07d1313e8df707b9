"""Experiment API: list, report, plan (secret key), and define (secret key, validated).

``GET /api/experiments``, ``GET /api/experiments/{key}/report``, ``GET /api/experiments/{key}/plan``
and ``PUT /api/experiments/{key}``. Bodies are the library's dataclasses as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from starlette.concurrency import run_in_threadpool

from microfunnel.cli.common import to_jsonable
from microfunnel.errors import DefinitionError
from microfunnel.experiments.serving import save_experiment
from microfunnel.experiments.workflow import analyze_experiment, list_experiments, plan_for
from microfunnel.server.deps import read_access
from microfunnel.server.runtime import Runtime

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/experiments")
async def experiments(runtime: Runtime = Depends(read_access)) -> Any:
    return to_jsonable(await run_in_threadpool(list_experiments, runtime.project))


@router.get("/experiments/{key}/report")
async def report(
    key: str,
    until: datetime | None = Query(None, description="Analyze data up to this UTC time."),
    runtime: Runtime = Depends(read_access),
) -> Any:
    result = await run_in_threadpool(
        analyze_experiment, runtime.project, runtime.store, key, until=until
    )
    return to_jsonable(result)


@router.get("/experiments/{key}/plan")
async def plan(
    key: str,
    mde: float | None = Query(None, description="Relative lift to detect (default: declared)."),
    lookback_days: int = Query(28, ge=1, description="Days of history for the baseline."),
    runtime: Runtime = Depends(read_access),
) -> Any:
    result = await run_in_threadpool(
        plan_for, runtime.project, runtime.store, key, mde=mde, lookback_days=lookback_days
    )
    return to_jsonable(result)


@router.put("/experiments/{key}")
async def define(
    key: str, body: dict[str, Any] = Body(...), runtime: Runtime = Depends(read_access)
) -> Any:
    if body.get("key", key) != key:
        raise DefinitionError(f"The body's key {body.get('key')!r} differs from the URL's `{key}`.")
    defs = await run_in_threadpool(save_experiment, runtime.project, {**body, "key": key})
    return {"experiment": key, "experiments": sorted(defs.experiments)}
