"""PostHog v0 and v1 capture, starting from what posthog-python sent."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import zstandard

from microfunnel.errors import DecodeError
from microfunnel.events.formats import posthog
from microfunnel.events.formats.common import decompress

T = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
URL = "https://shop.example.com/p/sku-123?utm_source=newsletter"
PROPERTIES = {"product_id": "SKU-123", "price": 19.99, "currency": "EUR", "device": "mobile"}
CONTEXT = {
    "page_url": URL,
    "page_path": "/p/sku-123",
    "utm_source": "newsletter",
    "user_agent": IPHONE,
    "ip": "203.0.113.7",
    "device": "mobile",
    "source": "posthog",
}


def decode(body: bytes, received_at: datetime = T) -> posthog.DecodedBatch:
    return posthog.decode(body, content_type="application/json", query={}, received_at=received_at)


def test_v0_capture(capture, received):
    batch = decode(capture.load("posthog").body, received)
    assert batch.key == "phc_TEST_PROJECT_KEY"
    assert batch.sent_at == datetime(2026, 11, 23, 14, 44, 15, 154943, tzinfo=UTC)
    [event] = batch.events
    assert event.event == "add_to_cart"
    assert event.event_id == "a2d6be88-9b46-4920-8716-394861e65195"
    assert (event.user_id, event.anonymous_id) == ("user-42", "anon-7f3c9a")  # rule 1
    assert event.timestamp == T  # sent 0.85 s before it arrived: latency, not skew
    assert event.properties == PROPERTIES  # $lib, $python_*, $os* (server) and $geoip_* are gone
    assert event.context == {**CONTEXT, "library": {"name": "posthog-python", "version": "7.91.1"}}


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
    ],
)
def test_v1_capture_with_each_compression(capture, received, encoding, compress):
    request = capture.load("posthog_v1")
    assert request.path == "/i/v1/analytics/events"
    batch = decode(decompress(compress(request.body), encoding), received)
    assert batch.key is None  # v1 sends the key as a Bearer header only
    sent = datetime(2026, 11, 23, 14, 44, 15, 210145, tzinfo=UTC)
    assert batch.sent_at == sent
    [event] = batch.events
    assert event.event_id == "9f392a3c-40ea-469f-bf7a-b28810780ff6"
    assert (event.event, event.user_id, event.anonymous_id) == (
        "add_to_cart",
        "user-42",
        "anon-7f3c9a",
    )
    assert event.timestamp == T and event.sent_at == sent
    assert event.properties == PROPERTIES
    assert event.context == CONTEXT  # no $lib in v1 properties


def test_skewed_client_clock_is_corrected(received):
    sent = received - timedelta(hours=2)
    body = msgspec.json.encode(
        {
            "api_key": "k",
            "sent_at": sent.isoformat(),
            "batch": [
                {
                    "event": "x",
                    "distinct_id": "d",
                    "timestamp": (sent - timedelta(seconds=9)).isoformat(),
                }
            ],
        }
    )
    assert decode(body, received).events[0].timestamp == received - timedelta(seconds=9)


def event(name: str, **properties) -> dict:
    return {
        "event": name,
        "distinct_id": "d-1",
        "uuid": "u-1",
        "timestamp": T.isoformat(),
        "properties": properties,
    }


def one(body: object) -> posthog.Event:
    batch = decode(msgspec.json.encode(body))
    assert batch.rejected == []
    [only] = batch.events
    return only


def test_pageview_single_event_body_with_token_as_key():
    batch = decode(
        msgspec.json.encode(
            event(
                "$pageview",
                token="phc_js",
                **{"$current_url": URL, "$referrer": "https://google.com/"},
            )
        )
    )
    [only] = batch.events
    assert batch.key == "phc_js"
    assert only.event == "page_view" and only.properties == {}
    assert (
        only.context["referrer"] == "https://google.com/"
        and only.context["page_path"] == "/p/sku-123"
    )


def test_list_body_and_offset_instead_of_timestamp():
    item = {
        "event": "$screen",
        "distinct_id": "d",
        "offset": 1500,
        "properties": {"$device_type": "Tablet"},
    }
    batch = decode(msgspec.json.encode([item]))
    [only] = batch.events
    assert only.event == "screen_view" and only.context["device"] == "tablet"
    assert only.timestamp == T - timedelta(milliseconds=1500)  # received (T) minus offset


def test_identify_with_set_and_set_once():
    only = one(
        event(
            "$identify",
            **{
                "$anon_distinct_id": "anon-1",
                "$set": {"plan": "gold"},
                "$set_once": {"first": 1, "plan": "free"},
            },
        )
    )
    assert (only.event, only.user_id, only.anonymous_id) == ("$identify", "d-1", "anon-1")
    assert only.properties == {"first": 1, "plan": "gold"}


def test_identify_without_anon_id_is_a_user():
    only = one(event("$identify"))
    assert (only.user_id, only.anonymous_id) == ("d-1", None)


def test_create_alias():
    only = one(event("$create_alias", alias="anon-9"))
    assert (only.event, only.properties, only.user_id) == (
        "$alias",
        {"previous_id": "anon-9"},
        None,
    )


def test_device_id_different_from_distinct_id_means_identified():
    only = one(
        event("view_item", **{"$device_id": "dev-1", "$session_id": "s-9", "utm_medium": "cpc"})
    )
    assert (only.user_id, only.anonymous_id, only.session_id) == ("d-1", "dev-1", "s-9")
    assert only.context["utm_medium"] == "cpc" and "$session_id" not in only.properties


def test_plain_distinct_id_is_anonymous_and_custom_dollar_keys_kept():
    only = one(
        event(
            "$feature_flag_called",
            **{"$feature_flag": "popup", "$feature_flag_response": "test", "$os": "iOS"},
        )
    )
    assert (only.user_id, only.anonymous_id) == (None, "d-1")
    assert only.properties == {
        "$feature_flag": "popup",
        "$feature_flag_response": "test",
        "$os": "iOS",
    }


def test_bad_events_are_quarantined():
    body = {
        "api_key": "k",
        "batch": [
            event("ok"),
            {"event": "", "distinct_id": "d"},
            {"event": "x"},
            {"event": "x", "distinct_id": "d", "properties": "nope"},
            {"event": "x", "distinct_id": "d", "timestamp": "later"},
            7,
        ],
    }
    batch = decode(msgspec.json.encode(body))
    assert [e.event for e in batch.events] == ["ok"]
    assert [(r.index, r.reasons) for r in batch.rejected] == [
        (1, ["`event` must be a non-empty string, got a string"]),
        (2, ["`distinct_id` must be a non-empty string, got null"]),
        (3, ["`properties` must be an object, got a string"]),
        (
            4,
            [
                "`timestamp` is not a time: "
                "expected an ISO-8601 time or epoch milliseconds, got 'later'"
            ],
        ),
        (5, ["an event must be a JSON object, got a number"]),
    ]
    assert (
        batch.rejected[0].item == {"event": "", "distinct_id": "d"}
        or batch.rejected[0].item["event"] == ""
    )


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (b"nul", "body is not valid JSON: it ends early at byte 3", "body"),
        (
            b'"x"',
            "body must be a JSON object "
            '(an event, a list of events, or {"batch": [...]}), got a string',
            "body",
        ),
        (b'{"batch": null}', "`batch` must be a list of events, got null", "batch"),
        (
            b'{"batch": [], "sent_at": "?"}',
            "`sent_at` is not a time: expected an ISO-8601 time or epoch milliseconds, got '?'",
            "sent_at",
        ),
    ],
)
def test_undecodable_bodies(body, message, field):
    with pytest.raises(DecodeError) as info:
        decode(body)
    assert (info.value.message, info.value.field) == (message, field)
