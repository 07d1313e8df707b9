"""The dashboard's page builders on hand-made data (no browser)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from microfunnel.events.model import Event
from microfunnel.server.dashboard.render import render
from microfunnel.server.dashboard.routes import DEVICES, NAV
from microfunnel.server.dashboard.views.explore import trends_page
from microfunnel.store.base import Store


def _day(day: date, person: str, name: str) -> Event:
    t = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return Event(
        event=name, event_id=f"{person}-{name}-{day}", anonymous_id=person, timestamp=t,
        received_at=t,
    )  # fmt: skip


def test_weeks_cut_short_by_the_range_are_left_out_and_named(store: Store) -> None:
    # Wednesday 2024-03-20 to Tuesday 2024-04-16, the default 28 days back from the last:
    # three whole weeks between two the range cuts short
    days = [date(2024, 3, 20) + timedelta(days=i) for i in range(28)]
    store.insert_events(
        [_day(d, f"p{i}", "view_item") for i, d in enumerate(days)]
        + [_day(d, f"p{i}", "add_to_cart") for i, d in enumerate(days) if i % 2 == 0]
    )
    built = trends_page(store, "add_to_cart")
    assert [(p.period, p.days) for p in built["weekly"].points] == [
        (date(2024, 3, 18), 5),
        (date(2024, 3, 25), 7),
        (date(2024, 4, 1), 7),
        (date(2024, 4, 8), 7),
        (date(2024, 4, 15), 2),
    ]
    whole = [x for x, _ in built["week_chart"]["series"][0]["points"]]
    assert whole == ["2024-03-25", "2024-04-01", "2024-04-08"]
    assert built["partial_weeks"] == [date(2024, 3, 18), date(2024, 4, 15)]
    html = render("trends.html", **_page(built))
    assert "Left out: the weeks of 2024-03-18, 2024-04-15, which the range cuts short" in html


def test_no_whole_week_says_so(store: Store) -> None:
    # Wednesday to Friday: the range ends on the Friday, so the data's only week is cut short
    days = [date(2024, 4, 3) + timedelta(days=i) for i in range(3)]
    store.insert_events([_day(d, f"p{i}", "add_to_cart") for i, d in enumerate(days)])
    built = trends_page(store, "add_to_cart")
    assert [(p.period, p.days) for p in built["weekly"].points] == [(date(2024, 4, 1), 5)]
    assert built["week_chart"] is None and built["partial_weeks"] == [date(2024, 4, 1)]
    html = render("trends.html", **_page(built))
    assert "No whole week in the range yet." in html
    assert "Left out: the week of 2024-04-01, which the range cuts short" in html


def _page(built: dict[str, Any]) -> dict[str, Any]:
    """The context the route renders a built page in (``routes.page``)."""
    return {
        "title": "Trends", "nav": NAV, "active": "/trends", "standalone": False,
        "project_name": "shop", "error": None, "ok": True, "devices": DEVICES,
        "form": {"event": "add_to_cart", "among": "", "device": ""}, "plan_events": [],
        "freshness": None, "event_names": ["add_to_cart", "view_item"],
        "data_through": built["trend"].end, **built,
    }  # fmt: skip
