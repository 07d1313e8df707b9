"""Property tests on every decoder: nothing but DecodeError escapes, and good events round-trip."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microfunnel.errors import DecodeError
from microfunnel.events.formats import ga4, native, posthog, segment, snowplow

RECEIVED = datetime(2026, 11, 23, 14, 44, 16, tzinfo=UTC)
DECODERS = {
    "native": native.decode,
    "segment": segment.decode,
    "posthog": posthog.decode,
    "snowplow": snowplow.decode,
    "ga4": ga4.decode,
}
# Every decoder gets these on each run: enough to find the classic crashes, fast enough for CI.
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(FAST, max_examples=40)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Keys the decoders look for, so generated objects reach past the first type check.
KEYS = [
    "batch", "event", "events", "sent_at", "sentAt", "timestamp", "type", "properties", "context",
    "distinct_id", "uuid", "messageId", "userId", "anonymousId", "api_key", "data", "schema", "e",
    "ue_px", "ue_pr", "cx", "co", "client_id", "params", "name", "created_at", "traits",
    "event_id", "user_id", "anonymous_id", "session_id", "writeKey", "dtm", "stm", "eid",
]  # fmt: skip
shaped = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=6)
    ),
    max_leaves=30,
)


def run(name: str, body: bytes, query: dict[str, str] | None = None) -> None:
    try:
        DECODERS[name](
            body, content_type="application/json", query=query or {}, received_at=RECEIVED
        )
    except DecodeError as exc:
        assert exc.message and exc.field


@pytest.mark.parametrize("name", DECODERS)
@FAST
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_decode_error(name, body):
    run(name, body)


@pytest.mark.parametrize("name", DECODERS)
@FAST
@given(value=json_values)
def test_arbitrary_json_only_raises_decode_error(name, value):
    run(name, msgspec.json.encode(value))


@pytest.mark.parametrize("name", DECODERS)
@FAST
@given(
    value=shaped,
    query=st.dictionaries(st.sampled_from(["api_secret", "measurement_id"]), st.text(max_size=5)),
)
def test_json_shaped_like_the_format_only_raises_decode_error(name, value, query):
    run(name, msgspec.json.encode(value), query)


ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
props = st.dictionaries(
    st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8),
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    max_size=5,
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


class Generated(msgspec.Struct):
    event: str
    event_id: str
    anonymous_id: str
    user_id: str | None
    timestamp: datetime
    properties: dict[str, Any]


events = st.builds(
    Generated,
    event=names,
    event_id=ids,
    anonymous_id=ids,
    user_id=st.none() | ids,
    timestamp=times,
    properties=props,
)


def check_round_trip(sent: list[Generated], decoded: Any, skew_seconds: int) -> None:
    # Up to 2 s is network latency and left alone (model.SKEW_TOLERANCE).
    skew = timedelta(seconds=skew_seconds) if abs(skew_seconds) > 2 else timedelta(0)
    assert decoded.rejected == []
    assert len(decoded.events) == len(sent)
    for want, got in zip(sent, decoded.events, strict=True):
        assert (got.event, got.event_id) == (want.event, want.event_id)
        assert (got.anonymous_id, got.user_id) == (want.anonymous_id, want.user_id)
        assert got.timestamp == want.timestamp + skew
        assert got.properties == want.properties
        assert got.received_at == RECEIVED


@ROUND_TRIP
@given(sent=st.lists(events, min_size=1, max_size=5), skew=st.integers(-7200, 7200))
def test_native_round_trip(sent, skew):
    sent_at = RECEIVED - timedelta(seconds=skew)
    body = msgspec.json.encode({"batch": sent, "sent_at": sent_at})
    decoded = native.decode(body, content_type=None, query={}, received_at=RECEIVED)
    check_round_trip(sent, decoded, skew)


@ROUND_TRIP
@given(sent=st.lists(events, min_size=1, max_size=5), skew=st.integers(-7200, 7200))
def test_segment_round_trip(sent, skew):
    sent_at = RECEIVED - timedelta(seconds=skew)
    batch = [
        {
            "type": "track",
            "event": e.event,
            "messageId": e.event_id,
            "anonymousId": e.anonymous_id,
            "userId": e.user_id,
            "timestamp": e.timestamp,
            "properties": e.properties,
        }
        for e in sent
    ]
    body = msgspec.json.encode({"batch": batch, "sentAt": sent_at, "writeKey": "k"})
    decoded = segment.decode(body, content_type=None, query={}, received_at=RECEIVED)
    check_round_trip(sent, decoded, skew)
    assert decoded.key == "k"


@ROUND_TRIP
@given(sent=st.lists(events, min_size=1, max_size=5), skew=st.integers(-7200, 7200))
def test_posthog_round_trip(sent, skew):
    sent_at = RECEIVED - timedelta(seconds=skew)
    batch = [
        {
            "event": e.event,
            "uuid": e.event_id,
            "distinct_id": e.user_id or e.anonymous_id,
            "timestamp": e.timestamp,
            "properties": {**e.properties, "$anon_distinct_id": e.anonymous_id, "$lib": "js"},
        }
        for e in sent
    ]
    body = msgspec.json.encode({"batch": batch, "sent_at": sent_at, "api_key": "phc"})
    decoded = posthog.decode(body, content_type=None, query={}, received_at=RECEIVED)
    # Where distinct_id is the device id itself, the event is anonymous (rule 4).
    sent = [
        e if e.user_id != e.anonymous_id else msgspec.structs.replace(e, user_id=None) for e in sent
    ]
    check_round_trip(sent, decoded, skew)
    assert decoded.key == "phc"


def millis(t: datetime) -> str:
    return str(int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1)))


@ROUND_TRIP
@given(sent=st.lists(events, min_size=1, max_size=5), skew=st.integers(-7200, 7200))
def test_snowplow_round_trip(sent, skew):
    device_sent = RECEIVED - timedelta(seconds=skew)
    data = [
        {
            "e": "ue",
            "eid": e.event_id,
            "duid": e.anonymous_id,
            **({"uid": e.user_id} if e.user_id else {}),
            "dtm": millis(e.timestamp),
            "stm": millis(device_sent),
            "ue_px": base64.urlsafe_b64encode(
                msgspec.json.encode(
                    {
                        "schema": "iglu:x/u/jsonschema/1-0-0",
                        "data": {
                            "schema": f"iglu:shop/{e.event}/jsonschema/1-0-0",
                            "data": e.properties,
                        },
                    }
                )
            ).decode(),
        }
        for e in sent
    ]
    body = msgspec.json.encode({"schema": "iglu:a/payload_data/jsonschema/1-0-4", "data": data})
    decoded = snowplow.decode(body, content_type=None, query={}, received_at=RECEIVED)
    check_round_trip(sent, decoded, skew)


@ROUND_TRIP
@given(sent=st.lists(events, min_size=1, max_size=5))
def test_ga4_round_trip(sent):
    # One request is one client; GA4 has no event id, send time or skew correction.
    for e in sent:
        body = msgspec.json.encode(
            {
                "client_id": e.anonymous_id,
                **({"user_id": e.user_id} if e.user_id else {}),
                "timestamp_micros": millis(e.timestamp) + "000",
                "events": [{"name": e.event, "params": e.properties}],
            }
        )
        decoded = ga4.decode(
            body, content_type=None, query={"api_secret": "s"}, received_at=RECEIVED
        )
        [got] = decoded.events
        assert (got.event, got.anonymous_id, got.user_id) == (e.event, e.anonymous_id, e.user_id)
        assert got.timestamp == e.timestamp and got.properties == e.properties
        again = ga4.decode(
            body, content_type=None, query={}, received_at=RECEIVED + timedelta(hours=1)
        )
        assert again.events[0].event_id == got.event_id
