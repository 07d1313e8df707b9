"""Shared bits of the reliability tests: events to send, keys, settings, a bounded retry loop."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from microfunnel.config import Project


def page_views(n: int, prefix: str = "e", **extra: Any) -> list[dict[str, Any]]:
    """``n`` valid events with ids ``{prefix}0`` ... (they pass the default tracking plan)."""
    return [
        {"event": "page_view", "event_id": f"{prefix}{i}", "anonymous_id": f"a{i % 13}", **extra}
        for i in range(n)
    ]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def with_settings(folder: Path, **settings: object) -> Project:
    """The project at ``folder`` with ``settings`` appended to its microfunnel.toml."""
    toml = folder / "microfunnel.toml"
    lines = [
        f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in settings.items()
    ]
    toml.write_text(toml.read_text() + "\n" + "\n".join(lines) + "\n")
    return Project(folder)


def until(check: Callable[[], bool], *, seconds: float = 20.0, every: float = 0.05) -> bool:
    """Poll ``check`` until it holds or ``seconds`` pass; returns whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def stored_ids(project: Project) -> dict[str, int]:
    """event_id -> number of rows in the store (the server must be stopped)."""
    with Project(project.path).open_store() as store:
        table = store.query("SELECT event_id, count(*) AS n FROM events GROUP BY event_id")
    cols = table.to_pydict()
    return dict(zip(cols["event_id"], cols["n"], strict=True))


def post(client: httpx.Client, path: str, key: str, body: Any) -> httpx.Response:
    return client.post(path, json=body, headers=bearer(key))


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """A uvicorn server for ``app`` on a free loopback port; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert until(lambda: server.started or not thread.is_alive(), seconds=30)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
