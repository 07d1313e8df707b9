"""The collector: every ingestion route reads a bounded body, finds the project by its write key,
decodes, and hands the batch to that project's ingestor (durable before the 200)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from microfunnel.errors import AuthError, PayloadTooLarge
from microfunnel.events.formats import native
from microfunnel.events.formats.common import DecodedBatch, decompress
from microfunnel.events.model import utcnow
from microfunnel.server.runtime import Hub, Runtime

__all__ = ["collect", "header_key", "read_body", "router"]

router = APIRouter()

Decoder = Callable[..., DecodedBatch]

# An event time this far after receipt is a broken client clock (with no ``sent_at`` to correct
# it): the event is kept at its receipt time, with the time as sent in context.
FUTURE_LIMIT = timedelta(days=1)

# Batches up to this size are run through the pipeline on the event loop (about a millisecond
# for 100 events); larger ones in a worker thread, so they do not hold up other requests.
INLINE_EVENTS = 250


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"body of {declared} bytes is over the {limit}-byte limit: send smaller batches"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit: send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def header_key(request: Request) -> str | None:
    """A write key from ``Authorization: Bearer KEY`` or ``Basic base64(KEY:)``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        return value.strip()
    if scheme == "basic" and value.strip():
        try:
            user = base64.b64decode(value.strip()).decode("utf-8").split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            raise AuthError(
                "the Basic authorization header is not valid base64 of `KEY:`"
            ) from None
        return user or None
    return None


def _admit(request: Request, key: str | None) -> Runtime:
    """The project ``key`` writes to, once its rate limit lets this request in."""
    runtime = _runtime_for(request.app.state.hub, key)
    assert key is not None
    request.app.state.limits.check(key, runtime.project.settings.rate_limit_per_second)
    return runtime


def _runtime_for(hub: Hub, key: str | None) -> Runtime:
    if not key:
        raise AuthError(
            "no write key: send `Authorization: Bearer <write key>` (or the key your client "
            "puts in the body)"
        )
    runtime = hub.by_write_key(key)
    if runtime is None:
        if hub.by_secret(key) is not None:
            raise AuthError(
                "this is a secret key; send events with the project's write key", status=403
            )
        raise AuthError("unknown write key: check it with `microfunnel keys list`", status=403)
    return runtime


async def collect(
    request: Request,
    decoder: Decoder,
    *,
    key: str | None = None,
    query: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """Run one ingestion request through ``decoder`` and the project's pipeline."""
    hub: Hub = request.app.state.hub
    received: datetime = utcnow()
    key = key or header_key(request)
    runtime = _admit(request, key) if key else None
    limits = (runtime or hub.runtimes[0]).project.settings
    if body is None:
        raw = await read_body(request, limits.max_body_bytes)
        body = decompress(raw, request.headers.get("content-encoding"), limit=limits.max_body_bytes)
    decoded = decoder(
        body,
        content_type=request.headers.get("content-type"),
        query=query if query is not None else dict(request.query_params),
        received_at=received,
    )
    if runtime is None:
        runtime = _admit(request, decoded.key)
    size = len(decoded.events) + len(decoded.rejected)
    if size > runtime.project.settings.max_batch_events:
        raise PayloadTooLarge(
            f"batch of {size} events is over the limit of "
            f"{runtime.project.settings.max_batch_events}: split it into smaller batches",
            field="batch",
        )
    _fill_request_context(request, decoded, received)
    result = await runtime.ingestor.ingest_async(decoded, inline_events=INLINE_EVENTS)
    return result.to_json()


def _fill_request_context(request: Request, decoded: DecodedBatch, received: datetime) -> None:
    """Where a client sent no IP, take the request's (before privacy truncates); clamp times
    more than ``FUTURE_LIMIT`` after receipt to the receipt time, keeping the time as sent."""
    ip = request.client.host if request.client else None
    latest = received + FUTURE_LIMIT
    for event in decoded.events:
        ctx = event.context
        if "ip" not in ctx and ip:
            ctx["ip"] = ip
        if event.timestamp is not None and event.timestamp > latest:
            ctx["timestamp_as_sent"] = event.timestamp.isoformat()
            event.timestamp = received


async def post_events(request: Request) -> JSONResponse:
    """Native events: one event or ``{"batch": [...], "sent_at": ...}``; Bearer write key."""
    return JSONResponse(await collect(request, native.decode))


# The busiest route is a plain Starlette route: FastAPI's parameter machinery has nothing to do
# here (the handler reads the raw body) and costs more per request than a batch of 100 events.
router.add_route("/v1/events", post_events, methods=["POST"], include_in_schema=False)


@router.get("/healthz", tags=["ops"])
async def healthz(request: Request) -> dict[str, Any]:
    hub: Hub = request.app.state.hub
    projects = []
    for rt in hub.runtimes:
        projects.append(
            {
                "name": rt.name,
                "writer_applied_events": rt.writer.applied_events,
                "writer_error": rt.writer.last_error,
            }
        )
    healthy = all(p["writer_error"] is None for p in projects)
    return {"status": "ok" if healthy else "degraded", "projects": projects}
