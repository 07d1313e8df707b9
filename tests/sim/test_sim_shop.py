"""The event-by-event shop: deterministic, well-formed, with plausible rates."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from microfunnel.events.model import Event
from microfunnel.sim import Planted, simulate
from microfunnel.sim.catalog import BOT_USER_AGENTS

SESSION_TIMEOUT_US = 30 * 60 * 1_000_000


def _small(seed: int) -> list[Event]:
    return list(simulate(days=3, visitors_per_day=40, seed=seed))


def test_same_seed_same_events() -> None:
    assert _small(5) == _small(5)


def test_other_seed_other_events() -> None:
    a, b = _small(5), _small(6)
    assert {e.event_id for e in a}.isdisjoint(e.event_id for e in b)


def test_stream_is_in_time_order_within_the_requested_days() -> None:
    events = list(simulate(days=4, visitors_per_day=60, seed=2, start=date(2024, 6, 1)))
    times = [e.timestamp for e in events]
    assert all(t is not None for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    assert str(times[0])[:10] == "2024-06-01"
    assert times[-1] is not None and times[-1].date() <= date(2024, 6, 4) + timedelta(days=1)
    assert all(e.received_at and e.timestamp and e.received_at > e.timestamp for e in events)


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def test_sessions_are_contiguous_and_belong_to_one_visitor(shop_table: pa.Table) -> None:
    humans = shop_table.filter(pc.invert(shop_table["is_bot"]))
    t = humans.sort_by([("session_id", "ascending"), ("timestamp", "ascending")])
    session = _column(t, "session_id")
    anon = _column(t, "anonymous_id")
    ts = _column(t, "timestamp").astype("datetime64[us]").astype(np.int64)
    same = session[1:] == session[:-1]
    assert (anon[1:][same] == anon[:-1][same]).all()
    assert (np.diff(ts)[same] < SESSION_TIMEOUT_US).all()
    gaps = np.diff(ts)[same]
    assert np.median(gaps) > 1_000_000 and gaps.mean() > 10_000_000  # seconds to minutes


def _visitors_with(table: pa.Table, event: str) -> set[str]:
    rows = table.filter(pc.equal(table["event"], event))
    return set(rows.column("anonymous_id").to_pylist())


@pytest.mark.parametrize("generator", ["shop", "bulk"])
def test_funnel_rates_are_plausible(generator: str, request: pytest.FixtureRequest) -> None:
    table = request.getfixturevalue(f"{generator}_table")
    humans = table.filter(pc.invert(table["is_bot"]))
    visitors = len(set(humans.column("anonymous_id").to_pylist()))
    rate = {e: len(_visitors_with(humans, e)) / visitors for e in ("add_to_cart", "purchase")}
    assert 0.05 <= rate["add_to_cart"] <= 0.15
    assert 0.01 <= rate["purchase"] <= 0.05


def test_every_event_type_of_the_shop_occurs(shop_table: pa.Table) -> None:
    names = set(shop_table.column("event").to_pylist())
    assert names == {
        "page_view", "view_item_list", "view_item", "size_guide_open", "video_play",
        "image_zoom", "review_read", "wishlist_add", "add_to_cart", "view_cart",
        "begin_checkout", "add_shipping_info", "add_payment_info", "checkout_error",
        "purchase", "newsletter_signup", "$identify", "experiment_exposure",
    }  # fmt: skip


def _props(table: pa.Table, event: str) -> list[dict[str, object]]:
    rows = table.filter(pc.equal(table["event"], event))
    return [json.loads(p) for p in rows.column("properties").to_pylist()]


def test_ecommerce_properties_follow_ga4(shop_table: pa.Table) -> None:
    item_keys = {"item_id", "item_name", "price", "quantity", "item_category"}
    for event in ("view_item", "add_to_cart", "view_cart", "begin_checkout", "purchase"):
        for p in _props(shop_table, event)[:200]:
            assert p["currency"] == "EUR"
            items = p["items"]
            assert isinstance(items, list) and items
            assert all(set(i) == item_keys for i in items)
            total = sum(i["price"] * i["quantity"] for i in items)
            assert p["value"] == round(total, 2)
    purchases = _props(shop_table, "purchase")
    ids = [p["transaction_id"] for p in purchases]
    assert len(set(ids)) == len(ids)
    assert all("shipping_tier" in p for p in _props(shop_table, "add_shipping_info"))
    assert all("payment_type" in p for p in _props(shop_table, "add_payment_info"))
    assert all("error_type" in p for p in _props(shop_table, "checkout_error"))
    lifted = shop_table.filter(pc.equal(shop_table["event"], "purchase"))
    assert lifted.column("transaction_id").null_count == 0
    assert pc.min(lifted.column("value")).as_py() > 0


def test_context_carries_device_source_and_pages(shop_table: pa.Table) -> None:
    assert set(shop_table.column("device").to_pylist()) == {"mobile", "desktop", "tablet"}
    sources = set(shop_table.column("utm_source").to_pylist())
    assert sources == {"google", "instagram", "newsletter", None}
    contexts = [json.loads(c) for c in shop_table.column("context").to_pylist()[:500]]
    assert all(c["page_url"].endswith(c["page_path"]) and c["user_agent"] for c in contexts)
    assert any(c.get("referrer") for c in contexts)


def test_returning_visitors_come_back_and_some_log_in(shop_table: pa.Table) -> None:
    humans = shop_table.filter(pc.invert(shop_table["is_bot"]))
    days = pc.strftime(humans["timestamp"], "%Y-%m-%d")
    pairs = set(zip(humans.column("anonymous_id").to_pylist(), days.to_pylist(), strict=True))
    per_visitor: dict[str, int] = {}
    for anon, _ in pairs:
        per_visitor[anon] = per_visitor.get(anon, 0) + 1
    returning = sum(1 for n in per_visitor.values() if n > 1) / len(per_visitor)
    assert 0.15 < returning < 0.5
    identified = _visitors_with(humans, "$identify")
    assert identified and identified <= {a for a, n in per_visitor.items() if n > 1}
    known = humans.filter(pc.is_valid(humans["user_id"]))
    assert set(known.column("anonymous_id").to_pylist()) == identified
    assert (_column(known, "person_id") == _column(known, "user_id")).all()


def test_bots_are_flagged_fast_and_never_shop(shop_table: pa.Table, planted: Planted) -> None:
    bots = shop_table.filter(shop_table["is_bot"])
    visitors = len(set(shop_table.column("anonymous_id").to_pylist()))
    share = len(set(bots.column("anonymous_id").to_pylist())) / visitors
    assert 0.5 * planted.bot_share < share < 1.5 * planted.bot_share
    agents = {json.loads(c)["user_agent"] for c in bots.column("context").to_pylist()}
    assert agents <= set(BOT_USER_AGENTS)
    assert set(bots.column("event").to_pylist()) <= {"page_view", "view_item_list", "view_item"}
    t = bots.sort_by([("session_id", "ascending"), ("timestamp", "ascending")])
    ts = _column(t, "timestamp").astype("datetime64[us]").astype(np.int64)
    same = _column(t, "session_id")[1:] == _column(t, "session_id")[:-1]
    assert np.median(np.diff(ts)[same]) < 1_000_000


def test_demo_hypotheses_load_and_rank(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from microfunnel.experiments.registry import load_hypotheses, prioritize
    from microfunnel.sim.experiments import demo_hypotheses_yaml

    (tmp_path / "hypotheses.yaml").write_text(demo_hypotheses_yaml())
    ranked = prioritize(load_hypotheses(tmp_path))
    assert ranked[0].key == "mobile-payment-step"
    assert len(ranked) == 3
