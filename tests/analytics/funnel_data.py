"""Hand-made events for funnel tests: a person's timeline in a line of code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from microfunnel.events.model import Event
from microfunnel.store.base import Store

T0 = datetime(2024, 5, 1, 12, 0, 0)


def ev(
    person: str,
    event: str,
    seconds: float,
    *,
    device: str = "desktop",
    session: str | None = None,
    props: dict[str, Any] | None = None,
    eid: str | None = None,
    bot: bool = False,
) -> Event:
    ts = T0 + timedelta(seconds=seconds)
    ctx: dict[str, Any] = {"device": device}
    if bot:
        ctx["is_bot"] = True
    return Event(
        event_id=eid or f"{person}-{event}-{seconds}-{len(props or {})}-{id(ctx)}",
        event=event,
        anonymous_id=person,
        session_id=session or f"{person}-s1",
        timestamp=ts,
        received_at=ts,
        properties=props or {},
        context=ctx,
    )


def load(store: Store, events: Sequence[Event]) -> Store:
    store.insert_events(list(events))
    return store
