"""Sessions for events whose client sent none: 30 minutes of inactivity closes a session.

A session id is a hash of the person and the session's first timestamp, so the same events always
get the same ids, in one batch or across many::

    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, 12, 0)
    >>> ids = assign_sessions([("a", t0), ("a", t0 + timedelta(minutes=10)),
    ...                        ("a", t0 + timedelta(minutes=50))])
    >>> ids[0] == ids[1] != ids[2]
    True
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from microfunnel.errors import InputError
from microfunnel.events.model import Event

__all__ = ["SESSION_TIMEOUT", "Sessionizer", "assign_sessions", "session_id"]

SESSION_TIMEOUT = timedelta(minutes=30)


def _micros(value: datetime) -> int:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return int((aware - _EPOCH) // _MICROSECOND)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def session_id(person: str, start: datetime) -> str:
    """The id of ``person``'s session that began at ``start``: 32 hex characters."""
    return _session_id(person, _micros(start))


def _session_id(person: str, start_us: int) -> str:
    return hashlib.blake2b(f"{person}\x1f{start_us}".encode(), digest_size=16).hexdigest()


class Sessionizer:
    """Session ids across batches: remembers each person's open session, least recent forgotten.

    A person is keyed by anonymous id, else user id. Forgetting a person whose session is still
    open (more than ``max_people`` people active at once) starts a new session at their next event.
    An event older than the open session's start by more than the timeout gets a session of its own.
    """

    def __init__(self, timeout: timedelta = SESSION_TIMEOUT, max_people: int = 200_000):
        if timeout <= timedelta(0) or max_people < 1:
            raise InputError("Sessionizer needs a positive timeout and max_people >= 1.")
        self.timeout = timeout
        self.max_people = max_people
        # person -> (session start, last seen, session id), least recently used first; times
        # are aware datetimes, compared as they are (turning each into microseconds costs more
        # than the rest of an event's session work)
        self._open: OrderedDict[str, tuple[datetime, datetime, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def session_for(self, person: str, timestamp: datetime) -> str:
        """The session id of ``person``'s event at ``timestamp`` (naive times are UTC)."""
        at = timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp
        opened = self._open
        state = opened.get(person)
        if state is not None:
            start, last, sid = state
            if at >= last:
                if at - last < self.timeout:
                    opened[person] = (start, at, sid)
                    opened.move_to_end(person)
                    return sid
            elif start - at < self.timeout:
                return sid  # late, but within the open session
            else:
                return _session_id(person, _micros(at))
        sid = _session_id(person, _micros(at))
        opened[person] = (at, at, sid)
        opened.move_to_end(person)
        if len(opened) > self.max_people:
            opened.popitem(last=False)
        return sid

    def assign(self, event: Event) -> Event:
        """Fill ``event.session_id`` when the client sent none and the event has a person."""
        person = event.anonymous_id or event.user_id
        timestamp = event.timestamp
        if event.session_id is None and person and timestamp is not None:
            event.session_id = self.session_for(person, timestamp)
        return event


def assign_sessions(
    rows: Sequence[tuple[str, datetime]], timeout: timedelta = SESSION_TIMEOUT
) -> list[str]:
    """Session ids for (person, timestamp) rows, each person's rows in time order.

    Rows of different people may interleave. A gap of ``timeout`` or more starts a new session.
    """
    sessions = Sessionizer(timeout, max_people=max(len(rows), 1))
    last_seen: dict[str, int] = {}
    out = []
    for index, (person, timestamp) in enumerate(rows):
        at = _micros(timestamp)
        if at < last_seen.get(person, at):
            raise InputError(
                f"Row {index}: {person!r} goes back in time ({timestamp.isoformat()}); "
                "sort rows by person and timestamp first.",
                field="rows",
            )
        last_seen[person] = at
        out.append(sessions.session_for(person, timestamp))
    return out
