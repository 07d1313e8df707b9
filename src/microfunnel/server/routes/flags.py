"""``GET /api/features/{client_key}``: the GrowthBook SDK payload of a project.

The client key is the project's public write key, so browser and server SDKs read flags with the
key they already send events with. Any GrowthBook SDK works: point ``apiHost`` at this server.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from microfunnel.errors import AuthError
from microfunnel.experiments.serving import project_payload

__all__ = ["router"]

router = APIRouter()


@router.get("/api/features/{client_key}")
async def features(client_key: str, request: Request) -> dict[str, Any]:
    runtime = request.app.state.hub.by_write_key(client_key)
    if runtime is None:
        raise AuthError(
            "unknown client key: use the project's write key (`microfunnel keys list`)",
            status=404,
        )
    return await run_in_threadpool(project_payload, runtime.project)
