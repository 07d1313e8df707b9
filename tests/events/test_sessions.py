"""Derived sessions: 30 minutes of inactivity, deterministic ids, across batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microfunnel.errors import InputError
from microfunnel.events.model import Event
from microfunnel.events.sessions import Sessionizer, assign_sessions, session_id

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_thirty_minutes_of_inactivity_closes_a_session() -> None:
    rows = [("a", T0), ("a", T0 + 29 * MIN), ("a", T0 + 58 * MIN), ("a", T0 + 88 * MIN)]
    ids = assign_sessions(rows)
    assert ids[0] == ids[1] == ids[2]  # each gap under 30 minutes, however long the session
    assert ids[3] != ids[2]  # exactly 30 minutes of inactivity
    assert ids[0] == session_id("a", T0)
    assert ids[3] == session_id("a", T0 + 88 * MIN)
    assert len(ids[0]) == 32


def test_people_interleave_and_get_their_own_sessions() -> None:
    rows = [("a", T0), ("b", T0), ("a", T0 + MIN), ("b", T0 + 40 * MIN)]
    ids = assign_sessions(rows)
    assert ids[0] == ids[2] != ids[1] != ids[3]


def test_ids_are_deterministic_and_time_zone_independent() -> None:
    cet = timezone(timedelta(hours=1))
    assert session_id("a", T0) == session_id("a", T0.astimezone(cet))
    assert session_id("a", T0.replace(tzinfo=None)) == session_id("a", T0)
    assert session_id("a", T0) != session_id("b", T0)


def test_unsorted_rows_are_refused() -> None:
    with pytest.raises(InputError, match="Row 1: 'a' goes back in time"):
        assign_sessions([("a", T0), ("a", T0 - MIN)])


def test_custom_timeout_and_bad_settings() -> None:
    ids = assign_sessions([("a", T0), ("a", T0 + 10 * MIN)], timeout=timedelta(minutes=5))
    assert ids[0] != ids[1]
    with pytest.raises(InputError):
        Sessionizer(timeout=timedelta(0))
    with pytest.raises(InputError):
        Sessionizer(max_people=0)


def test_sessionizer_fills_only_missing_session_ids() -> None:
    s = Sessionizer()
    given_id = s.assign(Event(event="x", anonymous_id="a", session_id="client", timestamp=T0))
    assert given_id.session_id == "client"
    anon = s.assign(Event(event="x", anonymous_id="a", user_id="u", timestamp=T0))
    assert anon.session_id == session_id("a", T0)
    known = s.assign(Event(event="x", user_id="u", timestamp=T0))
    assert known.session_id == session_id("u", T0)
    nobody = s.assign(Event(event="x", timestamp=T0))  # no consent: cookieless, no session
    assert nobody.session_id is None
    untimed = s.assign(Event(event="x", anonymous_id="a"))
    assert untimed.session_id is None


def test_sessionizer_carries_sessions_across_batches_and_handles_late_events() -> None:
    s = Sessionizer()
    first = s.session_for("a", T0)
    assert s.session_for("a", T0 + 20 * MIN) == first  # next batch, same session
    assert s.session_for("a", T0 + 5 * MIN) == first  # late, inside the session
    assert s.session_for("a", T0 - 10 * MIN) == first  # late, within the timeout of its start
    stray = s.session_for("a", T0 - 2 * 60 * MIN)  # far older: a session of its own
    assert stray == session_id("a", T0 - 2 * 60 * MIN)
    assert s.session_for("a", T0 + 30 * MIN) == first  # the open session is unchanged
    assert s.session_for("a", T0 + 61 * MIN) != first


def test_sessionizer_is_bounded() -> None:
    s = Sessionizer(max_people=2)
    a = s.session_for("a", T0)
    s.session_for("b", T0)
    s.session_for("a", T0 + MIN)  # a is now the most recent
    s.session_for("c", T0)  # forgets b
    assert len(s) == 2
    assert s.session_for("a", T0 + 2 * MIN) == a
    assert s.session_for("b", T0 + 2 * MIN) == session_id("b", T0 + 2 * MIN)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, datetime]]:
    rows = []
    for person in draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=40)):
        rows.append((person, T0 + draw(st.integers(0, 6 * 60)) * MIN))
    return sorted(rows, key=lambda row: row[1])


@settings(max_examples=100, deadline=None)
@given(histories(), st.integers(1, 5))
def test_batches_give_the_same_ids_as_one_pass(rows: list[tuple[str, datetime]], n: int) -> None:
    expected = assign_sessions(rows)
    s = Sessionizer()
    size = max(1, len(rows) // n)
    got = []
    for start in range(0, len(rows), size):
        got.extend(s.session_for(p, t) for p, t in rows[start : start + size])
    assert got == expected
    # a session id changes exactly where that person's gap reaches the timeout
    last: dict[str, tuple[datetime, str]] = {}
    for (person, t), sid in zip(rows, expected, strict=True):
        if person in last:
            prev_t, prev_sid = last[person]
            assert (sid == prev_sid) == (t - prev_t < timedelta(minutes=30))
        last[person] = (t, sid)
