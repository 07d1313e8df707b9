"""One error root for microfunnel; every message says what is wrong and what to do.

The tree::

    MicrofunnelError
    ├── ConfigError (ValueError)          a setting or a project file is wrong
    ├── InputError (ValueError)           a caller passed something unusable
    │   ├── DecodeError                   a request body could not be decoded at all
    │   ├── PlanError                     the tracking plan itself is invalid
    │   ├── QueryError                    an analysis was asked a question it cannot answer
    │   └── DefinitionError               an experiment or feature definition is invalid
    ├── AuthError                         a key is missing (401) or not allowed (403)
    ├── PayloadTooLarge                   a body or batch is over the limit (413)
    ├── Unavailable                       cannot accept work right now (503, retry later)
    └── StoreError                        the store failed to read or write

HTTP adapters render any of these as JSON ``{"error": {"code", "message", "field"?}}`` with
``status``; nothing else reaches a client as a 500.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "DecodeError",
    "DefinitionError",
    "InputError",
    "MicrofunnelError",
    "PayloadTooLarge",
    "PlanError",
    "QueryError",
    "StoreError",
    "Unavailable",
]


class MicrofunnelError(Exception):
    """Root of every error microfunnel raises on purpose."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


class ConfigError(MicrofunnelError, ValueError):
    status = 400
    code = "config"


class InputError(MicrofunnelError, ValueError):
    status = 400
    code = "invalid_input"


class DecodeError(InputError):
    code = "decode"


class PlanError(InputError):
    code = "tracking_plan"


class QueryError(InputError):
    code = "query"


class DefinitionError(InputError):
    code = "definition"


class AuthError(MicrofunnelError):
    status = 401
    code = "auth"


class PayloadTooLarge(MicrofunnelError):
    status = 413
    code = "too_large"


class Unavailable(MicrofunnelError):
    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(MicrofunnelError):
    status = 500
    code = "store"
