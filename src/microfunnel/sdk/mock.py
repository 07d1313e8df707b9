"""An in-memory collector for SDK tests: no socket, no server, real HTTP semantics.

:class:`MockSink` is an ``httpx`` transport. Hand it to :class:`~microfunnel.sdk.Client` and every
request the SDK makes lands here, decoded: ``sink.events`` are the accepted events (deduplicated
on ``event_id`` like the collector does), ``sink.requests`` every request as it arrived. Script
failures with :meth:`MockSink.respond`.

>>> from microfunnel.sdk import Client
>>> sink = MockSink()
>>> client = Client("wk_test", "http://collector", transport=sink)
>>> _ = client.track("add_to_cart", {"value": 5}, anonymous_id="a1")
>>> client.shutdown()
>>> [e["event"] for e in sink.events]
['add_to_cart']
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["MockSink", "Received"]


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the sink saw it: when (``time.monotonic()``), headers, decoded body."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int


class MockSink(httpx.BaseTransport):
    """Answers ``POST /v1/events`` and ``GET /api/features/{key}`` from memory.

    ``write_key``, when set, is checked like the collector checks it (Bearer header or
    ``write_key`` in the body); a wrong key gets 401. ``features`` is the payload served to flag
    clients and may be replaced at any time.
    """

    def __init__(
        self, *, write_key: str | None = None, features: dict[str, Any] | None = None
    ) -> None:
        self.write_key = write_key
        self.features: dict[str, Any] = features if features is not None else {"features": {}}
        self.requests: list[Received] = []
        self.events: list[dict[str, Any]] = []
        self.duplicates = 0
        self._seen: set[str] = set()
        self._script: deque[httpx.Response] = deque()
        self._changed = threading.Condition()

    def respond(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next event posts with these statuses (optionally with headers) in order;
        after them the sink accepts again. ``sink.respond(503, (503, {"Retry-After": "1"}))``."""
        with self._changed:
            for answer in answers:
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                body = {"error": {"code": "scripted", "message": f"scripted {status}"}}
                self._script.append(httpx.Response(status, headers=headers, json=body))

    def posts(self) -> list[Received]:
        """The requests to ``/v1/events``, in arrival order."""
        with self._changed:
            return [r for r in self.requests if r.path == "/v1/events"]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` events were accepted; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.events) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} events within {timeout} s, got {len(self.events)}"
                    )
                self._changed.wait(remaining)
            return list(self.events)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._changed:
            if request.method == "GET" and path.startswith("/api/features/"):
                key = path.rsplit("/", 1)[-1]
                response = self._features(key)
                body: Any = None
            elif request.method == "POST" and path == "/v1/events":
                body, response = self._events(request)
            else:
                body, response = None, _error(404, "not_found", f"No route {request.method} {path}")
            headers = {k.lower(): v for k, v in request.headers.items()}
            status = response.status_code
            self.requests.append(
                Received(time.monotonic(), request.method, path, headers, body, status)
            )
            self._changed.notify_all()
            return response

    def _features(self, key: str) -> httpx.Response:
        if self.write_key is not None and key != self.write_key:
            return _error(401, "auth", "Unknown client key.")
        return httpx.Response(200, json=self.features)

    def _events(self, request: httpx.Request) -> tuple[Any, httpx.Response]:
        raw = request.read()
        encoding = request.headers.get("content-encoding", "")
        try:
            if encoding == "gzip":
                raw = gzip.decompress(raw)
            elif encoding == "deflate":
                raw = zlib.decompress(raw)
            body = json.loads(raw)
        except (OSError, zlib.error, ValueError) as exc:
            return None, _error(400, "decode", f"Body is not (compressed) JSON: {exc}")
        if not isinstance(body, dict):
            return body, _error(400, "decode", "Body must be a JSON object.", "body")
        if self.write_key is not None:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            if self.write_key not in (bearer, body.get("write_key")):
                return body, _error(401, "auth", "Missing or unknown write key.")
        if self._script:
            return body, self._script.popleft()
        batch = body["batch"] if isinstance(body.get("batch"), list) else [body]
        accepted = duplicates = 0
        for event in batch:
            event_id = event.get("event_id")
            if event_id and event_id in self._seen:
                duplicates += 1
                continue
            if event_id:
                self._seen.add(event_id)
            self.events.append(event)
            accepted += 1
        self.duplicates += duplicates
        counts = {"accepted": accepted, "quarantined": 0, "duplicates": duplicates}
        return body, httpx.Response(200, json=counts)


def _error(status: int, code: str, message: str, field: str | None = None) -> httpx.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return httpx.Response(status, json={"error": error})
