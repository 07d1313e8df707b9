"""The funnel CLI commands and HTTP routes: parse, call one analysis, render (table or JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from tests.helpers import new_project, running_server
from typer.testing import CliRunner

from microfunnel.analytics.funnel_spec import parse_window, step_from_json
from microfunnel.cli import app
from microfunnel.errors import QueryError
from microfunnel.project import CreatedProject

sys.path.insert(0, str(Path(__file__).parent))
from funnel_data import ev

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> CreatedProject:
    created = new_project(tmp_path / "shop")
    store = created.project.open_store()
    try:
        store.insert_events(
            [
                ev("a", "view_item", 0), ev("a", "add_to_cart", 10), ev("a", "purchase", 100),
                ev("b", "view_item", 0, device="mobile"),
                ev("b", "add_to_cart", 50, device="mobile"),
                ev("c", "view_item", 0, device="mobile"),
            ]
        )  # fmt: skip
    finally:
        store.close()
    return created


def test_cli_funnel_segments_velocity(project: CreatedProject) -> None:
    folder = str(project.project.path)
    out = runner.invoke(app, ["funnel", "view_item", "add_to_cart", "purchase", "-p", folder])
    assert out.exit_code == 0, out.output
    assert "add_to_cart -> purchase" in out.output
    out = runner.invoke(app, ["funnel", "view_item", "add_to_cart", "purchase", "--window", "1h",
                              "--breakdown", "device", "--json", "-p", folder])  # fmt: skip
    data = json.loads(out.output)
    assert [s["count"] for s in data["steps"]] == [3, 2, 1]
    assert [g["segment"] for g in data["segments"]] == ["mobile", "desktop"]
    out = runner.invoke(
        app, ["segments", "view_item", "add_to_cart", "--min-units", "1", "-p", folder]
    )
    assert out.exit_code == 0 and "mobile loses the most" in out.output
    out = runner.invoke(app, ["velocity", "view_item", "purchase", "--by", "device", "-p", folder])
    assert out.exit_code == 0 and "time to convert" in out.output
    out = runner.invoke(app, ["funnel", "view_item", "add_to_kart", "-p", folder])
    assert out.exit_code == 2 and "Did you mean 'add_to_cart'" in out.output
    out = runner.invoke(app, ["funnel", "view_item", "purchase", "--window", "soon", "-p", folder])
    assert out.exit_code == 2 and "30m, 24h or 7d" in out.output


def test_cli_weekly_trend_marks_the_weeks_the_range_cuts_short(project: CreatedProject) -> None:
    folder = str(project.project.path)
    # every event is on Wednesday 2024-05-01: its week (from Monday 04-29) ends with the data
    out = runner.invoke(app, ["trends", "add_to_cart", "--week", "-p", folder])
    assert out.exit_code == 0, out.output
    assert "days (partial)" in out.output and "3 of 7" in out.output
    out = runner.invoke(app, ["trends", "add_to_cart", "--week", "--json", "-p", folder])
    assert [(p["period"], p["days"]) for p in json.loads(out.output)["points"]] == [
        ("2024-04-29", 3)
    ]


def test_routes(project: CreatedProject) -> None:
    headers = {"Authorization": f"Bearer {project.secret_key}"}
    with (
        running_server(project.project) as url,
        httpx.Client(base_url=url, headers=headers) as client,
    ):
        body = {
            "steps": ["view_item", {"event": "add_to_cart", "window": "1h"}, "purchase"],
            "window": "24h",
            "breakdown": {"by": "device", "top": 5},
        }
        r = client.post("/api/funnel", json=body)
        assert r.status_code == 200, r.text
        assert [s["count"] for s in r.json()["steps"]] == [3, 2, 1]
        r = client.post("/api/funnel/segments", json={**body, "by": "device", "min_units": 1})
        assert r.json()["worst"]["segment"] == "mobile"
        r = client.post("/api/funnel/time-to-convert", json=body)
        assert r.json()["overall"]["converted"] == 1
        r = client.get("/api/velocity", params={"by": "device"})
        assert {s["segment"] for s in r.json()["segments"]} == {"mobile", "desktop"}
        r = client.post("/api/funnel", json={"steps": ["view_item", "nope"]})
        assert r.status_code == 400 and "unknown event 'nope'" in r.text
        r = client.get("/api/velocity", params={"behaviour": "sizes"})
        assert r.status_code == 400


def test_json_forms() -> None:
    assert parse_window("30m").total_seconds() == 1800
    step = step_from_json({"event": ["a", "b"], "where": {"value": ["gt", 5]}, "optional": True})
    assert step.events == ("a", "b") and step.where == {"value": ("gt", 5)} and step.optional
    with pytest.raises(QueryError):
        step_from_json({"name": "a"})
