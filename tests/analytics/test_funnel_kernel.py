"""The counts-only kernel answers exactly what the level chain answers, for every breakdown.

Timelines are drawn at random (seeded) so that restarts, equal timestamps across steps, chains
that die at the window's edge, persons without a first step and devices that change between
chains all occur; within a person, two events of the same step never share a time (which of two
tied chains reports its segment is not defined, on either path).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from microfunnel.analytics.funnel import Behaviour, Breakdown, Step, _rows, build_spec, funnel
from microfunnel.events.model import Event
from microfunnel.store.duckdb import DuckDBStore

from .funnel_data import T0, ev, load

NAMES = ["view_item", "add_to_cart", "begin_checkout", "purchase"]
OTHER_EVENTS = ["page_view", "view_item_list"]
DEVICES = ["desktop", "mobile", "tablet"]
W = timedelta(seconds=100)


def _timelines(persons: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events = []
    for p in range(persons):
        taken: set[tuple[str, int]] = set()
        for i in range(rng.randint(1, 14)):
            name = rng.choice(NAMES[: rng.randint(1, len(NAMES))] + OTHER_EVENTS)
            sec = rng.randint(0, 400)
            if (name, sec) in taken:
                continue
            taken.add((name, sec))
            device = rng.choice(DEVICES) if rng.random() < 0.3 else DEVICES[p % 3]
            events.append(ev(f"p{p}", name, sec, device=device, eid=f"{p}-{i}"))
    return events


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = DuckDBStore(tmp_path_factory.mktemp("kernel") / "events.duckdb")
    load(store, _timelines(600, seed=11))
    yield store
    store.close()


BREAKDOWNS: dict[str, Any] = {
    "none": None,
    "device": Breakdown("device"),
    "top 1": Breakdown("device", top=1),
    "last touch": Breakdown("device", attribution="last"),
    "step 1": Breakdown("device", attribution=1),
    "step 3": Breakdown("device", attribution=3),
    "per person": Breakdown("anonymous_id", top=None),
    "behaviour": Behaviour("carted", "add_to_cart", min_count=2),
}


@pytest.mark.parametrize("name", list(BREAKDOWNS))
def test_kernel_matches_chain(duck: DuckDBStore, name: str) -> None:
    steps = [Step(n) for n in NAMES]
    spec = build_spec(duck, steps, window=W, breakdown=BREAKDOWNS[name], timings=False)
    assert spec.resolved_strategy(duck.dialect) == "kernel"
    kernel = _rows(duck, spec, NAMES)
    chain = _rows(duck, replace(spec, strategy="chain"), NAMES)
    assert kernel == chain
    assert kernel[0][2][1].count > 0  # the data reaches past the first step


def test_kernel_on_a_time_range_and_a_filtered_step(duck: DuckDBStore) -> None:
    steps = [Step("view_item"), Step("add_to_cart", where={"device": "mobile"}), Step("purchase")]
    opts: dict[str, Any] = {"window": W, "timings": False, "breakdown": Breakdown("device")}
    whole = build_spec(duck, steps, **opts)
    ranged = build_spec(
        duck, steps, start=T0 + timedelta(seconds=50), end=T0 + timedelta(seconds=300), **opts
    )
    names = [s.name for s in steps]
    for spec in (whole, ranged):
        assert spec.resolved_strategy(duck.dialect) == "kernel"
        assert _rows(duck, spec, names) == _rows(duck, replace(spec, strategy="chain"), names)


def test_nobody_in_range_and_nobody_past_the_first_step(tmp_path: Any) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    try:
        load(
            store,
            [
                ev("a", "view_item", 0),
                ev("b", "view_item", 2, device="mobile"),
                ev("c", "add_to_cart", 5),  # a second step without a first: not in the funnel
                ev("d", "add_to_cart", 5),
                ev("d", "view_item", 6),  # too late for its cart
            ],
        )
        steps = [Step("view_item"), Step("add_to_cart")]
        opts: dict[str, Any] = {"window": W, "timings": False, "breakdown": Breakdown("device")}
        empty = funnel(store, steps, start=T0 + timedelta(days=1), **opts)
        assert empty.strategy == "kernel"
        assert [s.count for s in empty.steps] == [0, 0] and empty.segments == ()
        entered = funnel(store, steps, **opts)
        assert [s.count for s in entered.steps] == [3, 0]
        assert [(g.segment, g.steps[0].count) for g in entered.segments] == [
            ("desktop", 2),
            ("mobile", 1),
        ]
    finally:
        store.close()
