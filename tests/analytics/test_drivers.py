"""Drivers and lead score: odds ratios with BH control, logistic points and held-out AUC.

The real-data test uses the UCI "Online Shoppers Purchasing Intention" dataset by Sakar,
Polat, Katircioglu and Kastro (Neural Computing and Applications, 2018; CC BY 4.0; see
tests/data/README.md). Reference numbers come from statsmodels (``Table2x2``, ``Logit``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from statsmodels.discrete.discrete_model import Logit
from statsmodels.stats.contingency_tables import Table2x2

from microfunnel.analytics.drivers import drivers, lead_score, odds_ratio, roc_auc
from microfunnel.errors import QueryError
from microfunnel.events.model import Event
from microfunnel.sim import Planted
from microfunnel.store.base import EVENT_COLUMNS, Store, arrow_schema

EvFactory = Callable[..., Event]
UCI = Path(__file__).parent.parent / "data" / "online_shoppers_intention.csv"
PAGES = {"Administrative": "view_admin_page", "Informational": "view_info_page",
         "ProductRelated": "view_item"}  # fmt: skip
CAP = 10


def uci_events() -> tuple[pd.DataFrame, pa.Table]:
    """Each UCI session as events: up to CAP page views per page type, then a purchase."""
    frame = pd.read_csv(UCI)
    n = len(frame)
    counts = {col: np.minimum(frame[col].to_numpy(), CAP) for col in PAGES}
    counts["purchase"] = frame["Revenue"].to_numpy().astype(int)
    names, persons = [], []
    for col, per_person in counts.items():
        names.append(np.repeat(PAGES.get(col, col), per_person.sum()))
        persons.append(np.repeat(np.arange(n), per_person))
    name, person = np.concatenate(names), np.concatenate(persons)
    order = np.argsort(person, kind="stable")  # page views first, the purchase last
    name, person = name[order], person[order]
    rows = len(name)
    ts = np.datetime64("2017-01-01T00:00:00") + person * np.timedelta64(3600, "s")
    ts = ts + np.arange(rows) * np.timedelta64(1, "ms")
    ids = np.char.add("uci-", person.astype(str))
    columns = {col: pa.nulls(rows) for col in EVENT_COLUMNS}
    columns.update(
        event_id=pa.array(np.char.add(np.char.add(ids, "-"), np.arange(rows).astype(str))),
        event=pa.array(name), anonymous_id=pa.array(ids), person_id=pa.array(ids),
        session_id=pa.array(ids), timestamp=pa.array(ts.astype("datetime64[us]")),
        received_at=pa.array(ts.astype("datetime64[us]")), properties=pa.array(["{}"] * rows),
        context=pa.array(["{}"] * rows), is_bot=pa.array(np.zeros(rows, dtype=bool)),
    )  # fmt: skip
    schema = arrow_schema(EVENT_COLUMNS)
    return frame, pa.table([columns[f.name].cast(f.type) for f in schema], schema=schema)


@pytest.fixture(scope="module")
def uci() -> tuple[pd.DataFrame, pa.Table]:
    return uci_events()


def test_odds_ratio_matches_statsmodels() -> None:
    ratio, lo, hi = odds_ratio(30, 70, 20, 180)
    ref = Table2x2(np.array([[30, 70], [20, 180]]))
    assert ratio == pytest.approx(ref.oddsratio)
    assert (lo, hi) == pytest.approx(ref.oddsratio_confint(0.05))
    assert odds_ratio(0, 10, 5, 10)[0] == pytest.approx(0.5 * 10.5 / (10.5 * 5.5))


def test_roc_auc_counts_ties_half() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(np.array([0, 1]), np.array([1.0, 1.0])) == 0.5


def test_drivers_on_hand_made_persons(store: Store, ev: EvFactory) -> None:
    events = []
    for i in range(40):
        p, device = f"p{i}", "mobile" if i % 2 else "desktop"
        events.append(ev("view_item", p, 0, device=device))
        if i < 20:
            events.append(ev("size_guide_open", p, 1, device=device))
        if (i < 20 and i % 4 != 3) or (i >= 20 and i % 4 == 0):
            events.append(ev("purchase", p, 2, device=device))
            events.append(ev("review_read", p, 3, device=device))  # after buying
    store.insert_events(events)
    d = drivers(store, properties=["device"], min_persons=5)
    by_name = {x.candidate: x for x in d.drivers}
    guide = by_name["size_guide_open"]
    assert (guide.persons, guide.converted) == (20, 15)
    assert guide.odds_ratio == pytest.approx(Table2x2(np.array([[15, 5], [5, 15]])).oddsratio)
    assert guide.significant
    assert [x.odds_ratio for x in d.drivers] == sorted(
        (x.odds_ratio for x in d.drivers), reverse=True
    )
    assert "review_read" not in by_name and "view_item" in d.too_rare
    assert {"device=mobile", "device=desktop"} <= set(by_name)
    assert (d.persons, d.converters) == (40, 20)
    assert "not causes" in d.note


def test_drivers_bad_question(store: Store, ev: EvFactory) -> None:
    store.insert_events([ev("purchase", "a", 0)])
    with pytest.raises(QueryError, match="`purchase`"):
        drivers(store, macro="purchse")
    with pytest.raises(QueryError, match="`device`"):
        drivers(store, properties=["devise"])


def test_uci_drivers_and_lead_score(store: Store, uci: tuple[pd.DataFrame, pa.Table]) -> None:
    frame, table = uci
    store.insert_arrow(table)
    d = drivers(store, min_persons=50)
    admin = next(x for x in d.drivers if x.candidate == "view_admin_page")
    seen = int(((frame[list(PAGES)].sum(axis=1) > 0) | frame["Revenue"]).sum())  # 6 are empty
    did = frame["Administrative"] > 0
    a = int((did & frame["Revenue"]).sum())
    b, c = int(did.sum()) - a, int(frame["Revenue"].sum()) - a
    ref = Table2x2(np.array([[a, b], [c, seen - a - b - c]]))
    assert (d.persons, d.converters) == (seen, 1908) == (12324, 1908)
    assert admin.odds_ratio == pytest.approx(ref.oddsratio)
    assert (admin.ci_lower, admin.ci_upper) == pytest.approx(ref.oddsratio_confint(0.05))
    assert admin.significant and admin.odds_ratio > 2
    score = lead_score(store, l2=0.0, seed=1)
    assert [f.event for f in score.features] == sorted(PAGES.values())
    x = np.column_stack([np.minimum(frame[col], CAP) for col in sorted(PAGES, key=PAGES.get)])
    ref_fit = Logit(frame["Revenue"].astype(float), np.column_stack([np.ones(len(x)), x])).fit(
        disp=0
    )
    full = lead_score(store, l2=0.0, test_share=0.0001, seed=1)
    assert full.train_persons == 12323
    assert score.test_persons == 3697 and 0.6 < score.test_auc < 0.9
    assert [f.coefficient for f in full.features] == pytest.approx(
        list(ref_fit.params[1:]), rel=0.05
    )
    assert all(f.points > 0 for f in score.features)


def test_planted_micro_conversions_predict_purchase(
    shop_stores: dict[str, Store], planted: Planted
) -> None:
    runs = [drivers(s, properties=["device"]) for s in shop_stores.values()]
    assert runs[0] == runs[1]
    by_name = {x.candidate: x for x in runs[0].drivers}
    guide, video = by_name["size_guide_open"], by_name["video_play"]
    assert guide.significant and guide.odds_ratio > 1.5
    assert guide.odds_ratio > video.odds_ratio
    scores = [lead_score(s, features=["size_guide_open", "review_read", "video_play"])
              for s in shop_stores.values()]  # fmt: skip
    assert scores[0] == scores[1]
    points = {f.event: f.points for f in scores[0].features}
    assert points["size_guide_open"] > points["video_play"]
    assert planted.size_guide_atc_multiplier > planted.video_play_atc_multiplier
