"""The one Event every wire format decodes into.

Times are timezone-aware UTC ``datetime`` objects. ``timestamp`` is the event time already
corrected for client clock skew: when a client says when it sent the batch (``sent_at``), the
server's ``received_at - sent_at`` is added to the client's event time (Segment's and Snowplow's
server-side rule).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

__all__ = ["Event", "correct_skew", "new_event_id", "utcnow"]

# Skew smaller than this is network latency, not a wrong clock: leave the time alone.
SKEW_TOLERANCE = timedelta(seconds=2)


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One thing a shopper did.

    ``context`` holds well-known keys: ``page_path``, ``page_url``, ``referrer``, ``utm_source``,
    ``utm_medium``, ``utm_campaign``, ``device`` (mobile/desktop/tablet), ``user_agent``, ``ip``,
    ``library``, ``consent`` ({"analytics": bool}), ``source`` (the wire format), ``is_bot``.
    """

    event: str
    event_id: str = ""
    anonymous_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    timestamp: datetime | None = None
    sent_at: datetime | None = None
    received_at: datetime | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    plan_version: int | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if value.tzinfo is UTC:  # what every decoder gives for "...Z": nothing to do
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def correct_skew(event: Event, received_at: datetime | None = None) -> Event:
    """Fill ids and times: event_id, received_at, and timestamp corrected for clock skew."""
    return skew_corrected(event, as_utc(received_at or event.received_at or utcnow()))


def skew_corrected(event: Event, received: datetime) -> Event:
    """``correct_skew`` with the receive time already in UTC: decoders convert it once for a
    whole batch, not once per event."""
    event.received_at = received
    if not event.event_id:
        event.event_id = new_event_id()
    ts, sent = event.timestamp, event.sent_at
    if sent is not None and sent.tzinfo is not UTC:
        sent = as_utc(sent)
    if ts is None:
        ts = received
    else:
        if ts.tzinfo is not UTC:
            ts = as_utc(ts)
        if sent is not None:
            skew = received - sent
            if abs(skew) > SKEW_TOLERANCE:
                ts = ts + skew
    event.timestamp = ts
    event.sent_at = sent
    return event
