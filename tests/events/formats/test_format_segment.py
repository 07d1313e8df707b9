"""Segment and RudderStack messages, starting from what their Python clients sent."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from microfunnel.errors import DecodeError
from microfunnel.events.formats import segment
from microfunnel.events.formats.common import decompress

T = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
URL = "https://shop.example.com/p/sku-123?utm_source=newsletter"
PROPERTIES = {"product_id": "SKU-123", "price": 19.99, "currency": "EUR", "device": "mobile"}


def decode(body: bytes, received_at: datetime, query=None) -> segment.DecodedBatch:
    return segment.decode(
        body, content_type="application/json", query=query or {}, received_at=received_at
    )


def context(version: str) -> dict:
    return {
        "page_url": URL,
        "page_path": "/p/sku-123",
        "utm_source": "newsletter",
        "user_agent": IPHONE,
        "ip": "203.0.113.7",
        "library": {"name": "analytics-python", "version": version},
        "device": "mobile",
        "source": "segment",
    }


def test_segment_capture(capture, received):
    request = capture.load("segment")
    batch = decode(request.body, received)
    assert batch.key == "SEGMENT_WRITE_KEY_TEST"
    assert batch.sent_at == datetime(2026, 11, 23, 14, 44, 2, 973115, tzinfo=UTC)
    assert batch.rejected == []
    [event] = batch.events
    assert event.event == "add_to_cart"
    assert event.event_id == "08092218-4065-4b03-aeea-07ca20068ebf"
    assert (event.user_id, event.anonymous_id) == ("user-42", "anon-7f3c9a")
    # Sent 13.03 s before it arrived: the client clock is that far behind, so the time moves on.
    assert event.timestamp == T + (received - batch.sent_at)
    assert event.sent_at == batch.sent_at and event.received_at == received
    assert event.properties == PROPERTIES
    assert event.context == context("2.4.0")


def test_rudderstack_capture_gzipped_on_the_wire(capture, received):
    request = capture.load("rudderstack")
    assert request.headers["content-encoding"] == "gzip"
    wire = gzip.compress(request.body)
    batch = decode(decompress(wire, request.headers["content-encoding"]), received)
    assert batch.key is None  # RudderStack sends the key only as Basic auth
    [event] = batch.events
    assert event.event_id == "294a233b-d093-4aeb-a824-67088c460bfe"
    assert (event.event, event.user_id, event.anonymous_id) == (
        "add_to_cart",
        "user-42",
        "anon-7f3c9a",
    )
    sent = datetime(2026, 11, 23, 14, 44, 11, 269194, tzinfo=UTC)
    assert event.timestamp == T + (received - sent)
    assert event.properties == PROPERTIES
    assert event.context == context("2.1.9")
    # and the same body still decodes when the header was lost
    assert decode(wire, received).events[0].event_id == event.event_id


def message(**fields) -> dict:
    return {"anonymousId": "anon-1", "messageId": "m-1", "timestamp": T.isoformat(), **fields}


def one(received: datetime, **fields) -> segment.Event:
    batch = decode(msgspec.json.encode(message(**fields)), received)
    assert batch.rejected == []
    [event] = batch.events
    return event


def test_page_is_page_view_with_url_from_properties(received):
    event = one(
        received,
        type="page",
        name="Product",
        category="PDP",
        properties={"url": URL, "title": "Shoe"},
    )
    assert event.event == "page_view"
    assert event.properties == {"url": URL, "title": "Shoe", "name": "Product", "category": "PDP"}
    assert (
        event.context["page_path"] == "/p/sku-123" and event.context["utm_source"] == "newsletter"
    )


def test_screen_is_screen_view(received):
    assert one(received, type="screen", name="Cart").event == "screen_view"


def test_identify_keeps_both_ids_and_traits(received):
    event = one(received, type="identify", userId="user-42", traits={"plan": "gold", "orders": 3})
    assert (event.event, event.user_id, event.anonymous_id) == ("$identify", "user-42", "anon-1")
    assert event.properties == {"plan": "gold", "orders": 3}


def test_alias_records_the_previous_id(received):
    event = one(received, type="alias", userId="user-42", previousId="anon-1", anonymousId=None)
    assert (event.event, event.user_id) == ("$alias", "user-42")
    assert event.properties == {"previous_id": "anon-1"}


def test_group_keeps_traits_and_group_id(received):
    event = one(received, type="group", groupId=77, traits={"name": "ACME"})
    assert event.event == "$group" and event.properties == {"name": "ACME", "group_id": "77"}


def test_custom_names_are_not_renamed(received):
    assert one(received, type="track", event="Order Completed").event == "Order Completed"


def test_context_campaign_device_consent_session(received):
    event = one(
        received,
        event="checkout_error",
        originalTimestamp=T.isoformat(),
        timestamp=None,
        context={
            "page": {"url": URL, "path": "/p/other", "referrer": "https://google.com/"},
            "campaign": {"source": "google", "medium": "cpc", "name": "spring", "term": "shoes"},
            "device": {"type": "Tablet"},
            "userAgent": "Mozilla/5.0 (Windows NT 10.0)",
            "sessionId": 1714566896,
            "consent": {"categoryPreferences": {"Analytics": False, "Advertising": True}},
            "traits": {"email": "not kept in context"},
        },
    )
    assert event.timestamp == T and event.session_id == "1714566896"
    assert event.context == {
        "page_url": URL,
        "page_path": "/p/other",
        "referrer": "https://google.com/",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_term": "shoes",
        "device": "tablet",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0)",
        "consent": {"analytics": False},
        "source": "segment",
    }


def test_single_message_body_and_message_sent_at(received):
    sent = received - timedelta(minutes=5)
    event = one(received, event="x", sentAt=sent.isoformat())
    assert event.timestamp == T + timedelta(minutes=5)


def test_bad_messages_are_quarantined(received):
    good = message(event="ok")
    body = msgspec.json.encode(
        {
            "batch": [
                good,
                message(type="track"),
                message(type="banana", event="x", integrations={"All": True}),
                "text",
                {"event": "x", "messageId": "m"},
                message(event="x", properties=[1]),
                message(event="x", timestamp="never"),
            ],
            "sentAt": T.isoformat(),
        }
    )
    batch = decode(body, T)
    assert [e.event for e in batch.events] == ["ok"]
    assert [(r.index, r.reasons) for r in batch.rejected] == [
        (1, ["a track message needs `event`, a non-empty string, got null"]),
        (2, ["`type` must be one of track, page, screen, identify, alias, group, got 'banana'"]),
        (3, ["a message must be a JSON object, got a string"]),
        (4, ["a message needs `userId` or `anonymousId`"]),
        (5, ["`properties` must be an object, got a list"]),
        (
            6,
            [
                "`timestamp` is not a time: "
                "expected an ISO-8601 time or epoch milliseconds, got 'never'"
            ],
        ),
    ]
    # quarantine keeps each item exactly as sent, unknown keys included
    assert [r.item for r in batch.rejected] == msgspec.json.decode(body)["batch"][1:]


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (b'{"batch": [', "body is not valid JSON: it ends early at byte 11", "body"),
        (b"[]", 'body must be a JSON object (a message, or {"batch": [...]}), got a list', "body"),
        (b'{"batch": 3}', "`batch` must be a list of messages, got a number", "batch"),
        (
            b'{"batch": [], "sentAt": "x"}',
            "`sentAt` is not a time: expected an ISO-8601 time or epoch milliseconds, got 'x'",
            "sentAt",
        ),
    ],
)
def test_undecodable_bodies(received, body, message, field):
    with pytest.raises(DecodeError) as info:
        decode(body, received)
    assert (info.value.message, info.value.field) == (message, field)
