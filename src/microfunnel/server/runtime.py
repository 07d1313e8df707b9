"""The server's view of its projects: which key opens which project."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from microfunnel.ingest.runtime import Runtime

__all__ = ["Hub", "Runtime"]

LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}


class Hub:
    """Several projects can share one server; a key belongs to exactly one of them."""

    def __init__(self, runtimes: Sequence[Runtime], *, local_ok: bool = False):
        self.runtimes = list(runtimes)
        self.local_ok = local_ok

    def by_write_key(self, key: str) -> Runtime | None:
        for runtime in self.runtimes:
            if runtime.project.keys.is_write(key):
                return runtime
        return None

    def by_secret(self, key: str) -> Runtime | None:
        for runtime in self.runtimes:
            if runtime.project.keys.is_secret(key):
                return runtime
        return None

    def local_runtime(self, request: Request) -> Runtime | None:
        """On a server bound to localhost, local requests may read the only project keyless."""
        host = request.client.host if request.client else ""
        if self.local_ok and host in LOOPBACK and len(self.runtimes) == 1:
            return self.runtimes[0]
        return None

    def close(self) -> None:
        for runtime in self.runtimes:
            runtime.close()
