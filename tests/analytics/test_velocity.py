"""Actions per minute per segment, and time to convert as censored survival data: known answers
on hand-made events (both engines), and the same answer on both engines for the simulated shop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from microfunnel.analytics.funnel_spec import Breakdown, Step
from microfunnel.analytics.velocity import time_to_convert, velocity
from microfunnel.errors import QueryError
from microfunnel.events.model import Event
from microfunnel.stats.survival import kaplan_meier
from microfunnel.store.base import Store

EvFactory = Callable[..., Event]


def test_actions_per_minute_per_segment(store: Store, ev: EvFactory) -> None:
    store.insert_events(
        [
            # a: 3 events over 2 minutes -> 1 action per minute
            ev("page_view", "a", 0), ev("view_item", "a", 1), ev("add_to_cart", "a", 2),
            # b: 5 events over 1 minute -> 4 per minute
            *[ev("view_item", "b", k / 4, device="mobile") for k in range(5)],
            # c: one event, no span
            ev("page_view", "c", 0, device="mobile"),
        ]
    )  # fmt: skip
    v = velocity(store, by=Breakdown("device"))
    seg = {s.segment: s for s in v.segments}
    assert [s.segment for s in v.segments] == ["mobile", "desktop"]
    assert (seg["mobile"].sessions, seg["mobile"].single, seg["mobile"].stats.n) == (2, 1, 1)
    assert seg["mobile"].median == pytest.approx(4.0)
    assert seg["desktop"].mean == pytest.approx(1.0)
    assert v.overall.n == 2 and v.overall.mean == pytest.approx(2.5)


def test_time_to_convert_censors_non_converters(store: Store, ev: EvFactory) -> None:
    store.insert_events(
        [
            ev("add_to_cart", "a", 0), ev("purchase", "a", 10),
            ev("add_to_cart", "b", 0, device="mobile"), ev("purchase", "b", 30, device="mobile"),
            ev("add_to_cart", "c", 0, device="mobile"),  # never buys: censored at the window
            ev("add_to_cart", "d", 0), ev("purchase", "d", 120),  # too late for a 1 h window
            ev("page_view", "z", 600),  # the data go on long enough to censor at the window
        ]
    )  # fmt: skip
    steps = [Step("add_to_cart"), Step("purchase")]
    r = time_to_convert(store, steps, window=timedelta(hours=1), breakdown=Breakdown("device"))
    assert (r.overall.entrants, r.overall.converted) == (4, 2)
    expected = kaplan_meier([600, 1800, 3600, 3600], [1, 1, 0, 0])
    assert r.overall.curve is not None
    assert r.overall.curve.survival == pytest.approx(expected.survival)
    assert r.overall.median_seconds == 1800
    seg = {c.segment: c for c in r.segments}
    assert (seg["mobile"].entrants, seg["mobile"].converted) == (2, 1)
    assert seg["desktop"].median_seconds == 600  # S falls to 0.5 there: the median
    with pytest.raises(QueryError, match="persons or sessions"):
        time_to_convert(store, steps, unit="total")


def test_engines_agree_on_the_shop(shop_stores: dict[str, Store]) -> None:
    steps = [Step("add_to_cart"), Step("purchase")]
    answers = [
        (
            velocity(s, by=Breakdown("device")),
            time_to_convert(s, steps, unit="session", breakdown=Breakdown("device")),
        )
        for s in shop_stores.values()
    ]
    (v, ttc), (v2, ttc2) = answers
    assert ttc == ttc2
    for a, b in zip(v.segments, v2.segments, strict=True):  # float sums differ in the last bits
        assert (a.segment, a.sessions, a.single, a.stats.n, a.median) == (
            b.segment,
            b.sessions,
            b.single,
            b.stats.n,
            b.median,
        )
        assert (a.stats.sum, a.stats.sum_sq) == pytest.approx((b.stats.sum, b.stats.sum_sq))
    assert {s.segment for s in v.segments} == {"mobile", "desktop", "tablet"}
    assert ttc.overall.converted > 0 and ttc.overall.curve is not None
