"""The collector's plain-ASGI layer: CORS for its paths, and ``POST /v1/events`` served directly.

A busy collector answers little else than ``POST /v1/events``. Through FastAPI each request
went through a dozen middleware layers, a ``Request``, a ``JSONResponse`` and a wrapped ``send``
per layer: more of the event loop than handing the body to a preparation worker and spooling
the reply. :class:`CollectorApp` is the FastAPI app with that one route (and its CORS preflight)
answered from the raw scope, with what the app would answer: the same write-key check and rate
limit (shared with :mod:`microfunnel.server.collect`), the same body limit, errors rendered by
the app's own exception handlers, the same CORS headers. Every other request goes to FastAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import FastAPI
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from microfunnel.events.formats import native
from microfunnel.events.model import utcnow
from microfunnel.ingest.workers import decoder_name
from microfunnel.server.collect import admit, authorization_key, ingest, too_large

__all__ = ["COLLECTOR_PREFIXES", "EVENTS_PATH", "CollectorApp", "CollectorCors", "cors_headers"]

EVENTS_PATH = "/v1/events"

# Browsers may send events and read flags from any shop origin; nothing else is cross-origin.
COLLECTOR_PREFIXES = (
    "/v1/",
    "/batch",
    "/capture",
    "/e/",
    "/i/",
    "/mp/",
    "/debug/mp/",
    "/com.snowplowanalytics",
    "/api/features/",
    "/microfunnel.js",
)

_CORS_REST = [
    (b"vary", b"Origin"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type, content-encoding"),
    (b"access-control-max-age", b"600"),
]
_JSON = (b"content-type", b"application/json")
_EMPTY = (b"content-length", b"0")
_NATIVE = decoder_name(native.decode)
_encode = msgspec.json.Encoder().encode


def cors_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
    """The headers that let a page on ``origin`` call the collector."""
    return [(b"access-control-allow-origin", origin), *_CORS_REST]


async def _preflight(send: Send, cors: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [_EMPTY, *cors]})
    await send({"type": "http.response.body", "body": b""})


class CollectorCors:
    """CORS for the collector's paths only, as plain ASGI (no per-request task or body copy)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(COLLECTOR_PREFIXES):
            await self.app(scope, receive, send)
            return
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        extra = cors_headers(origin) if origin else []
        if scope["method"] == "OPTIONS":
            await _preflight(send, extra)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


class CollectorApp(FastAPI):
    """The server's FastAPI app, answering ``POST /v1/events`` (and its preflight) itself."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == EVENTS_PATH:
            method = scope["method"]
            if method == "POST":
                await self._post_events(scope, receive, send)
                return
            if method == "OPTIONS":
                origin = _first_headers(scope).get(b"origin")
                await _preflight(send, cors_headers(origin) if origin else [])
                return
        await super().__call__(scope, receive, send)

    async def _post_events(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _first_headers(scope)
        origin = headers.get(b"origin")
        try:
            body = _encode(await self._events(scope, receive, headers))
        except Exception as exc:
            await self._failed(scope, receive, send, exc, cors_headers(origin) if origin else [])
            return
        head = [(b"content-length", b"%d" % len(body)), _JSON]
        if origin:
            head += cors_headers(origin)
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": body})

    async def _events(
        self, scope: Scope, receive: Receive, headers: dict[bytes, bytes]
    ) -> dict[str, Any]:
        """``collect(request, native.decode)``, from the scope."""
        state = self.state
        hub, limits = state.hub, state.limits
        received = utcnow()
        authorization = headers.get(b"authorization")
        key = authorization_key(authorization.decode("latin-1")) if authorization else None
        runtime = admit(hub, limits, key) if key else None
        limit = (runtime or hub.runtimes[0]).project.settings.max_body_bytes
        body = await _read_body(receive, limit, headers.get(b"content-length"))
        encoding = headers.get(b"content-encoding")
        content_type = headers.get(b"content-type")
        query = scope.get("query_string")
        return await ingest(
            hub,
            limits,
            native.decode,
            runtime,
            body=body,
            encoding=encoding.decode("latin-1") if encoding is not None else None,
            content_type=content_type.decode("latin-1") if content_type is not None else None,
            query=dict(QueryParams(query)) if query else {},
            client=scope.get("client"),
            received=received,
            worker_decoder=_NATIVE,
        )

    async def _failed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        exc: Exception,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        """Answer ``exc`` as the app's middleware would: a handled error by its handler (with
        CORS headers), anything else by the 500 handler, then raised for the server to log."""
        handlers = self.exception_handlers
        handler = next(
            (
                handlers[kind]
                for kind in type(exc).__mro__
                if kind in handlers and kind is not Exception
            ),
            None,
        )
        if handler is not None:
            await _send_response(send, await _call(handler, Request(scope, receive), exc), cors)
            return
        handler = handlers.get(500) or handlers.get(Exception)
        if handler is None:
            response: Response = PlainTextResponse("Internal Server Error", status_code=500)
        else:
            response = await _call(handler, Request(scope), exc)
        await _send_response(send, response, [])
        raise exc


def _first_headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by (lower-case) name; the first of repeated ones, as Starlette."""
    return dict(reversed(scope["headers"]))


async def _read_body(receive: Receive, limit: int, declared: bytes | None) -> bytes:
    """``collect.read_body`` from ``receive``: over ``limit`` is refused before it is read."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, declared.decode())
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: the whole body at once
        if len(body) > limit:
            raise too_large(limit)
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
        message = await receive()


async def _call(handler: Callable[..., Any], request: Request, exc: Exception) -> Response:
    response = handler(request, exc)
    if inspect.isawaitable(response):
        response = await response
    assert isinstance(response, Response)
    return response


async def _send_response(send: Send, response: Response, cors: list[tuple[bytes, bytes]]) -> None:
    headers = [*response.raw_headers, *cors]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
