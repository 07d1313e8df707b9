"""Experiment statistics on every engine: a known answer, and identical results on the sim."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from microfunnel.events.model import Event
from microfunnel.experiments.analysis import analyze, experiment_stats
from microfunnel.experiments.definitions import ExperimentDef, parse_definitions
from microfunnel.query.experiment import exposure_summary_sql
from microfunnel.sim import simulate_arrow
from microfunnel.sim.experiments import demo_experiments_yaml
from microfunnel.store.base import Store
from microfunnel.store.duckdb import DuckDBStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EARLY, LATE = datetime(2024, 1, 1), datetime(2025, 1, 1)

DEFINITION = {
    "metrics": {
        "atc_count": {"kind": "count", "event": "add_to_cart"},
        "revenue": {"kind": "revenue", "event": "purchase"},
        "order_value": {
            "kind": "ratio",
            "numerator": {"kind": "revenue", "event": "purchase"},
            "denominator": {"kind": "conversion", "event": "purchase"},
        },
    },
    "experiments": [
        {
            "key": "t",
            "variations": ["control", "treatment"],
            "primary": "add_to_cart",
            "secondary": ["atc_count", "revenue", "order_value"],
            "segments": ["device"],
            "window_hours": 72,
            "covariate_days": 7,
        }
    ],
}


def _ev(name: str, person: str, hours: float, *, device: str = "mobile", bot: bool = False,
        **properties: Any) -> Event:  # fmt: skip
    t = T0 + timedelta(hours=hours)
    context: dict[str, Any] = {"device": device}
    if bot:
        context["is_bot"] = True
    return Event(
        event=name, event_id=f"{person}-{name}-{hours}", anonymous_id=person, session_id=person,
        timestamp=t, received_at=t, properties=properties, context=context,
    )  # fmt: skip


def _exposure(person: str, hours: float, arm: str, experiment: str = "t", **kw: Any) -> Event:
    return _ev("experiment_exposure", person, hours, experiment_id=experiment, variation_id=arm,
               **kw)  # fmt: skip


EVENTS = [
    _ev("add_to_cart", "p1", -24),  # before exposure: the CUPED covariate
    _exposure("p1", 0, "control"),
    _ev("add_to_cart", "p1", 1),
    _ev("purchase", "p1", 2, value=50.0),
    _ev("purchase", "p1", 100, value=30.0),  # after the 72 h window
    _exposure("p2", 0.2, "treatment", device="desktop"),
    _ev("add_to_cart", "p2", 0.3, device="desktop"),
    _ev("add_to_cart", "p2", 0.5, device="desktop"),
    _ev("purchase", "p2", 1, value=100.0, device="desktop"),
    _exposure("p3", 0, "treatment"),  # seen in both arms: left out
    _exposure("p3", 1, "control"),
    _ev("add_to_cart", "p3", 2),
    _exposure("p4", 0, "control", bot=True),  # a bot: left out
    _exposure("p5", 24, "control"),  # exposed twice, counted once, from the first
    _exposure("p5", 25, "control"),
    _exposure("p6", 0, "treatment", experiment="other"),
]


def _experiment() -> ExperimentDef:
    return parse_definitions(DEFINITION).experiment("t")


def test_known_answer(store: Store) -> None:
    store.insert_events(EVENTS)
    exp = _experiment()
    table = experiment_stats(store, exp, since=EARLY, until=LATE)
    rows = {(str(a), int(d)): i for i, (a, d) in enumerate(zip(table.arm, table.day, strict=True))}
    day0 = int((T0 - datetime(1970, 1, 1, tzinfo=UTC)).days)
    assert set(rows) == {("control", day0), ("control", day0 + 1), ("treatment", day0)}
    control, treatment = (table.total(table.mask(arm=a)) for a in ("control", "treatment"))
    # measures in order: add_to_cart (conversion), atc_count, revenue, purchase (conversion)
    assert control["n"] == 2 and treatment["n"] == 1
    assert (control["m0_sum"], control["c0_sum"], control["m0_c0"]) == (1, 1, 1)
    assert (treatment["m1_sum"], treatment["m1_sq"]) == (2, 4)
    assert (control["m2_sum"], control["m2_sq"]) == (50, 2500)
    assert (treatment["m2_sum"], treatment["m2_m3"]) == (100, 100)
    assert table.values("device") == ["desktop", "mobile"]
    sql, params = exposure_summary_sql(store.dialect, experiment_id="t", since=EARLY, until=LATE)
    summary = store.query(sql, params).to_pylist()[0]
    assert (summary["units"], summary["mixed"]) == (4, 1)


@pytest.fixture(scope="module")
def sim_table() -> pa.Table:
    return simulate_arrow(60_000, seed=21)


@pytest.fixture(scope="module")
def reference(sim_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = DuckDBStore(Path(tmp_path_factory.mktemp("ref")) / "events.duckdb")
    store.insert_arrow(sim_table)
    yield store
    store.close()


def _rows(table: Any) -> dict[tuple[Any, ...], dict[str, float]]:
    out = {}
    for i in range(len(table)):
        key = (table.arm[i], int(table.day[i]), *(table.segment_values[s][i] for s in
                                                    table.segments))  # fmt: skip
        out[key] = {c: float(v[i]) for c, v in table.columns.items()}
    return out


def test_engines_agree_on_the_simulated_shop(
    store: Store, sim_table: pa.Table, reference: Store
) -> None:
    store.insert_arrow(sim_table)
    defs = parse_definitions(yaml.safe_load(demo_experiments_yaml()))
    exp = defs.experiment("free_shipping_banner")
    since, until = EARLY, LATE
    ours, theirs = (_rows(experiment_stats(s, exp, since=since, until=until))
                    for s in (store, reference))  # fmt: skip
    assert ours.keys() == theirs.keys() and len(ours) > 50
    for key, cols in ours.items():
        for name, value in cols.items():
            assert value == pytest.approx(theirs[key][name], rel=1e-9, abs=1e-9), (key, name)
    a = analyze(store, exp, segments=False)
    b = analyze(reference, exp, segments=False)
    assert a.decision == b.decision
    assert [m.relative_effect for m in a.metrics] == pytest.approx(
        [m.relative_effect for m in b.metrics], rel=1e-9
    )
    assert a.health.velocity == b.health.velocity
