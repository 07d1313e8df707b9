"""Fixtures for the wire-format decoders: captured requests of real clients, a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

CAPTURES = Path(__file__).parent / "captures"
# The server clock when the captured requests "arrive": one second after the latest send time.
RECEIVED = datetime(2026, 11, 23, 14, 44, 16, tzinfo=UTC)


@dataclass
class Capture:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def load_capture(name: str) -> Capture:
    """Parse ``captures/<name>.request.http``: request line, headers, body without annotations."""
    text = (CAPTURES / f"{name}.request.http").read_text()
    head, _, rest = text.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, target, _ = request_line.split(" ", 2)
    url = urlsplit(target)
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    body_lines: list[str] = []
    for line in rest.splitlines():
        if line.startswith("#"):
            if body_lines:
                break
            continue
        body_lines.append(line)
    return Capture(
        method=method,
        path=url.path,
        query=dict(parse_qsl(url.query)),
        headers=headers,
        body="\n".join(body_lines).strip().encode(),
    )


@pytest.fixture
def received() -> datetime:
    return RECEIVED


@pytest.fixture
def capture() -> type[_Loader]:
    return _Loader


class _Loader:
    """``capture.load("segment")`` in a test: the parsed captured request."""

    load = staticmethod(load_capture)
