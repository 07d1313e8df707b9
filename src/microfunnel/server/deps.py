"""FastAPI dependencies shared by every router: who is asking, and which project's store.

Read routes take ``runtime: Runtime = Depends(read_access)``; the key is a project's secret key
in ``Authorization: Bearer KEY`` (or, for the dashboard, the ``mf_key`` cookie). On localhost
without a key the server's single project is used when ``allow_local`` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request

from microfunnel.errors import AuthError

if TYPE_CHECKING:
    from microfunnel.server.runtime import Runtime

__all__ = ["bearer", "read_access", "read_store"]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("mf_key") or request.query_params.get("key")


def read_access(request: Request) -> Runtime:
    """The project a secret key opens; 401 without a key, 403 with a write key or a wrong one."""
    hub = request.app.state.hub
    key = bearer(request)
    if key is None:
        local = hub.local_runtime(request)
        if local is not None:
            return local
        raise AuthError(
            "this endpoint needs a secret key: send `Authorization: Bearer <secret key>`"
        )
    runtime = hub.by_secret(key)
    if runtime is None:
        if hub.by_write_key(key) is not None:
            raise AuthError("write keys can only send events; use a secret key to read", status=403)
        raise AuthError("unknown key: check the secret key (`microfunnel keys list`)", status=403)
    request.app.state.limits.check(key, runtime.project.settings.rate_limit_per_second)
    return runtime


def read_store(request: Request) -> Any:
    """The store of the project a secret key opens."""
    return read_access(request).store
