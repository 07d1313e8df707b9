"""CLI, HTTP routes, units files, the registry, adaptive weights and triggers, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.helpers import new_project, running_server
from typer.testing import CliRunner

from microfunnel.cli import app
from microfunnel.config import Project
from microfunnel.events.model import Event
from microfunnel.experiments import FlagServer, load_project_definitions, project_payload
from microfunnel.project import CreatedProject
from microfunnel.sim import simulate_arrow
from microfunnel.sim.experiments import demo_experiments_yaml

HYPOTHESES = """
hypotheses:
  - key: size-guide
    problem: Apparel shoppers abandon over fit doubts.
    change: Open the size guide inline.
    expected_lift: 0.05
    ice: {impact: 5, confidence: 5, ease: 9}
    pxl: {above_fold: true, ease: 3}
  - key: shipping-banner
    problem: Exit surveys name shipping costs.
    change: A free-shipping banner on product pages.
    expected_lift: 0.10
    ice: {impact: 8, confidence: 6, ease: 6}
    pxl: {noticeable_5s: true, adds_or_removes: true, high_traffic: true, analytics: true, ease: 2}
"""


@pytest.fixture(scope="module")
def shop_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CreatedProject]:
    folder = Path(tmp_path_factory.mktemp("workflow")) / "shop"
    created = new_project(folder)
    (folder / "experiments.yaml").write_text(demo_experiments_yaml())
    (folder / "hypotheses.yaml").write_text(HYPOTHESES)
    store = created.project.open_store()
    store.insert_arrow(simulate_arrow(150_000, seed=8))
    store.close()
    yield created


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["experiment", *args])
    return result.exit_code, result.output


def test_cli_commands(shop_project: CreatedProject) -> None:
    p = str(shop_project.project.path)
    code, out = _cli("list", "-p", p, "--json")
    assert code == 0 and {e["key"] for e in json.loads(out)} >= {"aa_check", "hero_image"}
    code, out = _cli("analyze", "free_shipping_banner", "-p", p, "--json")
    report = json.loads(out)
    assert code == 0 and report["decision"]["outcome"] == "no_decision"  # the tracking break
    code, out = _cli("analyze", "aa_check", "-p", p, "--until", "2024-04-15")
    assert code == 0 and "Keep running: add_to_cart" in out and "keep_running" not in out
    assert "always-" in out and "chance" in out  # the metrics table, numbers not cut
    code, out = _cli("plan", "free_shipping_banner", "-p", p, "--json")
    plan = json.loads(out)
    assert code == 0 and plan["n_per_arm"] > 1000 and plan["days"] >= 1 and plan["arms"] == 2
    code, out = _cli("hypotheses", "-p", p, "--json")
    assert [h["key"] for h in json.loads(out)] == ["shipping-banner", "size-guide"]
    code, out = _cli("hypotheses", "-p", p, "--by", "ice")
    assert code == 0 and out.index("shipping-banner") < out.index("size-guide")
    code, out = _cli("decide", "srm_demo", "-p", p, "--learning", "widget assignment is broken")
    assert code == 0 and "recorded: No decision: sample ratio mismatch" in out
    code, out = _cli("log", "-p", p, "--markdown")
    assert "## srm_demo: no_decision" in out and "learning: widget assignment is broken" in out
    assert "| shipping-banner | 8 |" in out
    code, out = _cli("analyze", "free_shiping", "-p", p)
    assert code == 2 and "did you mean `free_shipping_banner`" in out


def test_adaptive_weights_are_served_through_the_flags_endpoint(tmp_path: Path) -> None:
    project = new_project(tmp_path / "bandit").project
    (project.path / "experiments.yaml").write_text(demo_experiments_yaml())
    store = project.open_store()
    try:
        arms = ["studio", "lifestyle", "model"]
        events = []
        for i in range(900):  # lifestyle converts best
            arm = arms[i % 3]
            person = f"h{i}"
            exposure = {"experiment_id": "hero_image", "variation_id": arm}
            events.append(_event("experiment_exposure", person, i, exposure))
            if i % (2 if arm == "lifestyle" else 9) == 0:
                events.append(_event("add_to_cart", person, i + 1))
        store.insert_events(events)
        code, out = _cli("adapt", "-p", str(project.path), "--json")
    finally:
        store.close()
    weights = json.loads(out)["hero_image"]
    assert code == 0 and weights == pytest.approx([0.05, 0.9, 0.05])  # the floor keeps 5 %
    payload = project_payload(Project(project.path))
    (rule,) = payload["features"]["hero-image"]["rules"]
    assert rule["weights"] == pytest.approx(weights)


def _event(name: str, person: str, minute: int, properties: dict[str, str] | None = None) -> Event:
    t = datetime(2024, 4, 2, tzinfo=UTC) + timedelta(minutes=minute)
    return Event(event=name, event_id=f"{person}-{name}", anonymous_id=person, timestamp=t,
                 received_at=t, properties=properties or {})  # fmt: skip


def test_http_routes(shop_project: CreatedProject) -> None:
    headers = {"Authorization": f"Bearer {shop_project.secret_key}"}
    with running_server(shop_project.project) as url:
        listed = httpx.get(f"{url}/api/experiments", headers=headers).json()
        assert "free_shipping_banner" in {e["key"] for e in listed}
        report = httpx.get(f"{url}/api/experiments/aa_check/report", headers=headers,
                           params={"until": "2024-04-15T00:00:00"}, timeout=60).json()  # fmt: skip
        assert report["decision"]["outcome"] == "keep_running"
        plan = httpx.get(f"{url}/api/experiments/aa_check/plan", headers=headers).json()
        assert plan["design"] == "msprt" and plan["n_per_arm"] > 0
        denied = httpx.get(
            f"{url}/api/experiments", headers={"Authorization": f"Bearer {shop_project.write_key}"}
        )
        assert denied.status_code == 403  # fmt: skip
        bad = {"variations": ["a", "b"], "primary": "add_to_cart", "weights": [0.7, 0.7]}
        response = httpx.put(f"{url}/api/experiments/new_test", headers=headers, json=bad)
        assert response.status_code == 400 and "sum to 1.4" in response.json()["error"]["message"]
        good = {**bad, "weights": [0.7, 0.3]}
        assert httpx.put(f"{url}/api/experiments/new_test", headers=headers, json=good).is_success
    assert load_project_definitions(shop_project.project).experiment("new_test").weights == (
        0.7, 0.3,
    )  # fmt: skip


def test_units_file_analysis_with_cuped(shop_project: CreatedProject, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 8000
    arm = np.where(rng.random(n) < 0.5, "control", "treatment")
    pre = rng.gamma(2.0, 20.0, n)
    revenue = pre + rng.normal(0, 10, n) + 3.0 * (arm == "treatment")
    table = pa.table({
        "unit": [f"u{i}" for i in range(n)], "arm": arm,
        "add_to_cart": (rng.random(n) < 0.1).astype(int),
        "revenue_per_visitor": revenue, "revenue_per_visitor_pre": pre,
        "device": rng.choice(["mobile", "desktop"], n),
    })  # fmt: skip
    path = tmp_path / "units.parquet"
    pq.write_table(table, path)
    code, out = _cli("analyze", "free_shipping_banner", "--units", str(path), "-p",
                     str(shop_project.project.path), "--json")  # fmt: skip
    assert code == 0, out
    report = json.loads(out)
    revenue_result = next(m for m in report["metrics"] if m["metric"] == "revenue_per_visitor")
    assert revenue_result["cuped_variance_removed"] > 0.7
    assert revenue_result["ci_lower"] <= 3.0 <= revenue_result["ci_upper"]
    assert {s["value"] for s in report["segments"]} >= {"mobile", "desktop"}
    csv = tmp_path / "units.csv"
    csv.write_text("unit,arm\nu1,control\n")
    code, out = _cli("analyze", "free_shipping_banner", "--units", str(csv), "-p",
                     str(shop_project.project.path))  # fmt: skip
    assert code == 2 and "primary metric `add_to_cart`" in out


def test_trigger_logs_exposure_only_when_it_fires_and_holdouts_are_logged() -> None:
    payload = {
        "features": {
            "popup": {"defaultValue": False, "rules": [{
                "key": "discount_popup", "variations": [False, True],
                "meta": [{"key": "control"}, {"key": "popup"}], "hashVersion": 2,
                "condition": {"device": "mobile", "session_duration": {"$gt": 120}},
            }]},
        }
    }  # fmt: skip
    seen: list[Event] = []
    server = FlagServer(payload, seen.append)
    arms = set()
    for i in range(200):
        user = {"id": f"u{i}", "device": "mobile", "session_duration": 30}
        first = server.feature("popup", user)
        assert first.source == "defaultValue" and len(seen) == i  # not fired: no exposure
        fired = server.feature("popup", {**user, "session_duration": 200})
        assert fired.source == "experiment"
        arms.add(fired.value)
    assert arms == {False, True} and len(seen) == 200
    assert seen[0].event == "experiment_exposure" and seen[0].anonymous_id == "u0"
    assert len({e.event_id for e in seen}) == 200
    assert seen[0].properties["variation_id"] in ("control", "popup")
    defs = load_project_definitions_from_demo()
    held: list[Event] = []
    rule_server = FlagServer(defs.payload(date_updated="2024-01-01"), held.append)
    values = [rule_server.feature("size-guide-prompt", {"id": f"r{i}", "device": "mobile",
                                                        "returning": True}).value
              for i in range(1000)]  # fmt: skip
    holdout = [e for e in held if e.properties["variation_id"] == "holdout"]
    assert len(held) == 1000 and 60 <= len(holdout) <= 140  # 10 % holdout, randomized
    assert values.count(False) == len(holdout)


def load_project_definitions_from_demo() -> object:
    import yaml

    from microfunnel.experiments import parse_definitions

    return parse_definitions(yaml.safe_load(demo_experiments_yaml()))
