"""The HTTP server: collector, API and dashboard on one FastAPI app."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from microfunnel import __version__
from microfunnel.config import Project
from microfunnel.server.collect import router as collect_router
from microfunnel.server.errors import install_error_handlers
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


class CollectorCors(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not request.url.path.startswith(COLLECTOR_PREFIXES):
            return await call_next(request)
        origin = request.headers.get("origin")
        if request.method == "OPTIONS":
            response = Response(status_code=200)
        else:
            response = await call_next(request)
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                "authorization, content-type, content-encoding"
            )
            response.headers["Access-Control-Max-Age"] = "600"
        return response


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
        app.state.hub = Hub(runtimes, local_ok=local_ok)
        app.state.limits = RateLimits()
        try:
            yield
        finally:
            app.state.hub.close()

    app = FastAPI(
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
