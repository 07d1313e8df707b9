"""Paths: neighbours of a step, spans between two steps, loops; Sankey nodes and links."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from microfunnel.analytics.paths import find_loops, paths_around, paths_between
from microfunnel.errors import QueryError
from microfunnel.events.model import Event
from microfunnel.sim import Planted
from microfunnel.store.base import Store

EvFactory = Callable[..., Event]


def _journeys(store: Store, ev: EvFactory) -> None:
    a = ["page_view", "view_item", "add_to_cart", "view_cart", "begin_checkout"]
    b = ["view_item", "add_to_cart", "page_view", "begin_checkout"]
    c = ["view_item", "add_to_cart"]
    d = ["add_shipping_info", "view_cart", "add_shipping_info", "purchase"]
    store.insert_events(
        [
            ev(name, person, i)
            for person, names in (("a", a), ("b", b), ("c", c), ("d", d), ("e", d))
            for i, name in enumerate(names)
        ]
    )


def test_next_events_and_sankey(store: Store, ev: EvFactory) -> None:
    _journeys(store, ev)
    around = paths_around(store, "add_to_cart", depth=2)
    assert around.occurrences == 3
    assert [(p.steps, p.sessions) for p in around.top] == [
        (("$end",), 1),
        (("begin_checkout", "$end"), 1),
        (("view_cart", "begin_checkout"), 1),
    ]
    ids = {n.id: n.count for n in around.nodes}
    assert ids == {"0:add_to_cart": 3, "+1:$end": 1, "+1:begin_checkout": 1,
                   "+1:view_cart": 1, "+2:$end": 1, "+2:begin_checkout": 1}  # fmt: skip
    assert sum(link.value for link in around.links if link.source == "0:add_to_cart") == 3
    with_pages = paths_around(store, "add_to_cart", depth=1, exclude=())
    assert {p.steps for p in with_pages.top} == {("view_cart",), ("page_view",), ("$end",)}


def test_previous_events(store: Store, ev: EvFactory) -> None:
    _journeys(store, ev)
    before = paths_around(store, "add_to_cart", direction="previous", depth=2)
    assert {(p.steps, p.sessions) for p in before.top} == {(("view_item", "$start"), 3)}
    assert {n.id for n in before.nodes} == {"-2:$start", "-1:view_item", "0:add_to_cart"}


def test_paths_between(store: Store, ev: EvFactory) -> None:
    _journeys(store, ev)
    between = paths_between(store, "view_item", "begin_checkout")
    assert between.sessions_with_start == 3
    assert between.sessions_reaching_end == 2
    assert [(p.steps, p.sessions) for p in between.paths] == [
        (("view_item", "add_to_cart", "begin_checkout"), 1),
        (("view_item", "add_to_cart", "view_cart", "begin_checkout"), 1),
    ]
    short = paths_between(store, "view_item", "begin_checkout", max_steps=2)
    assert short.longer_than_max == 1 and len(short.paths) == 1


def test_loops(store: Store, ev: EvFactory) -> None:
    _journeys(store, ev)
    loops = find_loops(store, min_sessions=1)
    assert [(lp.steps, lp.sessions, lp.share_of_sessions) for lp in loops.loops] == [
        (("add_shipping_info", "view_cart", "add_shipping_info"), 2, 1.0)
    ]


def test_unknown_anchor_suggests(store: Store, ev: EvFactory) -> None:
    _journeys(store, ev)
    with pytest.raises(QueryError, match="`add_to_cart`"):
        paths_around(store, "add_to_carts")


def test_planted_loop_is_found(shop: Store, planted: Planted) -> None:
    loops = {lp.steps: lp for lp in find_loops(shop, top=100).loops}
    found = loops[("add_shipping_info", "view_cart", "add_shipping_info")]
    # Share of sessions with the shipping step that looped back: the planted rate.
    assert found.share_of_sessions == pytest.approx(planted.shipping_loop_rate, abs=0.05)


def test_engines_agree(shop_stores: dict[str, Store]) -> None:
    runs = [
        (
            paths_around(s, "add_to_cart", depth=3),
            paths_around(s, "begin_checkout", direction="previous"),
            paths_between(s, "view_item", "purchase"),
            find_loops(s),
        )
        for s in shop_stores.values()
    ]
    assert runs[0] == runs[1]
