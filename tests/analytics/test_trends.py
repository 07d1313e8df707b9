"""Trends: daily rates in a time zone, period change, and the drop alert on the planted break."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from microfunnel.analytics.alerts import detect_drops
from microfunnel.analytics.trends import trend, trends
from microfunnel.errors import QueryError
from microfunnel.events.model import Event
from microfunnel.sim import Planted
from microfunnel.store.base import Store

EvFactory = Callable[..., Event]


def test_rate_per_local_day_across_dst(store: Store, ev: EvFactory) -> None:
    # 2024-03-31: Berlin moves to summer time; 22:30 UTC that day is 00:30 on April 1st.
    from datetime import UTC, datetime

    t = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)  # 00:30 on March 31st in Berlin
    store.insert_events(
        [
            ev("page_view", "a", 0, start=t),
            ev("add_to_cart", "a", 5, start=t),
            ev("page_view", "b", 10, start=t),
            ev("page_view", "c", 23 * 60, start=t),  # 22:30 UTC on the 31st: April 1st local
            ev("add_to_cart", "c", 23 * 60 + 1, start=t),
        ]
    )
    berlin = trend(store, "add_to_cart", tz="Europe/Berlin", start=date(2024, 3, 31))
    assert [(p.period, p.active, p.converted) for p in berlin.points] == [
        (date(2024, 3, 31), 2, 1),
        (date(2024, 4, 1), 1, 1),
    ]
    utc = trend(store, "add_to_cart", start=date(2024, 3, 30), end=date(2024, 3, 31))
    assert [(p.active, p.converted) for p in utc.points] == [(2, 1), (1, 1)]
    assert berlin.points[0].rate == 0.5


def test_among_makes_a_step_rate_and_where_filters(store: Store, ev: EvFactory) -> None:
    store.insert_events(
        [
            ev("view_item", "a", 0),
            ev("add_to_cart", "a", 1),
            ev("view_item", "b", 0, device="mobile"),
            ev("add_to_cart", "c", 0),  # never viewed an item: not in the step's denominator
            ev("page_view", "d", 0),
        ]
    )
    step = trend(store, "add_to_cart", among="view_item")
    assert (step.points[-1].active, step.points[-1].converted) == (2, 1)
    desktop = trend(store, "add_to_cart", where={"device": "desktop"})
    assert (desktop.points[-1].active, desktop.points[-1].converted) == (3, 2)


def test_bad_questions_say_what_to_do(store: Store, ev: EvFactory) -> None:
    store.insert_events([ev("add_to_cart", "a", 0)])
    with pytest.raises(QueryError, match="did you mean `add_to_cart`"):
        trend(store, "add_to_crat")
    with pytest.raises(QueryError, match="IANA"):
        trend(store, "add_to_cart", tz="Mars/Olympus")
    with pytest.raises(QueryError, match="did you mean `device`"):
        trend(store, "add_to_cart", where={"devices": "mobile"})


def test_alert_rule_finds_the_day_a_rate_fell() -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(40)]
    active = [800] * 40
    steady = [80, 76, 84, 79, 81, 83, 77, 80, 82, 78] * 4
    assert detect_drops(days, active, steady) == ()
    dropped = steady[:25] + [50] * 15
    (alert,) = detect_drops(days, active, dropped)
    assert alert.began == days[25]
    assert alert.detected <= days[27]
    assert alert.relative_change == pytest.approx(50 / 80 - 1, abs=0.02)


def test_drop_alert_fires_on_the_planted_tracking_break(
    shop: Store, planted: Planted, shop_start: date
) -> None:
    assert planted.tracking_break_day is not None
    broken = shop_start + timedelta(days=planted.tracking_break_day)
    overall = trend(shop, planted.tracking_break_event, start=shop_start)
    assert [a.began for a in overall.alerts] == [broken]
    assert overall.change is not None and overall.change.test.significant
    assert overall.change.test.effect < 0
    desktop = trend(
        shop, planted.tracking_break_event, start=shop_start,
        where={"device": planted.tracking_break_device},
    )  # fmt: skip
    (alert,) = desktop.alerts
    assert alert.began == broken
    assert alert.detected <= broken + timedelta(days=1)
    assert alert.rate_since == 0.0
    mobile = trend(shop, planted.tracking_break_event, start=shop_start, where={"device": "mobile"})
    assert mobile.alerts == ()


def test_engines_agree(shop_stores: dict[str, Store], shop_start: date) -> None:
    results = [
        trend(s, "add_to_cart", among="view_item", interval="week", tz="America/New_York")
        for s in shop_stores.values()
    ]
    assert results[0] == results[1]
    assert sum(p.active for p in results[0].points) > 0


def test_weekly_points_say_which_weeks_the_range_cuts_short(shop: Store) -> None:
    start, end = date(2024, 4, 3), date(2024, 4, 23)  # a Wednesday to a Tuesday
    weekly = trend(shop, "add_to_cart", start=start, end=end, interval="week")
    assert [(p.period, p.days) for p in weekly.points] == [
        (date(2024, 4, 1), 5),  # Wednesday to Sunday
        (date(2024, 4, 8), 7),
        (date(2024, 4, 15), 7),
        (date(2024, 4, 22), 2),  # Monday and Tuesday
    ]
    daily = trend(shop, "add_to_cart", start=start, end=end)
    assert {p.days for p in daily.points} == {1}
    # a week's counts are its days' people, whole or cut short
    first_days = [p for p in daily.points if p.period < date(2024, 4, 8)]
    assert weekly.points[0].active >= max(p.active for p in first_days)


def test_many_trends_from_one_scan_equal_one_at_a_time(shop: Store) -> None:
    events = ["view_item", "add_to_cart", "purchase"]
    for interval in ("day", "week"):
        together = trends(shop, events, interval=interval, where={"device": "mobile"})
        assert list(together) == events
        for event in events:
            assert together[event] == trend(
                shop, event, interval=interval, where={"device": "mobile"}
            )
    utc, berlin = (
        trends(shop, events, tz=tz, among="view_item") for tz in ("UTC", "Europe/Berlin")
    )
    assert utc["purchase"].change is not None and berlin["purchase"].change is not None
    assert sum(p.converted for p in utc["purchase"].points) > 0
