"""Bad funnel questions get errors that say what to do."""

from __future__ import annotations

from datetime import timedelta

import pytest

from microfunnel.analytics.funnel import Breakdown, Step, funnel
from microfunnel.errors import QueryError
from microfunnel.store.duckdb import DuckDBStore

from .funnel_data import ev, load


@pytest.fixture
def duck(tmp_path):
    store = load(
        DuckDBStore(tmp_path / "e.duckdb"),
        [ev("a", "view_item", 0, props={"cart_id": "c1"}), ev("a", "add_to_cart", 5)],
    )
    yield store
    store.close()


def test_unknown_event_suggests_close_names(duck) -> None:
    with pytest.raises(QueryError, match=r"unknown event 'add_to_crt'.*'add_to_cart'"):
        funnel(duck, [Step("view_item"), Step("add_to_crt")])


@pytest.mark.parametrize("window", [timedelta(0), timedelta(seconds=-1)])
def test_non_positive_window(duck, window) -> None:
    with pytest.raises(QueryError, match="window must be positive"):
        funnel(duck, [Step("view_item"), Step("add_to_cart")], window=window)


def test_one_step(duck) -> None:
    with pytest.raises(QueryError, match="at least two steps"):
        funnel(duck, [Step("view_item")])


def test_unknown_and_unsafe_property(duck) -> None:
    with pytest.raises(QueryError, match=r"unknown property 'cart_idd'.*Check the spelling"):
        funnel(duck, [Step("view_item", where={"cart_idd": "c1"}), Step("add_to_cart")])
    with pytest.raises(QueryError, match="not allowed"):
        funnel(duck, [Step("view_item"), Step("add_to_cart")], breakdown=Breakdown("x'; DROP"))


def test_known_json_property_filters(duck) -> None:
    r = funnel(duck, [Step("view_item", where={"cart_id": "c1"}), Step("add_to_cart")])
    assert [s.count for s in r.steps] == [1, 1]
