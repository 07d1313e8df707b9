"""One place that turns errors into JSON answers (a page, for a browser on a dashboard page);
nothing reaches a client as a stack trace."""

from __future__ import annotations

import html
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from microfunnel.errors import MicrofunnelError, Unavailable

__all__ = ["install_error_handlers"]

log = logging.getLogger("microfunnel.server")


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


def _wants_page(request: Request) -> bool:
    """A browser asking for a dashboard page (a route answering HTML): it gets a page."""
    route = request.scope.get("route")
    return getattr(route, "response_class", None) is HTMLResponse and "text/html" in (
        request.headers.get("accept", "")
    )


def _page(status: int, message: str) -> HTMLResponse:
    """A bare dashboard page with the message, and the way back."""
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Bad request · microfunnel</title>"
        '<link rel="stylesheet" href="/static/app.css"></head><body><main>'
        f'<div class="error" role="alert">{html.escape(message)}</div>'
        '<p><a href="javascript:history.back()">Back</a> · <a href="/">Overview</a></p>'
        "</main></body></html>",
        status_code=status,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MicrofunnelError)
    async def _ours(request: Request, exc: MicrofunnelError) -> JSONResponse:
        response = JSONResponse(exc.to_json(), status_code=exc.status)
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"`{loc}`: {first.get('msg', 'invalid value')}" if loc else str(first.get("msg"))
        if _wants_page(request):
            return _page(400, message)
        return _error(400, "invalid_input", message, loc or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        # Decoders and the privacy scrub walk nested values; only hostile input nests this deep.
        return _error(
            400,
            "decode",
            "the body nests arrays or objects too deeply to decode: flatten the payload",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "unexpected server error; it has been logged")
