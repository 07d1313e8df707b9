"""The Python SDK against the in-memory collector: batching, retries, consent, shutdown, drops."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from microfunnel.errors import ConfigError, InputError
from microfunnel.sdk import Client, MockSink, RetryPolicy
from microfunnel.sdk.transport import parse_retry_after

MakeClient = Callable[..., Client]
HOST = "http://collector.test"
WRITE_KEY = "wk_test_123"  # the key the `sink` fixture expects


def test_events_are_sent_in_batches_of_flush_at(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client(flush_at=3, flush_interval=30)
    ids = [client.track("view_item", {"n": i}, anonymous_id="a1") for i in range(7)]
    sink.wait_for(6)
    assert [len(r.body["batch"]) for r in sink.posts()] == [3, 3]
    assert client.flush(timeout=5)
    posts = sink.posts()
    assert [len(r.body["batch"]) for r in posts] == [3, 3, 1]
    assert [e["event_id"] for e in sink.events] == ids
    assert [e["properties"]["n"] for e in sink.events] == list(range(7))
    first = posts[0]
    assert first.headers["authorization"] == f"Bearer {WRITE_KEY}"
    assert first.headers["content-encoding"] == "gzip"
    assert datetime.fromisoformat(first.body["sent_at"]).tzinfo is not None
    event = sink.events[0]
    assert event["context"]["library"]["name"] == "microfunnel-python"
    assert event["context"]["consent"] == {"analytics": True}
    assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
    assert client.delivered == 7 and client.dropped == 0


def test_a_lone_event_leaves_after_flush_interval(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client(flush_at=100, flush_interval=0.05)
    started = time.monotonic()
    client.track("search", {"search_term": "boots"}, user_id="u1")
    sink.wait_for(1, timeout=3)
    assert time.monotonic() - started < 2


def test_gzip_can_be_turned_off(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client(gzip=False)
    client.track("login", user_id="u1")
    client.flush()
    assert "content-encoding" not in sink.posts()[0].headers


def test_503_is_retried_with_backoff_and_the_same_event_ids(
    sink: MockSink, make_client: MakeClient
) -> None:
    sink.respond(503, 503)
    client = make_client()
    event_id = client.track("add_to_cart", {"value": 3}, anonymous_id="a1")
    assert client.flush(timeout=5)
    posts = sink.posts()
    assert [p.status for p in posts] == [503, 503, 200]
    assert [p.headers["x-retry-count"] for p in posts] == ["0", "1", "2"]
    assert {p.body["batch"][0]["event_id"] for p in posts} == {event_id}
    assert len({p.body["sent_at"] for p in posts}) == 3  # sent_at is fresh on every attempt
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05  # FAST_RETRY's lower bounds for retries 0, 1
    assert client.delivered == 1 and client.dropped == 0
    assert [e["event_id"] for e in sink.events] == [event_id]


def test_retry_after_is_honoured(sink: MockSink, make_client: MakeClient) -> None:
    sink.respond((503, {"Retry-After": "1"}))
    client = make_client(retry=RetryPolicy(base=0.01, cap=0.02))
    client.track("add_to_cart", anonymous_id="a1")
    assert client.flush(timeout=5)
    first, second = sink.posts()
    assert second.at - first.at >= 0.99


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_retryable_statuses(sink: MockSink, make_client: MakeClient, status: int) -> None:
    sink.respond(status)
    client = make_client()
    client.track("login", user_id="u1")
    client.flush(timeout=5)
    assert [p.status for p in sink.posts()] == [status, 200]


@pytest.mark.parametrize("status", [400, 401, 413, 422, 501])
def test_client_errors_are_not_retried_and_are_counted(
    sink: MockSink, make_client: MakeClient, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    sink.respond(status)
    client = make_client()
    client.track("login", user_id="u1")
    client.track("logout", user_id="u1")
    with caplog.at_level(logging.WARNING, logger="microfunnel.sdk"):
        assert client.flush(timeout=5)
    assert [p.status for p in sink.posts()] == [status]
    assert client.dropped == 2 and client.drop_reasons == {"rejected": 2}
    assert f"HTTP {status} scripted" in client.last_error
    assert "dropped 2 event(s) (rejected)" in caplog.text


def test_retries_are_bounded(sink: MockSink, make_client: MakeClient) -> None:
    sink.respond(503, 503, 503, 503)
    client = make_client(max_retries=2)
    client.track("login", user_id="u1")
    client.flush(timeout=5)
    assert len(sink.posts()) == 3
    assert client.drop_reasons == {"retries_exhausted": 1}


class FlakyNetwork(httpx.BaseTransport):
    """Refuses the first ``failures`` connections, then hands requests to ``inner``."""

    def __init__(self, inner: httpx.BaseTransport, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_network_errors_are_retried(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client(transport=FlakyNetwork(sink, failures=2))
    client.track("login", user_id="u1")
    assert client.flush(timeout=5)
    assert len(sink.events) == 1 and client.dropped == 0


def test_a_retried_batch_is_counted_once_by_the_collector(sink: MockSink) -> None:
    payload = {"batch": [{"event": "login", "event_id": "e-1"}]}
    with httpx.Client(transport=sink, base_url=HOST) as http:
        for _ in range(2):
            http.post("/v1/events", json=payload, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert len(sink.events) == 1 and sink.duplicates == 1


def test_without_consent_events_carry_no_identifiers(
    sink: MockSink, make_client: MakeClient
) -> None:
    client = make_client(consent=False)
    assert client.identify("u1", {"plan": "pro"}, anonymous_id="a1") is None
    assert client.alias("u1", "old-u1") is None
    client.track("add_to_cart", {"value": 1}, user_id="u1", anonymous_id="a1", session_id="s1")
    client.flush()
    [event] = sink.events
    assert event["event"] == "add_to_cart"
    assert not {"user_id", "anonymous_id", "session_id"} & set(event)
    assert event["context"]["consent"] == {"analytics": False}


def test_withdrawn_consent_strips_queued_events_and_a_batch_awaiting_retry(
    sink: MockSink, make_client: MakeClient
) -> None:
    sink.respond(503)
    client = make_client(flush_at=1, retry=RetryPolicy(base=0.4, cap=0.4, jitter=0))
    client.track("view_item", user_id="u1", anonymous_id="a1")
    deadline = time.monotonic() + 5
    while not sink.posts() and time.monotonic() < deadline:
        time.sleep(0.01)
    client.track("add_to_cart", user_id="u1", anonymous_id="a1")  # still queued
    client.set_consent(False)
    client.track("begin_checkout", user_id="u1")
    assert client.flush(timeout=5)
    first_try = sink.posts()[0].body["batch"][0]
    assert first_try["user_id"] == "u1"  # what left before consent was withdrawn
    assert [e["event"] for e in sink.events] == ["view_item", "add_to_cart", "begin_checkout"]
    for event in sink.events:
        assert "user_id" not in event and "anonymous_id" not in event
        assert event["context"]["consent"] == {"analytics": False}
    client.set_consent(True)
    client.track("purchase", user_id="u1")
    client.flush()
    assert sink.events[-1]["user_id"] == "u1"
    assert sink.events[-1]["context"]["consent"] == {"analytics": True}


def test_shutdown_flushes_what_is_queued(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client(flush_interval=60)
    for i in range(5):
        client.track("view_item", {"n": i}, anonymous_id="a1")
    client.shutdown()
    assert len(sink.events) == 5
    assert client.track("view_item", anonymous_id="a1") is None
    assert client.drop_reasons == {"closed": 1}


def test_shutdown_gives_up_after_its_timeout_and_counts_the_loss(
    sink: MockSink, make_client: MakeClient
) -> None:
    sink.respond(*[503] * 50)
    client = make_client(flush_at=2, retry=RetryPolicy(base=5.0, cap=5.0))
    for _ in range(3):
        client.track("view_item", anonymous_id="a1")
    started = time.monotonic()
    client.shutdown(timeout=0.3)
    assert time.monotonic() - started < 3
    assert client.dropped == 3 and client.drop_reasons == {"shutdown": 3}


def test_events_are_flushed_at_interpreter_exit(tmp_path: object) -> None:
    script = textwrap.dedent(
        """
        import atexit
        from microfunnel.sdk import Client, MockSink
        sink = MockSink()
        atexit.register(lambda: print(len(sink.events)))  # runs after the client's own hook
        client = Client("wk", "http://collector.test", flush_interval=60, transport=sink)
        for i in range(4):
            client.track("view_item", {"n": i}, anonymous_id="a1")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "4"


def test_a_full_queue_drops_new_events_and_says_so(
    sink: MockSink, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(max_queue=3, flush_interval=60)
    with caplog.at_level(logging.WARNING, logger="microfunnel.sdk"):
        results = [client.track("view_item", {"n": i}, anonymous_id="a1") for i in range(5)]
    assert [r is None for r in results] == [False, False, False, True, True]
    assert client.dropped == 2 and client.drop_reasons == {"queue_full": 2}
    assert "queue_full" in caplog.text
    client.flush()
    assert [e["properties"]["n"] for e in sink.events] == [0, 1, 2]


def test_page_fills_the_page_context(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client()
    url = "https://shop.example/p/sku-1?utm_source=newsletter&utm_medium=email&color=red"
    client.page(url, title="Boots", referrer="https://search.example/", anonymous_id="a1")
    client.flush()
    [event] = sink.events
    assert event["event"] == "page_view"
    assert event["properties"] == {
        "page_location": url,
        "page_title": "Boots",
        "page_referrer": "https://search.example/",
    }
    context = event["context"]
    assert context["page_path"] == "/p/sku-1" and context["page_url"] == url
    assert context["utm_source"] == "newsletter" and context["utm_medium"] == "email"
    assert "color" not in context


def test_identify_and_alias_use_the_system_event_names(
    sink: MockSink, make_client: MakeClient
) -> None:
    client = make_client()
    client.identify("u1", {"plan": "pro"}, anonymous_id="a1")
    client.alias("u1", "legacy-7")
    client.flush()
    identify, alias = sink.events
    assert (identify["event"], identify["user_id"], identify["anonymous_id"]) == (
        "$identify",
        "u1",
        "a1",
    )
    assert identify["properties"] == {"plan": "pro"}
    assert (alias["event"], alias["user_id"], alias["properties"]) == (
        "$alias",
        "u1",
        {"previous_id": "legacy-7"},
    )


def test_explicit_timestamps_and_ids_are_kept(sink: MockSink, make_client: MakeClient) -> None:
    client = make_client()
    when = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
    client.track("purchase", event_id="order-9-purchase", timestamp=when, user_id="u1")
    client.flush()
    [event] = sink.events
    assert event["event_id"] == "order-9-purchase"
    assert datetime.fromisoformat(event["timestamp"]) == when


def test_misuse_raises_at_the_call_site(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.raises(InputError, match="event name"):
        client.track("")
    with pytest.raises(InputError, match="cannot be sent as JSON"):
        client.track("view_item", {"item": object()}, anonymous_id="a1")
    with pytest.raises(InputError, match="byte limit"):
        client.track("view_item", {"blob": "x" * 40_000}, anonymous_id="a1")
    assert client.dropped == 0


@pytest.mark.parametrize(
    ("key", "host", "options"),
    [
        ("", HOST, {}),
        (WRITE_KEY, "collector.test", {}),
        (WRITE_KEY, HOST, {"flush_at": 0}),
        (WRITE_KEY, HOST, {"max_queue": 0}),
        (WRITE_KEY, HOST, {"max_retries": -1}),
    ],
)
def test_bad_settings_are_refused(key: str, host: str, options: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        Client(key, host, **options)  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-1") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == 30.0


def test_backoff_grows_exponentially_within_its_jitter_and_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=8.0, jitter=0.5)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        waits = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 10  # jittered, not constant
    assert policy.delay(0, retry_after=20.0) == 20.0
    assert policy.delay(0, retry_after=10_000.0) == policy.max_retry_after


def test_the_sink_decodes_gzip_and_checks_the_key(sink: MockSink) -> None:
    body = gzip.compress(json.dumps({"event": "login", "write_key": WRITE_KEY}).encode())
    with httpx.Client(transport=sink, base_url=HOST) as http:
        ok = http.post("/v1/events", content=body, headers={"Content-Encoding": "gzip"})
        wrong = http.post("/v1/events", json={"event": "login", "write_key": "nope"})
        broken = http.post("/v1/events", content=b"{", headers={"Authorization": "Bearer x"})
    assert ok.json() == {"accepted": 1, "quarantined": 0, "duplicates": 0}
    assert wrong.status_code == 401 and broken.status_code == 400
