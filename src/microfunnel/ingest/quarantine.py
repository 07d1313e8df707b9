"""Quarantine replay: re-validate quarantined events against the current plan, exactly once."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from microfunnel.events.model import Event
from microfunnel.events.plan import TrackingPlan
from microfunnel.store.base import Store

__all__ = ["ReplayResult", "replay_quarantine"]


@dataclass(frozen=True)
class ReplayResult:
    replayed: int
    still_failing: int
    plan_version: int


def replay_quarantine(store: Store, plan: TrackingPlan, *, limit: int = 1_000_000) -> ReplayResult:
    """Move every quarantined event that now passes ``plan`` into ``events``.

    Rows are flagged as replayed after their events are stored; a crash in between replays them
    again and the event_id dedupe keeps the result exactly once.
    """
    passed: list[Event] = []
    failing = 0
    for row in store.quarantine_rows(limit):
        try:
            event = msgspec.convert(row["raw"], Event)
        except msgspec.ValidationError:
            failing += 1  # not an event at all (e.g. an undecodable item): stays quarantined
            continue
        if plan.validate(event):
            failing += 1
            continue
        event.plan_version = plan.version
        passed.append(event)
    if passed:
        store.insert_events(passed)
        store.mark_replayed([e.event_id for e in passed])
    return ReplayResult(len(passed), failing, plan.version)
