"""Forecast: the funnel what-if, its interval from the observed counts, value per step."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from microfunnel.analytics.forecast import forecast, forecast_funnel
from microfunnel.errors import QueryError
from microfunnel.events.model import Event
from microfunnel.store.base import Store

EvFactory = Callable[..., Event]
STEPS = ["view_item", "add_to_cart", "purchase"]


def test_worked_check_pdp_to_cart_from_8_to_9_5_percent() -> None:
    f = forecast_funnel(STEPS, [10000, 800, 200], changes={"add_to_cart": 0.095}, revenue=1e4)
    # 10000 * 0.095 * 0.25 = 237.5 purchases against 200: +18.75 %.
    assert f.predicted_conversions == pytest.approx(237.5)
    assert f.relative_change == pytest.approx(0.1875)
    assert f.predicted_revenue == pytest.approx(237.5 * 50)
    lo, hi = f.conversions_interval
    assert lo < 237.5 < hi
    # Only the cart -> purchase rate is uncertain here: Beta(201, 601) quantiles times 950.
    from scipy import stats

    ref = stats.beta(201, 601).ppf([0.025, 0.975]) * 950
    assert (lo, hi) == pytest.approx(tuple(ref), rel=0.02)
    assert [s.value_per_person for s in f.steps] == pytest.approx([1.0, 12.5, 50.0])


def test_no_change_reproduces_the_observed_funnel() -> None:
    f = forecast_funnel(STEPS, [5000, 400, 100], seed=3)
    assert f.predicted_conversions == pytest.approx(100)
    assert f.relative_change == pytest.approx(0.0)
    assert f == forecast_funnel(STEPS, [5000, 400, 100], seed=3)


def test_bad_changes_say_what_to_do() -> None:
    with pytest.raises(QueryError, match="not a later step"):
        forecast_funnel(STEPS, [10, 5, 1], changes={"view_item": 0.5})
    with pytest.raises(QueryError, match="must not grow"):
        forecast_funnel(STEPS, [10, 50, 1])


def test_forecast_from_the_store(store: Store, ev: EvFactory) -> None:
    events = []
    for i in range(20):
        p = f"p{i}"
        events.append(ev("view_item", p, 0))
        if i < 8:
            events.append(ev("add_to_cart", p, 1))
        if i < 4:
            events.append(ev("purchase", p, 2, properties={"value": 25.0}))
    events.append(ev("purchase", "stranger", 0, properties={"value": 99.0}))  # never viewed
    store.insert_events(events)
    f = forecast(store, STEPS, changes={"add_to_cart": 0.5})
    assert [s.observed_count for s in f.steps] == [20, 8, 4]
    assert f.baseline_revenue == 100.0
    assert f.predicted_conversions == pytest.approx(20 * 0.5 * 0.5)
    with pytest.raises(QueryError, match="`add_to_cart`"):
        forecast(store, ["view_item", "add_to_crt"])


def test_engines_agree(shop_stores: dict[str, Store]) -> None:
    steps = ["view_item", "add_to_cart", "begin_checkout", "purchase"]
    runs = [forecast(s, steps, changes={"add_to_cart": 0.2}) for s in shop_stores.values()]
    assert runs[0] == runs[1]
    assert runs[0].predicted_conversions > runs[0].baseline_conversions
