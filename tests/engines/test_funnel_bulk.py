"""``bulk_load`` appends trusted rows as they are (no dedupe), and funnels read them."""

from __future__ import annotations

from datetime import timedelta

from microfunnel.analytics.funnel import Step, funnel
from microfunnel.sim import simulate_arrow
from microfunnel.store.base import Store


def test_bulk_load_keeps_every_row_and_funnels_agree(store: Store) -> None:
    table = simulate_arrow(20_000, seed=3)
    assert store.bulk_load(table) == table.num_rows  # type: ignore[attr-defined]
    assert store.count_events() == table.num_rows
    store.bulk_load(table.slice(0, 10))  # type: ignore[attr-defined]
    assert store.count_events() == table.num_rows + 10  # trusted: no dedupe
    steps = [Step("view_item"), Step("add_to_cart"), Step("begin_checkout")]
    r = funnel(store, steps, window=timedelta(hours=24))
    assert r.steps[0].count > r.steps[1].count > r.steps[2].count > 0
