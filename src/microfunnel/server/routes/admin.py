"""Data routes behind a secret key: event counts and tail, quarantine and replay, forget, plan."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from microfunnel.cli.common import to_jsonable
from microfunnel.server.deps import read_access
from microfunnel.server.runtime import Runtime

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["data"])


class ForgetRequest(BaseModel):
    user_id: str = Field(min_length=1, max_length=512, description="The user id to erase.")


@router.get("/events/count")
def events_count(
    event: str | None = Query(None, max_length=200), runtime: Runtime = Depends(read_access)
) -> dict[str, Any]:
    return {"event": event, "count": runtime.store.count_events(event)}


@router.get("/events/tail")
def events_tail(
    limit: int = Query(50, ge=1, le=1000), runtime: Runtime = Depends(read_access)
) -> list[dict[str, Any]]:
    return to_jsonable(runtime.store.tail(limit))


@router.get("/quarantine")
def quarantine(
    limit: int = Query(100, ge=1, le=10_000),
    everything: bool = Query(False, alias="all"),
    runtime: Runtime = Depends(read_access),
) -> list[dict[str, Any]]:
    rows = runtime.store.quarantine_rows(limit, pending_only=not everything, newest_first=True)
    return to_jsonable(rows)


@router.get("/quarantine/problems")
def quarantine_problems(
    limit: int = Query(20, ge=1, le=1000), runtime: Runtime = Depends(read_access)
) -> dict[str, Any]:
    store = runtime.store
    problems = store.quarantine_problems(limit)
    return {"pending": store.count_quarantined(), "problems": to_jsonable(problems)}


@router.post("/quarantine/replay")
async def quarantine_replay(runtime: Runtime = Depends(read_access)) -> dict[str, Any]:
    result = await run_in_threadpool(runtime.replay_quarantine)
    return to_jsonable(result)


@router.post("/forget")
async def forget(body: ForgetRequest, runtime: Runtime = Depends(read_access)) -> dict[str, Any]:
    removed = await run_in_threadpool(runtime.forget, body.user_id)
    return {"user_id": body.user_id, "events_removed": removed}


@router.get("/plan")
def plan(runtime: Runtime = Depends(read_access)) -> dict[str, Any]:
    return {
        "version": runtime.plan.version,
        "events": runtime.plan.event_names,
        "yaml": runtime.project.plan_path.read_text(),
    }
