"""Who may see the pages: the API's key rules, plus a login form that sets the ``mf_key`` cookie.

On a server bound to localhost, loopback visitors need no key (as for the API). Anywhere else a
page without a valid key redirects to ``/login``; the form checks the key and stores it in an
HttpOnly, SameSite=Strict cookie, which the API routes accept as well.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import RedirectResponse

from microfunnel.errors import AuthError
from microfunnel.server.deps import read_access
from microfunnel.server.runtime import Runtime

__all__ = ["COOKIE", "login_target", "page_runtime", "read_form", "safe_next", "set_key_cookie"]

COOKIE = "mf_key"
COOKIE_DAYS = 30


def page_runtime(request: Request) -> Runtime | RedirectResponse:
    """The project the visitor may read, or a redirect to the login form."""
    try:
        return read_access(request)
    except AuthError:
        return RedirectResponse(login_target(request), status_code=303)


def login_target(request: Request) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(path, safe='')}"


def safe_next(value: str | None) -> str:
    """Only same-site paths: ``//evil.example`` and absolute URLs fall back to ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the login form), without a multipart dependency."""
    body = (await request.body())[:8192].decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def set_key_cookie(response: RedirectResponse, request: Request, key: str) -> None:
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
