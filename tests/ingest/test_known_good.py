"""Properties the ingestor has seen scrubbed and accepted are not walked again: the outcome is
the same as walking every event (what is stored, what is quarantined and why)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microfunnel.events.formats import native
from microfunnel.events.formats.common import DecodedBatch
from microfunnel.events.model import utcnow
from microfunnel.events.plan import TrackingPlan
from microfunnel.events.privacy import PrivacySettings
from microfunnel.ingest.pipeline import Ingestor, RecentIds, _KnownGood
from microfunnel.ingest.records import event_arrays

_TEXT = st.sampled_from(
    ["EUR", "eur", "", "sku-1", "Linen shirt", "ada@example.com", "call 415-555-2671",
     "4111 1111 1111 1111", "/p?email=a%40b.co", "https://s.example/p?utm_source=g", "12345"]
)  # fmt: skip
_VALUE = st.recursive(
    st.none() | st.booleans() | st.sampled_from([0, 1, -1, 2**40]) | _TEXT
    | st.sampled_from([0.0, -0.0, 1.0, 19.99, -2.5]),
    lambda inner: st.lists(inner, max_size=2)
    | st.dictionaries(st.sampled_from(["item_id", "item_name", "price", "quantity"]), inner),
    max_leaves=6,
)  # fmt: skip
_PROPERTIES = st.dictionaries(
    st.sampled_from(["currency", "value", "items", "note", "Bad Name", "previous_id"]),
    _VALUE,
    max_size=4,
)
_NAME = st.sampled_from(["view_item", "add_to_cart", "sign_up", "unknown_thing"])


_PLAN = TrackingPlan.default()
_NOW = utcnow()


def _ingestor() -> Ingestor:
    return Ingestor(_PLAN, PrivacySettings(), None, recent=RecentIds(capacity=0))


def _decode(events: list[dict[str, Any]]) -> DecodedBatch:
    body = json.dumps({"batch": events}).encode()
    return native.decode(body, content_type=None, query={}, received_at=_NOW)


def _outcome(ingestor: Ingestor, batch: DecodedBatch) -> tuple[Any, ...]:
    out = ingestor.prepare(batch).batch
    quarantined = [(q.event_id, q.reasons, q.raw) for q in out.quarantine]
    return json.loads(event_arrays(out) or b"[]"), quarantined


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAME, _PROPERTIES), min_size=1, max_size=6))
def test_known_good_properties_give_the_outcome_of_walking_them(
    items: list[tuple[str, dict[str, Any]]],
) -> None:
    events = [
        {"event": name, "event_id": f"e{i}", "properties": props}
        for i, (name, props) in enumerate(items)
    ]
    remembering, walking = _ingestor(), _ingestor()
    for _ in range(2):  # the second time, what the first accepted is known good
        batch = _decode(events)
        reference = _decode(events)
        reference.plain_properties = False
        assert _outcome(remembering, batch) == _outcome(walking, reference)


def test_a_new_plan_forgets_what_the_old_one_accepted() -> None:
    ingestor = _ingestor()
    event = {"event": "view_item", "properties": {"currency": "EUR", "value": 1, "items": [{}]}}
    ingestor.plan = TrackingPlan.from_dict(
        {"version": 2, "events": {"view_item": {"required": {}}}}
    )
    assert _outcome(ingestor, _decode([event]))[0]
    ingestor.plan = _PLAN
    assert _outcome(ingestor, _decode([event]))[1]


def test_pii_is_scrubbed_every_time_whatever_was_seen_before() -> None:
    ingestor = _ingestor()
    clean = {"event": "sign_up", "properties": {"note": "hello there"}}
    dirty = {"event": "sign_up", "properties": {"note": "mail ada@example.com"}}
    for _ in range(3):
        events, _ = _outcome(ingestor, _decode([clean, dirty]))
        assert [e["properties"]["note"] for e in events] == ["hello there", "mail [email]"]


def test_lookups_rest_while_properties_do_not_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_KnownGood, "TRIAL", 20)
    monkeypatch.setattr(_KnownGood, "REST", 30)
    ingestor = _ingestor()
    known = ingestor._known_good

    def purchases(first: int) -> list[dict[str, Any]]:
        return [{"event": "sign_up", "properties": {"n": first + i}} for i in range(10)]

    _outcome(ingestor, _decode(purchases(0)))
    _outcome(ingestor, _decode(purchases(10)))  # 20 tried, none repeated: rest
    assert known.resting == 30 and known.tried == 0
    size = len(known.keys)
    events, _ = _outcome(ingestor, _decode(purchases(20)))
    assert len(events) == 10 and len(known.keys) == size and known.resting == 20
    for first in (30, 40):
        _outcome(ingestor, _decode(purchases(first)))
    assert known.resting == 0
    _outcome(ingestor, _decode(purchases(0)))  # looked up again, and all known
    assert known.hits == 10 and known.tried == 10
