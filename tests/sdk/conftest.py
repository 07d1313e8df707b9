"""Python SDK clients wired to an in-memory collector; every client is shut down after its test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from microfunnel.sdk import Client, MockSink, RetryPolicy

WRITE_KEY = "wk_test_123"
HOST = "http://collector.test"
# Fast, still exponential: waits of [0.025, 0.05], [0.05, 0.1], ... seconds.
FAST_RETRY = RetryPolicy(base=0.05, cap=1.0, jitter=0.5)


@pytest.fixture
def sink() -> MockSink:
    return MockSink(write_key=WRITE_KEY)


@pytest.fixture
def make_client(sink: MockSink) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("transport", sink)
        options.setdefault("retry", FAST_RETRY)
        client = Client(WRITE_KEY, HOST, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=2.0)
