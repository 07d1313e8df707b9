"""Endpoints the shop's existing tracking clients already speak, so switching is a host change.

Each route decodes its wire format into Events and takes the same path as ``/v1/events``:
validation, privacy, spool, dedupe. Answers are the ones each client counts as success (200,
never 204: RudderStack and PostHog resend on any other 2xx).

Snowplow sends no key: the tracker's app id (``aid``) names the project's write key, or, on a
server with one project, events go to that project.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from microfunnel.events.formats import ga4, posthog, segment, snowplow
from microfunnel.events.formats.common import DecodedBatch
from microfunnel.server.collect import collect
from microfunnel.server.runtime import Hub

__all__ = ["router"]

router = APIRouter(tags=["compatible"])

# A 1x1 transparent GIF, what Snowplow's GET pixel endpoint returns.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@router.post("/v1/batch")
@router.post("/v1/track")
@router.post("/v1/identify")
@router.post("/v1/page")
@router.post("/v1/screen")
@router.post("/v1/alias")
@router.post("/v1/group")
async def segment_api(request: Request) -> JSONResponse:
    """Segment and RudderStack (Basic auth with the write key, or writeKey in the body)."""
    await collect(request, segment.decode)
    return JSONResponse({"success": True})


@router.post("/batch")
@router.post("/batch/")
@router.post("/capture")
@router.post("/capture/")
@router.post("/e")
@router.post("/e/")
@router.post("/i/v0/e")
@router.post("/i/v0/e/")
async def posthog_v0(request: Request) -> JSONResponse:
    """PostHog capture (api_key in the body)."""
    await collect(request, posthog.decode)
    return JSONResponse({"status": 1})


@router.post("/i/v1/analytics/events")
async def posthog_v1(request: Request) -> JSONResponse:
    """PostHog v1 capture (Bearer project key); an empty ``results`` map means all accepted."""
    await collect(request, posthog.decode)
    return JSONResponse({"results": {}})


def _snowplow_key(hub: Hub) -> Any:
    def decoder(body: bytes, **kw: Any) -> DecodedBatch:
        decoded = snowplow.decode(body, **kw)
        if decoded.key is None:
            app_ids = {e.context.get("app_id") for e in decoded.events}
            for app_id in app_ids:
                if isinstance(app_id, str) and hub.by_write_key(app_id) is not None:
                    decoded.key = app_id
                    break
            else:
                if len(hub.runtimes) == 1 and hub.runtimes[0].project.keys.write:
                    decoded.key = hub.runtimes[0].project.keys.write[0]
        return decoded

    return decoder


@router.post("/com.snowplowanalytics.snowplow/tp2")
async def snowplow_post(request: Request) -> JSONResponse:
    await collect(request, _snowplow_key(request.app.state.hub))
    return JSONResponse({"status": "ok"})


@router.get("/i")
async def snowplow_pixel(request: Request) -> Response:
    await collect(request, _snowplow_key(request.app.state.hub), body=b"")
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.post("/mp/collect")
async def ga4_collect(request: Request) -> Response:
    """GA4 Measurement Protocol (``api_secret`` in the query is the write key)."""
    await collect(request, ga4.decode, key=request.query_params.get("api_secret"))
    return JSONResponse({})


@router.post("/debug/mp/collect")
async def ga4_debug(request: Request) -> JSONResponse:
    """GA4's validation server: says what is wrong, stores nothing."""
    hub: Hub = request.app.state.hub
    body = await request.body()
    messages: list[dict[str, str]] = []
    try:
        decoded = ga4.decode(
            body, content_type=None, query=dict(request.query_params), received_at=_now()
        )
    except Exception as exc:  # a DecodeError or a too-large body: report it, GA4-style
        message = getattr(exc, "message", str(exc))
        field = getattr(exc, "field", None) or ""
        return JSONResponse({"validationMessages": [_message(field, message, "VALUE_INVALID")]})
    runtime = hub.by_write_key(request.query_params.get("api_secret", ""))
    if runtime is None:
        messages.append(
            _message("api_secret", "unknown api_secret (the project's write key)", "VALUE_INVALID")
        )
    for rejected in decoded.rejected:
        for reason in rejected.reasons:
            messages.append(_message(f"events[{rejected.index}]", reason, "VALUE_INVALID"))
    if runtime is not None:
        for index, event in enumerate(decoded.events):
            for reason in runtime.plan.validate(event):
                messages.append(_message(f"events[{index}]", reason, "VALUE_INVALID"))
    return JSONResponse({"validationMessages": messages})


def _message(field: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": field, "description": description, "validationCode": code}


def _now() -> Any:
    from microfunnel.events.model import utcnow

    return utcnow()
