"""GA4 Measurement Protocol, from what ga4mp sent and from Google's reference request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from microfunnel.errors import DecodeError
from microfunnel.events.formats import ga4

T = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
URL = "https://shop.example.com/p/sku-123?utm_source=newsletter"
QUERY = {"measurement_id": "G-TEST123", "api_secret": "s3cret"}
ITEMS = [{"item_id": "SKU-123", "price": 19.99, "quantity": 1}]


def decode(body: bytes, received_at: datetime = T, query=QUERY) -> ga4.DecodedBatch:
    return ga4.decode(body, content_type="application/json", query=query, received_at=received_at)


def test_ga4mp_capture(capture, received):
    request = capture.load("ga4_mp_ga4mp")
    batch = decode(request.body, received, request.query)
    assert batch.key == "GA4_API_SECRET_TEST" and batch.rejected == []
    [event] = batch.events
    assert event.event == "add_to_cart"
    assert (event.anonymous_id, event.user_id, event.session_id) == (
        "anon-7f3c9a",
        None,
        "1795445064",
    )
    assert event.timestamp == received  # no timestamp_micros: the receive time
    assert event.properties == {
        "currency": "EUR",
        "value": 19.99,
        "items": ITEMS,
        "device": "mobile",
        "engagement_time_msec": 0,
    }
    assert event.context == {
        "app_id": "G-TEST123",
        "page_url": URL,
        "page_path": "/p/sku-123",
        "utm_source": "newsletter",
        "source": "ga4",
    }
    # no client time: the same body received later is a new event, not a retry
    later = decode(request.body, received + timedelta(seconds=1), request.query).events[0]
    assert later.event_id != event.event_id


def test_raw_reference_capture(capture, received):
    request = capture.load("ga4_mp_raw")
    batch = decode(request.body, received, request.query)
    [event] = batch.events
    assert (event.anonymous_id, event.user_id, event.session_id) == (
        "anon-7f3c9a",
        "user-42",
        "1714566896",
    )
    assert event.timestamp == T and event.sent_at is None  # GA4 has no send time: no skew step
    assert event.properties == {
        "currency": "EUR",
        "value": 19.99,
        "items": ITEMS,
        "device": "mobile",
        "engagement_time_msec": 100,
        "user_properties": {"customer_tier": "gold"},
    }
    assert event.context == {
        "app_id": "G-TEST123",
        "ip": "203.0.113.7",
        "device": "mobile",
        "device_info": {
            "operating_system": "iOS",
            "operating_system_version": "17.4",
            "browser": "Safari",
            "language": "en-us",
        },
        "page_url": URL,
        "page_path": "/p/sku-123",
        "utm_source": "newsletter",
        "source": "ga4",
    }
    # a resent request dedupes: same ids; a different event position or content does not
    again = decode(request.body, received + timedelta(minutes=3), request.query).events[0]
    assert again.event_id == event.event_id


def request(*events, **fields) -> bytes:
    return msgspec.json.encode(
        {"client_id": "c-1", "timestamp_micros": 1714566896789000, **fields, "events": list(events)}
    )


def test_ids_differ_by_position_and_params():
    a = {"name": "select_item", "params": {"item_id": "A"}}
    b = {"name": "select_item", "params": {"item_id": "B"}}
    ids = [e.event_id for e in decode(request(a, a, b)).events]
    assert len(set(ids)) == 3
    assert ids == [e.event_id for e in decode(request(a, a, b)).events]


def test_app_stream_event_time_consent_location():
    body = msgspec.json.encode(
        {
            "app_instance_id": "app-1",
            "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
            "user_location": {"country_id": "DE"},
            "device": {"category": "tablet"},
            "events": [
                {
                    "name": "purchase",
                    "timestamp_micros": "1714566896789000",
                    "params": {"transaction_id": "T1", "value": 5},
                }
            ],
        }
    )
    batch = decode(body, query={"firebase_app_id": "1:123:android:abc", "api_secret": "s"})
    [event] = batch.events
    assert event.anonymous_id == "app-1" and event.timestamp == T
    assert event.context == {
        "app_id": "1:123:android:abc",
        "device": "tablet",
        "location": {"country_id": "DE"},
        "consent": {"ad_user_data": True, "ad_personalization": False},
        "source": "ga4",
    }


def test_key_falls_back_to_the_stream_id():
    assert decode(request({"name": "x"}), query={"measurement_id": "G-1"}).key == "G-1"


def test_bad_events_are_quarantined():
    events = [
        {"name": "ok"},
        {"params": {}},
        {"name": "x", "params": []},
        {"name": "x", "timestamp_micros": "soon"},
        5,
    ]
    batch = decode(request(*events))
    assert [e.event for e in batch.events] == ["ok"]
    assert [(r.index, r.reasons) for r in batch.rejected] == [
        (1, ["`name` must be a non-empty string, got null"]),
        (2, ["`params` must be an object, got a list"]),
        (3, ["`timestamp_micros` must be microseconds, got 'soon'"]),
        (4, ["an event must be a JSON object, got a number"]),
    ]
    assert [r.item for r in batch.rejected] == events[1:]


def test_no_client_id_quarantines_every_event():
    batch = decode(msgspec.json.encode({"events": [{"name": "a"}, {"name": "b"}]}))
    assert batch.events == []
    assert [r.reasons for r in batch.rejected] == [
        ["the request has no `client_id` or `app_instance_id`"]
    ] * 2


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (b'{"events": [}', "body is not valid JSON at byte 12: invalid character", "body"),
        (
            b"[]",
            'body must be a JSON object (Measurement Protocol: {"events": [...]}), got a list',
            "body",
        ),
        (b'{"client_id": "c"}', "body is missing `events`, the list of events", "events"),
        (b'{"events": {}}', "`events` must be a list of events, got an object", "events"),
        (
            request(*[{"name": "x"}] * 26),
            "`events` has 26 events; "
            "the Measurement Protocol allows at most 25 per request: split it",
            "events",
        ),
        (
            request(timestamp_micros="x"),
            "`timestamp_micros` must be microseconds since the epoch, got 'x'",
            "timestamp_micros",
        ),
    ],
)
def test_undecodable_requests(body, message, field):
    with pytest.raises(DecodeError) as info:
        decode(body)
    assert (info.value.message, info.value.field) == (message, field)
