"""RecentIds: retries are recognised for at least the most recent half of its capacity."""

from __future__ import annotations

from microfunnel.events.model import Event
from microfunnel.ingest.pipeline import RecentIds


def test_the_most_recent_half_of_capacity_is_always_remembered() -> None:
    recent = RecentIds(capacity=100)
    added: list[str] = []
    for batch in range(40):
        ids = [f"e{batch}-{i}" for i in range(7)]
        recent.add(ids)
        added += ids
        assert all(recent.seen(i) for i in added[-50:])
        assert recent.count_seen(added[-50:]) == len(added[-50:])
        assert len(recent) <= 100 + 7
    assert not recent.seen("e0-0")
    assert recent.count_seen(["e0-0", "never"]) == 0


def test_count_seen_counts_each_entry_even_when_ids_repeat() -> None:
    recent = RecentIds(capacity=10)
    recent.add(["a", "b"])
    assert recent.count_seen(["a", "a", "x", "b"]) == 3
    assert recent.count_seen(iter(["a", "x"])) == 1
    assert recent.count_seen([]) == 0


def test_fresh_drops_remembered_ids_and_repeats_within_the_batch() -> None:
    recent = RecentIds(capacity=10)
    recent.add(["old"])
    events = [Event(event="e", event_id=i) for i in ("old", "new", "new", "other")]
    out, left_out = recent.fresh(events)
    assert [e.event_id for e in out] == ["new", "other"] and left_out == 2


def test_capacity_zero_remembers_nothing_but_still_drops_repeats_in_a_batch() -> None:
    recent = RecentIds(capacity=0)
    recent.add(["a"])
    assert not recent.seen("a") and recent.count_seen(["a"]) == 0
    out, left_out = recent.fresh([Event(event="e", event_id="a")] * 2)
    assert len(out) == 1 and left_out == 1


def test_a_batch_of_new_distinct_ids_comes_back_whole() -> None:
    recent = RecentIds(capacity=10)
    recent.add(["old"])
    events = [Event(event="e", event_id=i) for i in ("a", "b", "c")]
    out, left_out = recent.fresh(events)
    assert out == events and out is not events and left_out == 0
