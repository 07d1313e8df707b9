"""The same store behaviour on DuckDB and on ClickHouse (chdb)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from microfunnel.events.model import Event, correct_skew
from microfunnel.store.base import QuarantineRecord, Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _naive(value: datetime) -> datetime:
    """A time as naive UTC (engines return naive or aware UTC times)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def ev(i: int, name: str = "view_item", **kw: object) -> Event:
    e = Event(
        event=name,
        event_id=f"e{i}",
        anonymous_id=kw.pop("anonymous_id", f"a{i % 3}"),  # type: ignore[arg-type]
        timestamp=T0 + timedelta(seconds=i),
        properties={"value": 10.0 + i, "currency": "EUR"},
        context={"device": "mobile", "page_path": "/p"},
        **kw,  # type: ignore[arg-type]
    )
    return correct_skew(e, T0 + timedelta(seconds=i))


def test_insert_dedupes_within_and_across_batches(store: Store) -> None:
    r1 = store.insert_events([ev(1), ev(2), ev(2)])
    assert (r1.inserted, r1.duplicates) == (2, 1)
    r2 = store.insert_events([ev(2), ev(3)])
    assert (r2.inserted, r2.duplicates) == (1, 1)
    assert store.count_events() == 3
    assert store.count_events("view_item") == 3
    assert store.count_events("purchase") == 0


def test_lifted_columns_and_times_round_trip(store: Store) -> None:
    store.insert_events([ev(5)])
    row = store.query(
        "SELECT event_id, device, page_path, value, currency, timestamp FROM events"
    ).to_pylist()[0]
    assert row["device"] == "mobile" and row["page_path"] == "/p"
    assert row["value"] == 15.0 and row["currency"] == "EUR"
    assert row["timestamp"].replace(tzinfo=None) == (T0 + timedelta(seconds=5)).replace(tzinfo=None)


def test_identity_merge_repoints_past_and_future_events(store: Store) -> None:
    store.insert_events([ev(1, anonymous_id="anon-x"), ev(2, anonymous_id="anon-x")])
    assert store.merge_identity("anon-x", "user-1") == 2
    store.insert_events([ev(3, anonymous_id="anon-x")])
    persons = set(store.query("SELECT DISTINCT person_id FROM events").column(0).to_pylist())
    assert persons == {"user-1"}


def test_quarantine_keeps_reasons_and_replay_flag(store: Store) -> None:
    rec = QuarantineRecord(
        event_id="q1",
        event="Add To Cart",
        received_at=T0,
        reasons=["not snake_case", "missing currency"],
        raw={"event": "Add To Cart"},
        plan_version=1,
    )
    assert store.insert_quarantine([rec, rec]) == 1
    rows = store.quarantine_rows()
    assert rows[0]["reasons"] == ["not snake_case", "missing currency"]
    store.mark_replayed(["q1"])
    assert store.quarantine_rows() == []
    assert len(store.quarantine_rows(pending_only=False)) == 1


def test_quarantine_lists_oldest_first_for_replay_and_newest_first_for_people(
    store: Store,
) -> None:
    store.insert_quarantine(
        [
            QuarantineRecord(
                event_id=f"q{minute}",
                event="x",
                received_at=T0 + timedelta(minutes=minute),
                reasons=["r"],
                raw={"event": "x"},
                plan_version=1,
            )
            for minute in (2, 0, 1)
        ]
    )
    assert [r["event_id"] for r in store.quarantine_rows(2)] == ["q0", "q1"]
    assert [r["event_id"] for r in store.quarantine_rows(2, newest_first=True)] == ["q2", "q1"]


def test_quarantine_problems_group_alike_events_largest_first(store: Store) -> None:
    def record(n: int, event: str | None, reason: str, minute: int) -> QuarantineRecord:
        return QuarantineRecord(
            event_id=f"p{n}",
            event=event,
            received_at=T0 + timedelta(minutes=minute),
            reasons=[reason, "second reason"],
            raw={"event": event},
            plan_version=2,
        )

    store.insert_quarantine(
        [record(n, "checkout_error", "card_declined", n) for n in range(3)]
        + [record(3, "checkout_error", "payment_timeout", 9), record(4, None, "no name", 5)]
        + [record(5, "purchase", "no currency", 7), record(6, "purchase", "no currency", 8)]
    )
    store.mark_replayed(["p6"])
    problems = store.quarantine_problems()
    assert [(p["event"], p["reasons"][0], p["events"]) for p in problems] == [
        ("checkout_error", "card_declined", 3),
        ("checkout_error", "payment_timeout", 1),  # ties: the latest seen first
        ("purchase", "no currency", 1),
        (None, "no name", 1),
    ]
    first = problems[0]
    assert first["reasons"] == ["card_declined", "second reason"]
    assert _naive(first["first_received"]) == _naive(T0)
    assert _naive(first["last_received"]) == _naive(T0 + timedelta(minutes=2))
    assert first["plan_version"] == 2
    assert len(store.quarantine_problems(2)) == 2
    assert store.count_quarantined() == 6
    assert store.count_quarantined(pending_only=False) == 7


def test_forget_removes_events_identities_and_quarantine(store: Store) -> None:
    store.insert_events([ev(1, anonymous_id="anon-f"), ev(2, anonymous_id="other")])
    store.insert_events([ev(3, anonymous_id="anon-f", user_id="user-f")])
    store.merge_identity("anon-f", "user-f")
    store.insert_quarantine(
        [
            QuarantineRecord(
                event_id="q9",
                event="x",
                received_at=T0,
                reasons=["r"],
                raw={"userId": "user-f"},
                plan_version=1,
                user_id="user-f",
            )
        ]
    )
    assert store.forget("user-f") == 2
    assert store.count_events() == 1
    assert store.quarantine_rows(pending_only=False) == []
    assert store.query("SELECT * FROM identities").num_rows == 0


def test_parameters_are_not_sql(store: Store) -> None:
    store.insert_events([ev(1)])
    hostile = "view_item' OR '1'='1"
    assert store.count_events(hostile) == 0
