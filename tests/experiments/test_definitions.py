"""experiments.yaml: valid definitions load; each mistake names the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from microfunnel.errors import DefinitionError
from microfunnel.events.plan import TrackingPlan
from microfunnel.experiments.definitions import load_definitions, parse_definitions
from microfunnel.sim import Planted
from microfunnel.sim.experiments import demo_experiments_yaml

EVENTS = TrackingPlan.default().event_names


def _demo() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(demo_experiments_yaml())
    return raw


def _experiment(raw: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in raw["experiments"] if e["key"] == key)
    return found


def test_demo_definitions_match_the_planted_experiments() -> None:
    defs = parse_definitions(_demo(), events=EVENTS)
    planted = Planted()
    banner = defs.experiment(planted.experiment_id)
    assert banner.arms == ("control", "treatment")
    assert banner.primary.measure.events == (planted.tracking_break_event,)
    assert banner.mde == pytest.approx(planted.experiment_atc_lift)
    assert [m.key for m in banner.guardrails] == ["checkout_error_rate"]
    assert banner.guardrails[0].higher_is_better is False
    assert banner.stopping.method == "msprt"
    assert {planted.aa_experiment_id, planted.srm_experiment_id} <= set(defs.experiments)
    popup = defs.experiment("discount_popup")
    assert popup.trigger["device"] == "mobile" and popup.status == "draft"


def test_unknown_metric_event_suggests_the_plan_name() -> None:
    raw = _demo()
    raw["metrics"]["revenue_per_visitor"]["event"] = "purchse"
    with pytest.raises(DefinitionError) as err:
        parse_definitions(raw, events=EVENTS)
    message = err.value.message
    assert "`revenue_per_visitor`" in message and "`purchse`" in message
    assert "did you mean `purchase`" in message and "tracking-plan.yaml" in message


def test_unknown_primary_metric_says_where_to_define_it() -> None:
    raw = _demo()
    _experiment(raw, "aa_check")["primary"] = "add_to_kart"
    with pytest.raises(DefinitionError, match=r"aa_check.*add_to_kart.*did you mean `add_to_cart`"):
        parse_definitions(raw, events=EVENTS)


def test_weights_must_sum_to_one() -> None:
    raw = _demo()
    _experiment(raw, "srm_demo")["weights"] = [0.5, 0.6]
    with pytest.raises(DefinitionError) as err:
        parse_definitions(raw, events=EVENTS)
    assert "`srm_demo`" in err.value.message and "sum to 1.1" in err.value.message
    assert "make them sum to 1" in err.value.message and err.value.field == "weights"


def test_overlapping_namespaces_are_refused() -> None:
    raw = _demo()
    _experiment(raw, "hero_image")["namespace"] = {"id": "pdp", "range": [0.4, 1]}
    with pytest.raises(DefinitionError) as err:
        parse_definitions(raw, events=EVENTS)
    message = err.value.message
    assert "`discount_popup`" in message and "`hero_image`" in message
    assert "overlap on [0.4, 0.5]" in message and "disjoint" in message


def test_a_stopped_experiment_frees_its_namespace_range() -> None:
    raw = _demo()
    _experiment(raw, "hero_image")["namespace"] = {"id": "pdp", "range": [0.4, 1]}
    _experiment(raw, "discount_popup")["status"] = "stopped"
    assert parse_definitions(raw, events=EVENTS).experiment("hero_image").namespace == (
        "pdp", 0.4, 1.0,
    )  # fmt: skip


def test_trigger_on_unknown_attribute_lists_the_known_ones() -> None:
    raw = _demo()
    _experiment(raw, "discount_popup")["trigger"] = {"scrol_depth": {"$gt": 50}}
    with pytest.raises(DefinitionError) as err:
        parse_definitions(raw, events=EVENTS)
    message = err.value.message
    assert "unknown attribute `scrol_depth`" in message and "did you mean `scroll_depth`" in message
    assert "attributes:" in message
    raw["attributes"] = ["scrol_depth"]
    assert parse_definitions(raw, events=EVENTS).experiment("discount_popup").trigger


def test_other_mistakes_name_the_fix() -> None:
    cases: list[tuple[str, Any, str]] = [
        ("variations", ["only"], "at least 2 arms"),
        ("status", "live", "use one of draft, running, stopped"),
        ("stopping", {"rule": "peeking"}, "use one of msprt"),
        ("segments", ["devise"], "did you mean `device`"),
        ("start", "last tuesday", "a date like 2024-04-01"),
        ("hypotesis", "x", "unknown field `hypotesis` (did you mean `hypothesis`?)"),
    ]
    for field, value, expected in cases:
        raw = _demo()
        _experiment(raw, "aa_check")[field] = value
        with pytest.raises(DefinitionError) as err:
            parse_definitions(raw, events=EVENTS)
        assert expected in err.value.message, field
    raw = _demo()
    raw["metrics"]["revenue_per_visitor"]["cap"] = 99
    with pytest.raises(DefinitionError, match=r"such as 0\.99"):
        parse_definitions(raw, events=EVENTS)
    raw = copy.deepcopy(_demo())
    raw["experiments"].append(_experiment(raw, "aa_check"))
    with pytest.raises(DefinitionError, match="defined twice"):
        parse_definitions(raw, events=EVENTS)


def test_trigger_joins_the_targeting_in_the_payload() -> None:
    raw = _demo()
    popup = _experiment(raw, "discount_popup")
    popup["status"] = "running"
    popup["condition"] = {"country": "DE"}
    payload = parse_definitions(raw, events=EVENTS).payload(date_updated="2024-01-01")
    (rule,) = payload["features"]["discount-popup"]["rules"]
    assert rule["condition"] == {
        "$and": [{"country": "DE"}, {"device": "mobile", "session_duration": {"$gt": 120},
                                     "scroll_depth": {"$gte": 50}}]
    }  # fmt: skip


def test_load_from_file_and_absent_file(tmp_path: Path) -> None:
    assert load_definitions(tmp_path / "missing.yaml").experiments == {}
    path = tmp_path / "experiments.yaml"
    path.write_text("experiments: [\n")
    with pytest.raises(DefinitionError, match="not valid YAML"):
        load_definitions(path)
    path.write_text(demo_experiments_yaml())
    assert "free_shipping_banner" in load_definitions(path, events=EVENTS).experiments
    with pytest.raises(DefinitionError, match=r"No experiment `free_shipping` .*did you mean"):
        load_definitions(path).experiment("free_shipping")
