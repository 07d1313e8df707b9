"""Retention: weekly cohorts by first-seen week and the share doing an event in later weeks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from microfunnel.analytics.retention import retention
from microfunnel.errors import QueryError
from microfunnel.events.model import Event
from microfunnel.store.base import Store

EvFactory = Callable[..., Event]
MONDAY = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
DAY = 24 * 60


def test_cohorts_and_return_shares(store: Store, ev: EvFactory) -> None:
    store.insert_events(
        [
            ev("page_view", "a", 0, start=MONDAY),
            ev("purchase", "a", 8 * DAY, start=MONDAY),  # week 1
            ev("page_view", "b", 2 * DAY, start=MONDAY),
            ev("page_view", "b", 15 * DAY, start=MONDAY),  # week 2, no purchase
            ev("page_view", "c", 7 * DAY, start=MONDAY),  # second cohort
            ev("purchase", "c", 7 * DAY + 5, start=MONDAY),  # its week 0
            ev("page_view", "z", 27 * DAY, start=MONDAY),  # data run to Sunday 2024-03-31
        ]
    )
    any_event = retention(store, weeks=3)
    first = any_event.cohorts[0]
    assert (first.week, first.size) == (date(2024, 3, 4), 2)
    assert first.returning == (2, 1, 1, 0)
    assert first.shares == (1.0, 0.5, 0.5, 0.0)
    buys = retention(store, event="purchase", weeks=3)
    assert [(c.week, c.size, c.returning) for c in buys.cohorts] == [
        (date(2024, 3, 4), 2, (0, 1, 0, 0)),
        (date(2024, 3, 11), 1, (1, 0, 0, None)),  # its week 3 is not over yet
        (date(2024, 3, 25), 1, (0, None, None, None)),
    ]
    later = retention(store, event="purchase", weeks=1, start=date(2024, 3, 11))
    assert [c.week for c in later.cohorts] == [date(2024, 3, 11), date(2024, 3, 25)]


def test_unknown_event(store: Store, ev: EvFactory) -> None:
    store.insert_events([ev("purchase", "a", 0)])
    with pytest.raises(QueryError, match="`purchase`"):
        retention(store, event="purchases")


def test_shop_retention_engines_agree(shop_stores: dict[str, Store]) -> None:
    runs = [
        retention(s, event="view_item", weeks=3, tz="Europe/Paris") for s in shop_stores.values()
    ]
    assert runs[0] == runs[1]
    first = runs[0].cohorts[0]
    assert first.size > 1000
    # Some visitors come back in later weeks and look at products again, fewer each week.
    shares = [s for s in first.shares[1:] if s is not None]
    assert 0 < shares[-1] < shares[0] < 1
