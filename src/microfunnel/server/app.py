"""The HTTP server: collector, API and dashboard on one FastAPI app."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from microfunnel import __version__
from microfunnel.config import Project
from microfunnel.server.collect import router as collect_router
from microfunnel.server.errors import install_error_handlers
from microfunnel.server.fastpath import CollectorApp, CollectorCors
from microfunnel.server.ratelimit import RateLimits
from microfunnel.server.runtime import Hub, Runtime

__all__ = ["create_app"]

log = logging.getLogger("microfunnel.server")

# Routers other modules contribute; each is optional while it is being built.
OPTIONAL_ROUTERS = [
    "microfunnel.server.routes.compat",
    "microfunnel.server.routes.funnels",
    "microfunnel.server.routes.insights",
    "microfunnel.server.routes.admin",
    "microfunnel.server.routes.flags",
    "microfunnel.server.routes.experiments",
    "microfunnel.server.routes.sdk",
    "microfunnel.server.dashboard.routes",
]


def create_app(
    projects: Sequence[Project | Runtime | str | Path], *, local_ok: bool = False
) -> FastAPI:
    """An app serving ``projects``. ``local_ok`` lets loopback requests read without a key
    (for a server bound to 127.0.0.1)."""
    if not projects:
        raise ValueError("create_app needs at least one project")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtimes = [p if isinstance(p, Runtime) else Runtime(p) for p in projects]
        for runtime in runtimes:
            runtime.start_workers()
        app.state.hub = Hub(runtimes, local_ok=local_ok)
        app.state.limits = RateLimits()
        try:
            yield
        finally:
            app.state.hub.close()

    app = CollectorApp(  # POST /v1/events is answered before the middleware (fastpath.py)
        title="microfunnel",
        version=__version__,
        summary="Micro-conversion analytics and precision A/B testing",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(CollectorCors)
    app.include_router(collect_router)
    for module in OPTIONAL_ROUTERS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
            continue
        app.include_router(mod.router)
    return app
