"""The segment x step drop-off matrix finds the planted checkout friction, and where it is worst,
identically on both engines."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from microfunnel.analytics.funnel_spec import Behaviour, Step
from microfunnel.analytics.segments import BEHAVIOURS, drop_off_matrix, segment_by
from microfunnel.errors import QueryError
from microfunnel.sim import Planted
from microfunnel.store.base import Store

CHECKOUT = [
    Step(s) for s in ("begin_checkout", "add_shipping_info", "add_payment_info", "purchase")
]
OPTIONS = {"unit": "session", "window": timedelta(hours=2)}


def test_planted_bottleneck_and_its_worst_segment(shop: Store, planted: Planted) -> None:
    m = drop_off_matrix(shop, CHECKOUT, "device", **OPTIONS)
    # the funnel's bottleneck is the planted friction step ...
    assert m.funnel.bottleneck_step == 2
    assert "add_shipping_info -> add_payment_info" in m.funnel.bottleneck
    # ... and it is worst on mobile, at about the planted rate
    assert m.worst is not None
    assert (m.worst.segment, m.worst.step) == ("mobile", "add_payment_info")
    cell = m.cells[m.segments.index("mobile")][1]
    se = math.sqrt(0.42 * 0.58 / cell.entered)
    assert abs((1 - cell.drop_off) - planted.shipping_to_payment("mobile")) < 3 * se  # type: ignore[operator]
    desktop = m.cells[m.segments.index("desktop")][1]
    assert desktop.excess_lost < 0 < cell.excess_lost
    assert "mobile loses the most at add_shipping_info -> add_payment_info" in m.sentence
    assert f"about {cell.excess_lost:,.0f} more sessions than the overall rate" in m.sentence
    assert len(m.rates) == len(m.segments) and len(m.rates[0]) == len(CHECKOUT) - 1


def test_matrix_and_behaviours_agree_across_engines(shop_stores: dict[str, Store]) -> None:
    steps = [Step("view_item"), Step("add_to_cart"), Step("purchase")]
    answers = [
        [
            drop_off_matrix(s, steps, by, **OPTIONS)
            for by in ("device", "size_guide", Behaviour("carts", "add_to_cart", min_count=2))
        ]
        for s in shop_stores.values()
    ]
    for a, b in zip(*answers, strict=True):
        assert (a.segments, a.cells, a.worst, a.overall) == (
            b.segments,
            b.cells,
            b.worst,
            b.overall,
        )
    size_guide = answers[0][1]
    assert set(size_guide.segments) == {"yes", "no"}
    # opening the size guide is planted to nearly double add-to-cart: "no" leaks more there
    rate = dict(
        zip(size_guide.segments, (row[0].drop_off for row in size_guide.cells), strict=True)
    )
    assert rate["no"] > rate["yes"]  # type: ignore[operator]


def test_bad_segment_questions(shop_stores: dict[str, Store]) -> None:
    store = shop_stores["duckdb"]
    with pytest.raises(QueryError, match="unknown behaviour 'sizes'"):
        segment_by(behaviour="sizes")
    with pytest.raises(QueryError, match="min_units"):
        drop_off_matrix(store, CHECKOUT, "device", min_units=0)
    assert segment_by() is None and segment_by(behaviour="reviews") is BEHAVIOURS["reviews"]
