"""``POST /v1/events`` answered by the app's lean ASGI path: the same answers as the FastAPI route.

Each request goes to the app as a server runs it (the lean path) and, with ``x-path: fastapi``,
to the same app through FastAPI's middleware and router (the reference), over real HTTP on
127.0.0.1; statuses, headers and bodies must match, errors included.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send
from tests.helpers import new_project
from tests.reliability.common import bearer, page_views, serve_app, with_settings

from microfunnel.config import Project
from microfunnel.errors import Unavailable
from microfunnel.server.app import create_app
from microfunnel.server.fastpath import CollectorApp

ORIGIN = {"Origin": "https://shop.example"}
REFERENCE = {"x-path": "fastapi"}
LIMIT = 4000  # max_body_bytes of the test project


class BothPaths:
    """The app; with ``x-path: fastapi``, the app without its lean path (FastAPI's route)."""

    def __init__(self, app: FastAPI):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"x-path", b"fastapi") in scope["headers"]:
            await FastAPI.__call__(self.app, scope, receive, send)
        else:
            await self.app(scope, receive, send)


@pytest.fixture(params=[0, 1], ids=["inline", "worker"])
def keys(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Project, str, str]:
    created = new_project(tmp_path / "p")
    project = with_settings(tmp_path / "p", ingest_workers=request.param, max_body_bytes=LIMIT)
    return project, created.write_key, created.secret_key


@pytest.fixture
def app(keys: tuple[Project, str, str]) -> FastAPI:
    return create_app([keys[0]])


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    with serve_app(BothPaths(app)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    body = response.json() if response.content else None
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, sorted(headers), body


def _same(client: httpx.Client, method: str, **kw: Any) -> httpx.Response:
    """``method /v1/events`` on both paths; they must answer alike. Returns the lean answer.
    ``chunks``: a body sent in pieces (chunked, with no length)."""
    headers = {k.lower(): v for k, v in kw.pop("headers", {}).items()}
    chunks = kw.pop("chunks", None)
    if chunks is not None:
        kw["content"] = iter(chunks)
    lean = client.request(method, "/v1/events", headers=headers, **kw)
    if chunks is not None:
        kw["content"] = iter(chunks)
    reference = client.request(method, "/v1/events", headers={**headers, **REFERENCE}, **kw)
    assert _answer(lean) == _answer(reference)
    return lean


def test_the_server_app_answers_events_on_the_lean_path(app: FastAPI) -> None:
    assert isinstance(app, CollectorApp)


def test_accepted_events_answer_the_same_json(
    client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, _ = keys
    batch = {"batch": page_views(3, "ok")}
    lean = client.post("/v1/events", json=batch, headers={**bearer(write), **ORIGIN})
    again = client.post("/v1/events", json=batch, headers={**bearer(write), **REFERENCE, **ORIGIN})
    assert lean.status_code == 200
    assert lean.content == b'{"accepted":3,"quarantined":0,"duplicates":0}'
    assert again.json() == {"accepted": 0, "quarantined": 0, "duplicates": 3}
    assert lean.headers["content-type"] == again.headers["content-type"] == "application/json"
    assert lean.headers["access-control-allow-origin"] == "https://shop.example"
    assert sorted(lean.headers) == sorted(again.headers)


def test_keys_are_checked_as_by_the_route(
    client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, secret = keys
    event = page_views(1, "k")[0]
    missing = _same(client, "POST", json=event)
    unknown = _same(client, "POST", json=event, headers=bearer("mfw_nope"))
    secret_key = _same(client, "POST", json=event, headers=bearer(secret))
    bad_basic = _same(client, "POST", json=event, headers={"Authorization": "Basic abc"})
    basic = "Basic " + base64.b64encode(f"{write}:".encode()).decode()
    assert client.post("/v1/events", json=event, headers={"Authorization": basic}).json() == {
        "accepted": 1,
        "quarantined": 0,
        "duplicates": 0,
    }
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "no write key" in missing.json()["error"]["message"]
    assert unknown.status_code == 403 and "unknown write key" in unknown.json()["error"]["message"]
    assert secret_key.status_code == 403 and "secret key" in secret_key.json()["error"]["message"]
    assert bad_basic.status_code == 401 and "base64" in bad_basic.json()["error"]["message"]
    assert missing.json()["error"]["code"] == "auth"


def test_bodies_over_the_limit_are_refused(
    client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, _ = keys
    big = json.dumps({"batch": page_views(200, "big")}).encode()
    assert len(big) > LIMIT
    declared = _same(client, "POST", content=big, headers=bearer(write))
    streamed = _same(client, "POST", chunks=[big[:3000], big[3000:]], headers=bearer(write))
    unpacked = _same(
        client,
        "POST",
        content=gzip.compress(big),
        headers={**bearer(write), "Content-Encoding": "gzip"},
    )
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"
    assert f"body of {len(big)} bytes" in declared.json()["error"]["message"]
    assert streamed.status_code == 413 and f"{LIMIT}-byte limit" in streamed.text
    assert unpacked.status_code == 413


def test_gzip_and_deflate_bodies_are_read(
    client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, _ = keys
    body = json.dumps({"batch": page_views(4, "z")}).encode()
    gz = client.post(
        "/v1/events",
        content=gzip.compress(body),
        headers={**bearer(write), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    deflated = client.post(
        "/v1/events",
        content=zlib.compress(body),
        headers={**bearer(write), "Content-Encoding": "deflate"},
    )
    assert gz.json() == {"accepted": 4, "quarantined": 0, "duplicates": 0}
    assert deflated.json() == {"accepted": 0, "quarantined": 0, "duplicates": 4}


def test_undecodable_bodies_name_the_problem(
    client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, _ = keys
    broken = _same(client, "POST", content=b"{not json", headers={**bearer(write), **ORIGIN})
    unknown_encoding = _same(
        client, "POST", content=b"{}", headers={**bearer(write), "Content-Encoding": "br"}
    )
    nested = _same(client, "POST", content=b"[" * 5000 + b"]" * 5000, headers=bearer(write))
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "decode"
    assert broken.headers["access-control-allow-origin"] == "https://shop.example"
    assert unknown_encoding.status_code in (400, 415)
    assert nested.status_code in (400, 413)


def test_cors_preflight_and_other_methods(client: httpx.Client) -> None:
    preflight = _same(
        client, "OPTIONS", headers={**ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    bare = _same(client, "OPTIONS")
    get = _same(client, "GET", headers=ORIGIN)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in bare.headers
    assert get.status_code == 405 and get.headers["access-control-allow-origin"]


class _Failing:
    def __init__(self, error: Exception):
        self.error = error

    async def prepare(self, **kw: Any) -> Any:
        raise self.error

    def close(self) -> None:
        pass


def test_an_unavailable_worker_is_a_503_with_retry_after(
    app: FastAPI, client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, _ = keys
    runtime = app.state.hub.runtimes[0]
    workers, runtime.workers = runtime.workers, _Failing(Unavailable("busy: retry", retry_after=3))
    try:
        answer = _same(
            client, "POST", json=page_views(1, "u")[0], headers={**bearer(write), **ORIGIN}
        )
        runtime.workers = _Failing(RuntimeError("a bug"))
        closing = {**bearer(write), **ORIGIN, "Connection": "close"}  # a 500 ends the connection
        crash = _same(client, "POST", json=page_views(1, "c")[0], headers=closing)
    finally:
        runtime.workers = workers
    assert answer.status_code == 503 and answer.headers["retry-after"] == "3"
    assert answer.json() == {"error": {"code": "unavailable", "message": "busy: retry"}}
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"
    assert crash.status_code == 500 and crash.json()["error"]["code"] == "internal"
    assert "access-control-allow-origin" not in crash.headers  # as from the outermost layer


def _asgi_post(
    app: FastAPI, headers: dict[str, str], receive: Receive, workers: Any = None
) -> tuple[list[Message], BaseException | None]:
    """One ``POST /v1/events`` straight into the app (its lifespan around it): what it sent,
    and what it raised."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def post() -> None:
        async with app.router.lifespan_context(app):
            runtime = app.state.hub.runtimes[0]
            runtime.workers = workers or runtime.workers
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/v1/events",
                "query_string": b"",
                "client": ("127.0.0.1", 5000),
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
            await app(scope, receive, send)

    try:
        asyncio.run(post())
    except Exception as exc:
        return sent, exc
    return sent, None


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    app: FastAPI, keys: tuple[Project, str, str]
) -> None:
    async def receive() -> Message:
        raise AssertionError("the body was read")

    headers = {"authorization": f"Bearer {keys[1]}", "content-length": str(LIMIT + 1)}
    sent, raised = _asgi_post(app, headers, receive)
    assert raised is None
    assert sent[0]["status"] == 413
    assert b"over the 4000-byte limit" in sent[1]["body"]


def test_an_unexpected_error_is_a_500_and_still_reaches_the_server(
    app: FastAPI, keys: tuple[Project, str, str]
) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    headers = {"authorization": f"Bearer {keys[1]}"}
    sent, raised = _asgi_post(app, headers, receive, workers=_Failing(RuntimeError("a bug")))
    assert isinstance(raised, RuntimeError)  # the server logs it, as for any route
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"])["error"]["code"] == "internal"


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    project = with_settings(tmp_path / "p", rate_limit_per_second=0.5, ingest_workers=0)
    with serve_app(create_app([project])) as url, httpx.Client(base_url=url) as http:
        answers = [
            http.post(
                "/v1/events", json=page_views(1, f"r{i}")[0], headers=bearer(created.write_key)
            )
            for i in range(3)
        ]
    assert answers[0].status_code == 200
    limited = answers[-1]
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_a_real_server_takes_the_lean_path(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    with serve_app(create_app([created.project])) as url, httpx.Client(base_url=url) as http:
        ok = http.post(
            "/v1/events", json={"batch": page_views(5)}, headers=bearer(created.write_key)
        )
        refused = http.post("/v1/events", json=page_views(1)[0], headers=bearer("mfw_nope"))
    assert ok.json() == {"accepted": 5, "quarantined": 0, "duplicates": 0}
    assert ok.headers["content-length"] == str(len(ok.content))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth"


def test_a_write_key_in_the_body_opens_its_project(
    client: httpx.Client, keys: tuple[Project, str, str]
) -> None:
    _, write, secret = keys
    batch = {"batch": page_views(2, "body"), "write_key": write}
    lean = client.post("/v1/events", json=batch)
    reference = client.post("/v1/events", json=batch, headers=REFERENCE)
    wrong = _same(client, "POST", json={**batch, "write_key": secret})
    assert lean.json() == {"accepted": 2, "quarantined": 0, "duplicates": 0}
    assert reference.json() == {"accepted": 0, "quarantined": 0, "duplicates": 2}
    assert wrong.status_code == 403 and "secret key" in wrong.json()["error"]["message"]


def test_with_several_projects_the_body_key_chooses_one(tmp_path: Path) -> None:
    a, b = new_project(tmp_path / "a"), new_project(tmp_path / "b")
    app = create_app([a.project, b.project])
    with serve_app(BothPaths(app)) as url, httpx.Client(base_url=url) as http:
        to_b = http.post("/v1/events", json={"batch": page_views(3), "write_key": b.write_key})
        keyless = _same(http, "POST", json={"batch": page_views(1)})
        count = http.get("/api/events/count", headers=bearer(b.secret_key))
    assert to_b.json() == {"accepted": 3, "quarantined": 0, "duplicates": 0}
    assert keyless.status_code == 401
    assert count.status_code == 200
