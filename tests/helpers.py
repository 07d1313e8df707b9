"""Helpers for tests that need a real project and a real server on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from microfunnel.config import Project
from microfunnel.project import CreatedProject, init_project
from microfunnel.server.serve import ServerThread


def new_project(folder: Path, **kw: str) -> CreatedProject:
    return init_project(folder, **kw)


@contextlib.contextmanager
def running_server(*projects: Project) -> Iterator[str]:
    """A uvicorn server on a free loopback port; yields its base URL."""
    server = ServerThread(list(projects), host="127.0.0.1", port=0)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
