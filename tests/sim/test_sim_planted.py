"""The planted effects are in the raw events of both generators, at their planted size.

Everything here is counted with numpy and pyarrow straight from the generated rows; tolerances
are a few binomial standard errors, so an effect that is missing or of the wrong size fails.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from microfunnel.sim import Planted, simulate_arrow

DAY_US = 86_400 * 1_000_000


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a string column and the strings they stand for."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_numpy(), encoded.dictionary.to_pylist()


@dataclass
class Sessions:
    """Human sessions as numpy arrays: which events each has, its device, day, visitor, arms."""

    counts: dict[str, np.ndarray]
    device: np.ndarray
    day: np.ndarray
    visitor: np.ndarray  # an integer per anonymous id
    arms: dict[str, np.ndarray]  # experiment -> "control"/"treatment"/"" per session

    @classmethod
    def of(cls, table: pa.Table) -> Sessions:
        t = table.filter(pc.invert(table["is_bot"]))
        session, _ = _codes(t["session_id"])
        n = int(session.max()) + 1
        name, names = _codes(t["event"])
        counts = {e: np.bincount(session[name == i], minlength=n) for i, e in enumerate(names)}
        ts = t.column("timestamp").to_numpy().astype("datetime64[us]").astype(np.int64)
        order = np.lexsort((-ts, session))  # each session's first event comes last: wins below
        first = np.empty(n, dtype=np.int64)
        first[session[order]] = ts[order]
        device_code, devices = _codes(t["device"])
        device = np.empty(n, dtype=object)
        device[session] = np.array(devices, dtype=object)[device_code]
        anon, _ = _codes(t["anonymous_id"])
        visitor = np.empty(n, dtype=np.int64)
        visitor[session] = anon
        day = (first - first.min() // DAY_US * DAY_US) // DAY_US
        return cls(counts, device, day, visitor, _arms(t, anon, visitor))

    def has(self, event: str) -> np.ndarray:
        return self.counts.get(event, np.zeros(len(self.device), dtype=np.int64)) > 0


def _arms(t: pa.Table, anon: np.ndarray, visitor: np.ndarray) -> dict[str, np.ndarray]:
    """Each session's arm per experiment, from its visitor's exposure event."""
    is_exposure = pc.equal(t["event"], "experiment_exposure").to_numpy(zero_copy_only=False)
    pattern = '"experiment_id":"(?P<e>[^"]+)","variation_id":"(?P<v>[^"]+)"'
    found = pc.extract_regex(t["properties"].filter(pa.array(is_exposure)), pattern)
    found = found.combine_chunks()
    experiment = found.field("e").to_numpy(zero_copy_only=False)
    variation = found.field("v").to_numpy(zero_copy_only=False)
    who = anon[is_exposure]
    arms = {}
    for e in np.unique(experiment):
        arm = np.full(int(anon.max()) + 1, "", dtype=object)
        arm[who[experiment == e]] = variation[experiment == e]
        arms[str(e)] = arm[visitor]
    return arms


def assert_rate(hits: int, n: int, p: float, sigmas: float = 4.0) -> None:
    """``hits / n`` is within ``sigmas`` binomial standard errors of ``p``."""
    assert n > 0
    se = math.sqrt(p * (1 - p) / n)
    assert abs(hits / n - p) <= sigmas * se + 1e-9, (hits, n, hits / n, p)


def ratio_with_se(hit_t: int, n_t: int, hit_c: int, n_c: int) -> tuple[float, float]:
    """Rate ratio treatment/control and the standard error of its log."""
    ratio = (hit_t / n_t) / (hit_c / n_c)
    return ratio, math.sqrt(1 / hit_t - 1 / n_t + 1 / hit_c - 1 / n_c)


@pytest.fixture(scope="module", params=["shop", "bulk"])
def table(request: pytest.FixtureRequest) -> pa.Table:
    """Both generators: they share one shop and one set of planted effects."""
    return request.getfixturevalue(f"{request.param}_table")


@pytest.fixture(scope="module")
def sessions(table: pa.Table) -> Sessions:
    return Sessions.of(table)


def test_mobile_drops_between_shipping_and_payment(sessions: Sessions, planted: Planted) -> None:
    shipping, payment = sessions.has("add_shipping_info"), sessions.has("add_payment_info")
    for device in ("desktop", "mobile", "tablet"):
        mine = shipping & (sessions.device == device)
        rate = planted.shipping_to_payment(device)
        assert_rate(int((payment & mine).sum()), int(mine.sum()), rate)


def test_shipping_to_payment_is_the_worst_checkout_step_on_mobile(sessions: Sessions) -> None:
    mobile = sessions.device == "mobile"
    steps = ["add_to_cart", "begin_checkout", "add_shipping_info", "add_payment_info", "purchase"]
    reached = [sessions.has(s) & mobile for s in steps]
    chained = [reached[0]]
    for r in reached[1:]:
        chained.append(chained[-1] & r)
    rates = {
        f"{a}->{b}": chained[i + 1].sum() / chained[i].sum()
        for i, (a, b) in enumerate(itertools.pairwise(steps))
    }
    assert min(rates, key=rates.__getitem__) == "add_shipping_info->add_payment_info", rates


def test_desktop_add_to_cart_stops_on_the_break_day(sessions: Sessions, planted: Planted) -> None:
    assert planted.tracking_break_day is not None
    after = sessions.day >= planted.tracking_break_day
    viewed = sessions.has("view_item")
    added = sessions.has(planted.tracking_break_event)
    checkout = sessions.has("begin_checkout")
    desktop = sessions.device == planted.tracking_break_device
    mobile = sessions.device == "mobile"
    assert added[desktop & ~after].sum() / viewed[desktop & ~after].sum() > 0.08
    assert added[desktop & after].sum() == 0
    assert checkout[desktop & after].sum() > 0  # shoppers still shop; only the event is lost
    before_rate = added[mobile & ~after].sum() / viewed[mobile & ~after].sum()
    after_rate = added[mobile & after].sum() / viewed[mobile & after].sum()
    assert after_rate == pytest.approx(before_rate, rel=0.25)


def test_some_shoppers_loop_between_shipping_and_cart(table: pa.Table, planted: Planted) -> None:
    t = table.filter(pc.is_in(table["event"], pa.array(["add_shipping_info", "view_cart"])))
    t = t.sort_by([("session_id", "ascending"), ("timestamp", "ascending")])
    session = t.column("session_id").to_numpy(zero_copy_only=False)
    ship = t.column("event").to_numpy(zero_copy_only=False) == "add_shipping_info"
    same = (session[2:] == session[:-2]) & (session[1:-1] == session[:-2])
    loop = same & ship[:-2] & ~ship[1:-1] & ship[2:]
    looped = len(set(session[:-2][loop]))
    shipped = len(set(session[ship]))
    assert_rate(looped, shipped, planted.shipping_loop_rate)


def test_experiment_arms_split_as_planted(sessions: Sessions, planted: Planted) -> None:
    first = np.unique(sessions.visitor, return_index=True)[1]
    shares = {
        planted.experiment_id: 0.5,
        planted.aa_experiment_id: 0.5,
        str(planted.srm_experiment_id): planted.srm_control_share,
    }
    for experiment, share in shares.items():
        arm = sessions.arms[experiment][first]
        assert set(arm) == {"control", "treatment"}
        assert_rate(int((arm == "control").sum()), len(arm), share)


def test_srm_split_is_a_clear_mismatch_at_bulk_scale(
    bulk_table: pa.Table, planted: Planted
) -> None:
    sessions = Sessions.of(bulk_table)
    first = np.unique(sessions.visitor, return_index=True)[1]
    srm = sessions.arms[str(planted.srm_experiment_id)][first]
    z = ((srm == "control").mean() - 0.5) / math.sqrt(0.25 / len(srm))
    assert z > 5  # what an SRM check must flag


def _atc_ratio(sessions: Sessions, experiment: str) -> tuple[float, float]:
    viewed = sessions.has("view_item") & (sessions.day < 20)  # before the tracking break
    added = sessions.has("add_to_cart")
    arm = sessions.arms[experiment]
    t, c = viewed & (arm == "treatment"), viewed & (arm == "control")
    return ratio_with_se(int(added[t].sum()), int(t.sum()), int(added[c].sum()), int(c.sum()))


def test_treatment_lifts_add_to_cart_and_aa_does_nothing(
    sessions: Sessions, planted: Planted
) -> None:
    ratio, se = _atc_ratio(sessions, planted.experiment_id)
    assert abs(math.log(ratio) - math.log1p(planted.experiment_atc_lift)) < 3 * se
    ratio, se = _atc_ratio(sessions, planted.aa_experiment_id)
    assert abs(math.log(ratio)) < 3 * se


def test_a_strong_planted_lift_is_recovered_precisely() -> None:
    strong = Planted(experiment_atc_lift=1.0, experiment_extra_item_rate=0.8)
    table = simulate_arrow(200_000, seed=9, planted=strong)
    sessions = Sessions.of(table)
    ratio, se = _atc_ratio(sessions, strong.experiment_id)
    assert abs(math.log(ratio) - math.log(2.0)) < 3 * se and ratio > 1.6
    purchases = table.filter(pc.equal(table["event"], "purchase"))
    lines = pc.count_substring(purchases["properties"], '"item_id"').to_numpy()
    anon, _ = _codes(table["anonymous_id"])
    arm_of_visitor = dict(zip(sessions.visitor, sessions.arms[strong.experiment_id], strict=True))
    bought = anon[pc.equal(table["event"], "purchase").to_numpy(zero_copy_only=False)]
    treated = np.array([arm_of_visitor[v] == "treatment" for v in bought])
    assert lines[treated].mean() - 1 == pytest.approx(strong.experiment_extra_item_rate, abs=0.1)
    assert lines[~treated].mean() - 1 == pytest.approx(strong.cart_extra_item_rate, abs=0.1)
    assert strong.experiment_aov_lift == pytest.approx(1.8 / 1.25 - 1)


def test_micro_conversions_predict_purchase(sessions: Sessions) -> None:
    viewed = sessions.has("view_item")
    bought = sessions.has("purchase")

    def lift(event: str) -> float:
        did = viewed & sessions.has(event)
        return float(bought[did].mean() / bought[viewed & ~did].mean())

    size_guide, reviews, video = lift("size_guide_open"), lift("review_read"), lift("video_play")
    assert size_guide > 1.4 and reviews > 1.3
    assert video < 1.35 and video < min(size_guide, reviews)
