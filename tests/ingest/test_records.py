"""Spool records: events travel as one JSON array; records of the earlier layout still apply."""

from __future__ import annotations

import msgspec

from microfunnel.events.model import Event
from microfunnel.ingest.records import SpoolBatch, decode_batch, encode_batch, event_arrays


def test_events_travel_as_one_json_array() -> None:
    batch = SpoolBatch(events=[Event(event="view_item", event_id="1", properties={"v": 1})])
    record = decode_batch(encode_batch(batch))
    assert record.events == []
    assert msgspec.json.decode(event_arrays(record), type=list[Event]) == batch.events
    assert event_arrays(batch) == record.events_json  # the in-memory carry: encoded once


def test_a_record_of_the_earlier_layout_gives_the_same_array() -> None:
    events = [Event(event="purchase", event_id="2", properties={"value": 9.5})]
    earlier = msgspec.msgpack.encode({"events": events, "identities": [["a", "u"]]})
    record = decode_batch(earlier)
    assert msgspec.json.decode(event_arrays(record), type=list[Event]) == events
    assert record.identities == [("a", "u")]
    assert event_arrays(SpoolBatch()) == b""
