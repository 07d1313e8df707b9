"""The collector: every ingestion route reads a bounded body, finds the project by its write key,
decodes, and hands the batch to that project's ingestor (durable before the 200).

``collect`` serves the routes FastAPI runs (the compatible clients' formats); ``POST /v1/events``
takes the same steps from the raw ASGI scope in :mod:`microfunnel.server.fastpath`. Both share
``authorization_key``, ``admit`` and ``ingest``, so the two cannot drift apart.
"""

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
from microfunnel.server.ratelimit import RateLimits
from microfunnel.server.runtime import Hub, Runtime

__all__ = [
    "admit",
    "authorization_key",
    "collect",
    "header_key",
    "ingest",
    "read_body",
    "router",
    "too_large",
]

router = APIRouter()

Decoder = Callable[..., DecodedBatch]

# Batches up to this size are run through the pipeline on the event loop (about a millisecond
# for 100 events); larger ones in a worker thread, so they do not hold up other requests.
INLINE_EVENTS = 250


def too_large(limit: int, declared: str | None = None) -> PayloadTooLarge:
    """The 413 for a body over ``limit`` bytes (``declared``: its announced length)."""
    if declared is not None:
        return PayloadTooLarge(
            f"body of {declared} bytes is over the {limit}-byte limit: send smaller batches"
        )
    return PayloadTooLarge(f"body is over the {limit}-byte limit: send smaller batches")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def authorization_key(header: str) -> str | None:
    """A write key from an ``Authorization`` header: ``Bearer KEY`` or ``Basic base64(KEY:)``.

    >>> authorization_key("Bearer mfw_abc"), authorization_key("Basic bWZ3X2FiYzo=")
    ('mfw_abc', 'mfw_abc')
    """
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


def header_key(request: Request) -> str | None:
    """The write key of ``request``'s ``Authorization`` header (see :func:`authorization_key`)."""
    return authorization_key(request.headers.get("authorization", ""))


def admit(hub: Hub, limits: RateLimits, key: str | None) -> Runtime:
    """The project ``key`` writes to, once its rate limit lets this request in."""
    runtime = _runtime_for(hub, key)
    assert key is not None
    limits.check(key, runtime.project.settings.rate_limit_per_second)
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
    state = request.app.state
    hub: Hub = state.hub
    received: datetime = utcnow()
    key = key or header_key(request)
    runtime = admit(hub, state.limits, key) if key else None
    encoding = None
    if body is None:
        limit = (runtime or hub.runtimes[0]).project.settings.max_body_bytes
        body = await read_body(request, limit)
        encoding = request.headers.get("content-encoding")
    return await ingest(
        hub,
        state.limits,
        decoder,
        runtime,
        body=body,
        encoding=encoding,
        content_type=request.headers.get("content-type"),
        query=dict(query) if query is not None else dict(request.query_params),
        client=request.client,
        received=received,
        worker_decoder=decoder_name(decoder),
    )


async def ingest(
    hub: Hub,
    limits: RateLimits,
    decoder: Decoder,
    runtime: Runtime | None,
    *,
    body: bytes,
    encoding: str | None,
    content_type: str | None,
    query: dict[str, str],
    client: tuple[str, int] | None,
    received: datetime,
    worker_decoder: str | None,
) -> dict[str, Any]:
    """One request's body into the project's spool: in a preparation worker when the project
    has them (``worker_decoder`` names ``decoder`` for it), else here. ``runtime`` is None when
    the key is in the body; it is admitted once the body is decoded."""
    ip = client[0] if client else None
    target = runtime or (hub.runtimes[0] if len(hub.runtimes) == 1 else None)
    if target is not None and target.workers is not None and worker_decoder is not None:
        reply = await target.workers.prepare(
            route=hash((client[0], client[1])) if client else 0,  # a connection keeps its worker
            decoder=worker_decoder,
            body=body,
            encoding=encoding,
            content_type=content_type,
            query=query,
            received=received,
            ip=ip,
        )
        if runtime is None:  # the key was in the body: it must open the project prepared for
            runtime = admit(hub, limits, reply.key)
        return await _spool_prepared(runtime, reply)
    limit = (runtime or hub.runtimes[0]).project.settings.max_body_bytes
    body = decompress(body, encoding, limit=limit)
    decoded = decoder(body, content_type=content_type, query=query, received_at=received)
    if runtime is None:
        runtime = admit(hub, limits, decoded.key)
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
    """Native events: one event or ``{"batch": [...], "sent_at": ...}``; Bearer write key.

    A server answers this route from :mod:`microfunnel.server.fastpath` before FastAPI sees
    the request; the route stays for the router's own users and as the reference behaviour."""
    return JSONResponse(await collect(request, native.decode))


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
