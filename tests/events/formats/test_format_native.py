"""The native format: one event, or {"batch": [...], "sent_at": ...}."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from microfunnel.errors import DecodeError
from microfunnel.events.formats import native
from microfunnel.events.model import Event

T = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)


def decode(body: bytes, received_at: datetime) -> native.DecodedBatch:
    return native.decode(body, content_type="application/json", query={}, received_at=received_at)


def test_single_event_with_all_fields(received):
    body = msgspec.json.encode(
        {
            "event": "add_to_cart",
            "event_id": "e-1",
            "anonymous_id": "anon-7f3c9a",
            "user_id": "user-42",
            "session_id": "s-1",
            "timestamp": "2024-05-01T12:34:56.789Z",
            "properties": {"currency": "EUR", "value": 19.99, "items": [{"item_id": "SKU-123"}]},
            "context": {
                "page_url": "https://shop.example.com/p/sku-123?utm_source=newsletter&utm_medium=email",
                "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
            },
        }
    )
    batch = decode(body, received)
    assert batch.rejected == [] and batch.key is None and batch.sent_at is None
    [event] = batch.events
    assert (event.event, event.event_id, event.session_id) == ("add_to_cart", "e-1", "s-1")
    assert (event.anonymous_id, event.user_id) == ("anon-7f3c9a", "user-42")
    assert event.timestamp == T  # no sent_at: no skew to correct
    assert event.received_at == received
    assert event.properties == {
        "currency": "EUR",
        "value": 19.99,
        "items": [{"item_id": "SKU-123"}],
    }
    assert event.context == {
        "page_url": "https://shop.example.com/p/sku-123?utm_source=newsletter&utm_medium=email",
        "page_path": "/p/sku-123",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
        "device": "mobile",
        "source": "native",
    }


def test_batch_corrects_client_clock_skew(received):
    # The client's clock is 1 hour behind: it says it sent at received - 1 h.
    sent = received - timedelta(hours=1)
    body = msgspec.json.encode(
        {
            "batch": [
                {"event": "view_item", "timestamp": (sent - timedelta(seconds=30)).isoformat()},
                {"event": "add_to_cart", "timestamp": (sent - timedelta(seconds=10)).isoformat()},
            ],
            "sent_at": sent.isoformat(),
            "write_key": "wk_public",
        }
    )
    batch = decode(body, received)
    assert batch.key == "wk_public" and batch.sent_at == sent
    assert [e.timestamp for e in batch.events] == [
        received - timedelta(seconds=30),
        received - timedelta(seconds=10),
    ]
    assert all(e.sent_at == sent and e.received_at == received for e in batch.events)
    assert all(e.event_id for e in batch.events)


def test_small_skew_is_latency_and_left_alone(received):
    body = msgspec.json.encode(
        {
            "batch": [{"event": "view_item", "timestamp": "2024-05-01T12:34:56.789Z"}],
            "sent_at": (received - timedelta(seconds=1)).isoformat(),
        }
    )
    assert decode(body, received).events[0].timestamp == T


def test_missing_timestamp_is_the_receive_time(received):
    assert decode(b'{"event": "x"}', received).events[0].timestamp == received


def test_server_owned_fields_are_ignored(received):
    body = b'{"event": "x", "received_at": "2001-01-01T00:00:00Z", "plan_version": 9}'
    [event] = decode(body, received).events
    assert event.received_at == received and event.plan_version is None
    body = b'{"batch": [{"event": "x", "received_at": "2001-01-01T00:00:00Z", "plan_version": 9}]}'
    [event] = decode(body, received).events
    assert event.received_at == received and event.plan_version is None


def test_epoch_millis_and_numeric_ids_are_accepted(received):
    body = b'{"batch": [{"event": "x", "timestamp": 1714566896789, "session_id": 1714566896}]}'
    [event] = decode(body, received).events
    assert event.timestamp == T and event.session_id == "1714566896"


def test_bad_items_are_quarantined_with_reasons_and_the_rest_kept(received):
    body = msgspec.json.encode(
        {
            "batch": [
                {"event": "ok"},
                {"name": "no event field"},
                "a string",
                {"event": ""},
                {"event": "x", "timestamp": "last tuesday"},
                {"event": "x", "properties": [1, 2]},
                {"event": 5},
            ]
        }
    )
    batch = decode(body, received)
    assert [e.event for e in batch.events] == ["ok"]
    assert [(r.index, r.item, r.reasons) for r in batch.rejected] == [
        (1, {"name": "no event field"}, ["item is missing required field `event`"]),
        (2, "a string", ["an event must be a JSON object, got a string"]),
        (3, {"event": ""}, ["`event` is empty: name the event"]),
        (
            4,
            {"event": "x", "timestamp": "last tuesday"},
            [
                "`timestamp` is not a time: expected an ISO-8601 time or epoch milliseconds, "
                "got 'last tuesday'"
            ],
        ),
        (5, {"event": "x", "properties": [1, 2]}, ["`properties` must be an object, got a list"]),
        (6, {"event": 5}, ["`event` must be a string, got an integer"]),
    ]


def test_empty_name_in_a_well_typed_batch_is_quarantined(received):
    batch = decode(b'{"batch": [{"event": ""}, {"event": "a"}]}', received)
    assert [e.event for e in batch.events] == ["a"]
    assert batch.rejected[0].index == 0 and batch.rejected[0].item["event"] == ""


def test_single_bad_event_is_quarantined(received):
    batch = decode(b'{"event": ["x"]}', received)
    assert batch.events == [] and batch.rejected[0].item == {"event": ["x"]}


def test_gzip_body_without_header_is_sniffed(received):
    assert decode(gzip.compress(b'{"event": "x"}'), received).events[0].event == "x"


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (b'{"batch": [}', "body is not valid JSON at byte 11: invalid character", "body"),
        (b"", "body is empty: send a JSON object", "body"),
        (
            b'"hello"',
            'body must be a JSON object (one event, or {"batch": [...]}), got a string',
            "body",
        ),
        (b'{"batch": "x"}', "`batch` must be a list of events, got a string", "batch"),
        (b'{"batch": {}}', "`batch` must be a list of events, got an object", "batch"),
        (
            b'{"batch": [], "write_key": 1}',
            "`write_key` must be a string, got a number",
            "write_key",
        ),
        (
            b'{"batch": [], "sent_at": "soon"}',
            "`sent_at` is not a time: expected an ISO-8601 time or epoch milliseconds, got 'soon'",
            "sent_at",
        ),
    ],
)
def test_undecodable_bodies_say_what_is_wrong(received, body, message, field):
    with pytest.raises(DecodeError) as info:
        decode(body, received)
    assert (info.value.message, info.value.field) == (message, field)


def test_round_trip_of_encoded_events(received):
    events = [
        Event(
            event="purchase",
            event_id=f"e-{i}",
            anonymous_id="a",
            user_id="u",
            timestamp=T + timedelta(seconds=i),
            properties={"value": 10.5 * i, "items": [{"item_id": "SKU", "quantity": i}]},
            context={"page_path": "/checkout", "device": "desktop"},
        )
        for i in range(3)
    ]
    body = msgspec.json.encode({"batch": events})
    decoded = decode(body, received).events
    for sent, got in zip(events, decoded, strict=True):
        assert got.event_id == sent.event_id and got.timestamp == sent.timestamp
        assert got.properties == sent.properties
        assert got.context == {**sent.context, "source": "native"}


def test_a_time_out_of_range_after_skew_is_quarantined_as_sent(received):
    item = {
        "event": "view_item",
        "event_id": "x1",
        "timestamp": "9999-12-31T23:59:59Z",
        "properties": {"value": 1},
    }
    body = msgspec.json.encode({"batch": [item], "sent_at": "2000-01-01T00:00:00Z"})
    batch = decode(body, received)
    assert batch.events == []
    (rejected,) = batch.rejected
    assert rejected.item == item and "out of range" in rejected.reasons[0]
