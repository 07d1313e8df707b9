"""Snowplow tracker protocol, starting from what snowplow-tracker sent."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from microfunnel.errors import DecodeError
from microfunnel.events.formats import snowplow

T = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
URL = "https://shop.example.com/p/sku-123?utm_source=newsletter"
PAYLOAD = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
ADD_TO_CART = "iglu:com.example.shop/add_to_cart/jsonschema/1-0-0"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"


def ms(t: datetime) -> str:
    return str(round(t.timestamp() * 1000))


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).decode().rstrip("=")


def decode(body: bytes, received_at: datetime = T, query=None) -> snowplow.DecodedBatch:
    return snowplow.decode(
        body, content_type="application/json", query=query or {}, received_at=received_at
    )


def test_post_capture_page_view_and_self_describing_event(capture, received):
    request = capture.load("snowplow")
    assert request.path == "/com.snowplowanalytics.snowplow/tp2"
    batch = decode(request.body, received)
    assert batch.rejected == [] and batch.key is None
    assert batch.sent_at == datetime(2026, 11, 23, 14, 44, 23, tzinfo=UTC)  # stm
    page_view, add_to_cart = batch.events
    common_context = {
        "page_url": URL,
        "page_path": "/p/sku-123",
        "utm_source": "newsletter",
        "user_agent": IPHONE,
        "ip": "203.0.113.7",
        "app_id": "shop",
        "library": {"name": "snowplow-python-tracker", "version": "1.1.0"},
        "device": "mobile",  # p=pc is the tracker's default; the iPhone UA says more
        "source": "snowplow",
    }
    assert page_view.event == "page_view"
    assert page_view.event_id == "a4f23dc7-da4e-47b4-b0b5-e28852e36b0c"
    assert (page_view.user_id, page_view.anonymous_id) == ("user-42", "anon-7f3c9a")
    # ttm, a time the application supplied, is taken as is (Snowplow's rule), not skew-corrected
    # although the device clock (dtm/stm) runs 7 s ahead of the server.
    assert page_view.timestamp == T - timedelta(seconds=5)
    assert page_view.properties == {"page_title": "SKU-123"}
    assert page_view.context == common_context
    assert add_to_cart.event == "add_to_cart"
    assert add_to_cart.event_id == "27fa2b68-845a-48e0-a245-d4effe9ad3c5"
    assert add_to_cart.timestamp == T
    assert add_to_cart.properties == {
        "product_id": "SKU-123",
        "price": 19.99,
        "currency": "EUR",
        "device": "mobile",
    }
    # The URL came in a custom context entity; the entity is kept too.
    assert add_to_cart.context == {
        **common_context,
        "entities": [
            {"schema": "iglu:com.example.shop/page/jsonschema/1-0-0", "data": {"url": URL}}
        ],
    }


def ue(name_schema: str, data: dict) -> dict:
    return {"schema": UNSTRUCT, "data": {"schema": name_schema, "data": data}}


def test_get_query_with_device_times_is_corrected_for_skew():
    received = T
    # device clock 1 hour ahead: created at device 13:34:50, sent at device 13:34:56.789
    device_sent = T + timedelta(hours=1)
    query = {
        "e": "ue",
        "eid": "e-1",
        "duid": "d-1",
        "nuid": "n-1",
        "sid": "s-1",
        "p": "mob",
        "tv": "js-3.1.0",
        "ue_px": b64(ue(ADD_TO_CART, {"sku": "A", "quantity": 2})),
        "cx": b64(
            {
                "schema": CONTEXTS,
                "data": [{"schema": "iglu:x/y/jsonschema/1-0-0", "data": {"k": 1}}],
            }
        ),
        "dtm": ms(device_sent - timedelta(seconds=6.789)),
        "stm": ms(device_sent),
    }
    batch = decode(b"", received, query)
    [event] = batch.events
    assert event.timestamp == T - timedelta(seconds=6.789)
    assert (event.anonymous_id, event.session_id, event.user_id) == ("d-1", "s-1", None)
    assert event.properties == {"sku": "A", "quantity": 2}
    assert event.context["device"] == "mobile"
    assert event.context["library"] == {"name": "snowplow-javascript-tracker", "version": "3.1.0"}
    assert event.context["entities"] == [{"schema": "iglu:x/y/jsonschema/1-0-0", "data": {"k": 1}}]


def test_plain_json_ue_pr_and_co():
    item = {
        "e": "ue",
        "eid": "e",
        "nuid": "n-1",
        "ue_pr": msgspec.json.encode(ue(ADD_TO_CART, {"a": 1})).decode(),
        "co": msgspec.json.encode({"schema": CONTEXTS, "data": []}).decode(),
    }
    [event] = decode(msgspec.json.encode({"schema": PAYLOAD, "data": [item]})).events
    assert (event.event, event.anonymous_id, event.properties) == ("add_to_cart", "n-1", {"a": 1})
    assert "entities" not in event.context and event.timestamp == T


def test_structured_event_and_page_ping():
    items = [
        {
            "e": "se",
            "se_ca": "Checkout",
            "se_ac": "Apply Coupon",
            "se_la": "SPRING",
            "se_va": "5.5",
        },
        {"e": "pp", "pp_mix": "0", "pp_max": "10", "pp_miy": "-3", "pp_may": "900", "url": URL},
    ]
    structured, ping = decode(msgspec.json.encode({"schema": PAYLOAD, "data": items})).events
    assert structured.event == "apply_coupon"
    assert structured.properties == {
        "category": "Checkout",
        "action": "Apply Coupon",
        "label": "SPRING",
        "value": 5.5,
    }
    assert ping.event == "page_ping"
    assert ping.properties == {"pp_mix": 0, "pp_max": 10, "pp_miy": -3, "pp_may": 900}
    assert ping.context["page_path"] == "/p/sku-123"


def test_bad_events_are_quarantined_as_sent():
    items = [
        {"e": "pv"},
        {"e": "tr", "tr_id": "1"},
        {"e": "se", "se_ca": "only category"},
        {"e": "ue", "ue_px": "%%%not base64"},
        {"e": "ue", "ue_pr": '{"schema": "x", "data": {"schema": "not-iglu", "data": []}}'},
        {"e": "ue"},
        {"e": "pv", "dtm": "soon"},
        ["not", "an", "object"],
    ]
    batch = decode(msgspec.json.encode({"schema": PAYLOAD, "data": items}))
    assert [e.event for e in batch.events] == ["page_view"]
    reasons = [(r.index, r.reasons) for r in batch.rejected]
    assert reasons[0] == (1, ["`e` must be pv, pp, se or ue, got 'tr'"])
    assert reasons[1] == (2, ["a structured event (e=se) needs `se_ca` and `se_ac`"])
    assert reasons[2][0] == 3 and reasons[2][1][0].startswith("`ue_px` is not base64-encoded JSON")
    assert reasons[3] == (
        4,
        [
            "the event schema must look like iglu:vendor/name/jsonschema/1-0-0, got 'not-iglu'",
            "the event's `data` must be an object, got a list",
        ],
    )
    assert reasons[4] == (5, ["a self-describing event (e=ue) needs `ue_px` or `ue_pr`"])
    assert reasons[5] == (6, ["`dtm` is not a time: expected epoch milliseconds, got 'soon'"])
    assert reasons[6] == (7, ["an event must be a JSON object, got a list"])
    assert [r.item for r in batch.rejected] == items[1:]


@pytest.mark.parametrize(
    ("body", "query", "message", "field"),
    [
        (
            b"",
            {},
            "no event: POST a payload_data JSON body, or GET /i with `e` in the query",
            "body",
        ),
        (b"{", {}, "body is not valid JSON: it ends early at byte 1", "body"),
        (b"{}", {}, "body is missing `data`, the list of events", "data"),
        (b'{"data": "x"}', {}, "`data` must be a list of events, got a string", "data"),
        (
            b'{"schema": "iglu:a/b/jsonschema/1-0-0", "data": []}',
            {},
            "`schema` must be a payload_data schema, got 'iglu:a/b/jsonschema/1-0-0'",
            "schema",
        ),
        (
            b"[]",
            {},
            'body must be a JSON object (payload_data: {"schema": ..., "data": [...]}), got a list',
            "body",
        ),
    ],
)
def test_undecodable_requests(body, query, message, field):
    with pytest.raises(DecodeError) as info:
        decode(body, query=query)
    assert (info.value.message, info.value.field) == (message, field)
