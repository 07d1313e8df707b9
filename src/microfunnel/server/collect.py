"""The collector: every ingestion route reads a bounded body, finds the project by its write key,
decodes, and hands the batch to that project's ingestor (durable before the 200)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from microfunnel.errors import AuthError, PayloadTooLarge
from microfunnel.events.formats import native
from microfunnel.events.formats.common import DecodedBatch, decompress
from microfunnel.events.model import utcnow
from microfunnel.ingest.records import decode_batch
from microfunnel.ingest.workers import PrepareReply, decoder_name, fill_request_context
from microfunnel.server.runtime import Hub, Runtime

__all__ = ["collect", "header_key", "read_body", "router"]

router = APIRouter()

Decoder = Callable[..., DecodedBatch]

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
    """Run one ingestion request through ``decoder`` and the project's pipeline (in one of the
    project's preparation workers when it has them)."""
    hub: Hub = request.app.state.hub
    received: datetime = utcnow()
    key = key or header_key(request)
    runtime = _admit(request, key) if key else None
    limits = (runtime or hub.runtimes[0]).project.settings
    encoding = None
    if body is None:
        body = await read_body(request, limits.max_body_bytes)
        encoding = request.headers.get("content-encoding")
    params = dict(query) if query is not None else dict(request.query_params)
    ip = request.client.host if request.client else None
    target = runtime or (hub.runtimes[0] if len(hub.runtimes) == 1 else None)
    name = decoder_name(decoder)
    if target is not None and target.workers is not None and name is not None:
        client = request.client
        reply = await target.workers.prepare(
            route=hash((client.host, client.port)) if client else 0,
            decoder=name,
            body=body,
            encoding=encoding,
            content_type=request.headers.get("content-type"),
            query=params,
            received=received,
            ip=ip,
        )
        if runtime is None:  # the key was in the body: it must open the project prepared for
            runtime = _admit(request, reply.key)
        return await _spool_prepared(runtime, reply)
    body = decompress(body, encoding, limit=limits.max_body_bytes)
    decoded = decoder(
        body,
        content_type=request.headers.get("content-type"),
        query=params,
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
    fill_request_context(decoded.events, ip, received)
    result = await runtime.ingestor.ingest_async(decoded, inline_events=INLINE_EVENTS)
    return result.to_json()


async def _spool_prepared(runtime: Runtime, reply: PrepareReply) -> dict[str, Any]:
    """A worker's prepared record into the spool (durable before the answer); ids this server
    accepted recently are answered as duplicates (the store skips them too)."""
    recent = runtime.ingestor.recent
    seen = recent.count_seen(reply.ids)
    seen_quarantined = recent.count_seen(reply.quarantined) if reply.quarantined else 0
    if reply.payload is not None:
        await runtime.spool.append_async(reply.payload, carry=decode_batch(reply.payload))
    recent.add(reply.ids + reply.quarantined)
    return {
        "accepted": len(reply.ids) - seen,
        "quarantined": len(reply.quarantined) - seen_quarantined,
        "duplicates": reply.duplicates + seen + seen_quarantined,
    }


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
