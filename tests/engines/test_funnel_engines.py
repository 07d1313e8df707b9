"""Every funnel question gives the same answer on DuckDB and ClickHouse (chdb), and ordered
funnels agree with ClickHouse's own ``windowFunnel``."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from microfunnel.analytics.funnel import Behaviour, Breakdown, Exclude, Step, build_spec, funnel
from microfunnel.store.base import Store
from microfunnel.store.clickhouse import ClickHouseStore
from microfunnel.store.duckdb import DuckDBStore

sys.path.insert(0, str(Path(__file__).parents[1] / "analytics"))
from funnel_data import T0, ev, load

STEPS = [Step("view_item"), Step("add_to_cart"), Step("purchase")]
H = timedelta(hours=1)


def journeys() -> list:
    return [
        # a: full funnel, 10 s then 90 s
        ev("a", "view_item", 0),
        ev("a", "add_to_cart", 10),
        ev("a", "purchase", 100),
        # b: mobile, stops at cart
        ev("b", "view_item", 0, device="mobile"),
        ev("b", "add_to_cart", 50, device="mobile"),
        # c: skips the cart
        ev("c", "view_item", 0, device="mobile"),
        ev("c", "purchase", 10, device="mobile"),
        # d: too slow for a one-hour window, then a restart that makes it
        ev("d", "view_item", 0),
        ev("d", "add_to_cart", 4000),
        ev("d", "view_item", 5000),
        ev("d", "add_to_cart", 5100),
        ev("d", "purchase", 5200),
        # e: a page view between steps (breaks strict order only)
        ev("e", "view_item", 0, device="tablet"),
        ev("e", "page_view", 5, device="tablet"),
        ev("e", "add_to_cart", 10, device="tablet"),
        # bot: excluded by default
        ev("bot", "view_item", 0, bot=True),
        ev("bot", "add_to_cart", 1, bot=True),
    ]


def counts(result) -> list[int]:
    return [s.count for s in result.steps]


def test_ordered_counts_and_times(store: Store) -> None:
    load(store, journeys())
    r = funnel(store, STEPS, window=H)
    assert counts(r) == [5, 4, 2]
    assert r.steps[1].time_median == 30.0  # a 10 s, b 50 s, d 100 s, e 10 s
    assert r.steps[2].time_median == 95.0  # a 90 s, d 100 s
    assert r.bottleneck_step == 2
    assert "add_to_cart -> purchase" in r.bottleneck


def test_modes_units_and_options_agree_across_engines(tmp_path: Path) -> None:
    answers = {}
    for engine in ("duckdb", "clickhouse"):
        (tmp_path / engine).mkdir()
        opened = (
            DuckDBStore(tmp_path / engine / "events.duckdb")
            if engine == "duckdb"
            else ClickHouseStore(tmp_path / engine / "chdb")
        )
        store = load(opened, journeys())
        try:
            answers[engine] = [
                funnel(store, STEPS, window=H, **opts)
                for opts in (
                    {},
                    {"mode": "strict"},
                    {"mode": "any"},
                    {"unit": "session"},
                    {"unit": "total"},
                    {"include_bots": True},
                    {"breakdown": Breakdown("device", top=2)},
                    {"breakdown": Breakdown("device", attribution="last")},
                    {"breakdown": Behaviour("carted", "add_to_cart", min_count=2)},
                    {"exclude": [Exclude("page_view")]},
                    {"timings": False},
                )
            ]
            answers[engine].append(
                funnel(
                    store,
                    [Step("view_item"), Step("add_to_cart", optional=True), Step("purchase")],
                    window=H,
                )
            )
        finally:
            store.close()
    for a, b in zip(answers["duckdb"], answers["clickhouse"], strict=True):
        assert a.steps == b.steps
        assert a.segments == b.segments
    duck = answers["duckdb"]
    assert counts(duck[1]) == [5, 3, 2]  # e's page view breaks strict order
    assert counts(duck[2]) == [5, 4, 2]  # any order still needs every earlier step (c has no cart)
    assert counts(duck[5]) == [6, 5, 2]
    assert [g.segment for g in duck[6].segments] == ["desktop", "mobile", "Other"]
    assert counts(duck[9]) == [5, 3, 2]  # e's page view sits between its steps
    assert counts(duck[11]) == [5, 4, 3]  # c converts when the cart is optional


def test_chain_and_fold_strategies_agree(store: Store) -> None:
    from dataclasses import replace

    from microfunnel.analytics.funnel import _rows

    load(store, journeys())
    spec = build_spec(store, STEPS, window=H, breakdown=Breakdown("device"))
    names = [s.name for s in STEPS]
    chain = _rows(store, replace(spec, strategy="chain"), names)
    fold = _rows(store, replace(spec, strategy="fold"), names)
    assert chain == fold


def test_window_is_inclusive(store: Store) -> None:
    load(
        store, [ev("a", "view_item", 0), ev("a", "add_to_cart", 3600), ev("a", "purchase", 3600.5)]
    )
    assert counts(funnel(store, STEPS, window=H)) == [1, 1, 0]
    assert counts(funnel(store, STEPS, window=H + timedelta(seconds=0.5))) == [1, 1, 1]
    assert T0 is not None
