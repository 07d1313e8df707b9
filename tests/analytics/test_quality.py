"""Data quality: volumes, unknown names, missing parameters, quarantine, bots, clock skew."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from microfunnel.analytics.quality import quality
from microfunnel.events.model import Event
from microfunnel.store.base import QuarantineRecord, Store

EvFactory = Callable[..., Event]


def test_quality_checks(store: Store, ev: EvFactory) -> None:
    late = ev("purchase", "b", 0, properties={"value": 10.0})
    assert late.timestamp is not None
    late.received_at = late.timestamp + timedelta(hours=2)
    store.insert_events(
        [
            ev("page_view", "a", 0),
            ev("purchase", "a", 1, properties={"value": 10.0, "currency": "EUR"}),
            late,
            ev("add_to_crat", "a", 2),
            ev("page_view", "bot", 3, is_bot=True),
        ]
    )
    t = datetime(2024, 3, 1, 12, tzinfo=UTC)
    store.insert_quarantine([QuarantineRecord("q1", "purchase", t, ["missing currency"], {}, 1)])
    q = quality(
        store, known=["page_view", "purchase"], required={"purchase": ["value", "currency"]}
    )
    assert q.unknown_events == ("add_to_crat",)
    assert [(m.parameter, m.events, m.missing) for m in q.missing] == [
        ("value", 2, 0),
        ("currency", 2, 1),
    ]
    assert (q.events, q.quarantined) == (5, 1)
    assert q.quarantine_rate == pytest.approx(1 / 6)
    assert q.bot_event_share == pytest.approx(0.2)
    assert q.bot_person_share == pytest.approx(1 / 3)
    assert q.clock_skew.p50_seconds == 1.0
    assert q.clock_skew.share_over_hour_late == pytest.approx(0.2)
    assert {(v.day, v.event, v.events) for v in q.volumes} >= {(date(2024, 3, 1), "page_view", 2)}


def test_engines_agree_on_the_shop(shop_stores: dict[str, Store]) -> None:
    runs = [
        quality(s, known=["page_view", "view_item"], required={"purchase": ["transaction_id"]})
        for s in shop_stores.values()
    ]
    assert runs[0] == runs[1]
    assert runs[0].missing[0].missing == 0
    assert 0.0 < runs[0].bot_person_share < 0.1
    assert 0 <= runs[0].clock_skew.p99_seconds <= 2
