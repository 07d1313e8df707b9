"""The official GrowthBook SDK reads our features over HTTP and agrees with our evaluator."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
from growthbook import GrowthBook
from tests.helpers import new_project, running_server

from microfunnel.experiments.features import Evaluator
from microfunnel.experiments.serving import load_project_definitions
from microfunnel.sim.experiments import demo_experiments_yaml

FLAGS = ["free-shipping-banner", "hero-image", "size-guide-prompt", "discount-popup"]


def _users(n: int) -> list[dict[str, object]]:
    rng = random.Random(3)
    return [
        {
            "id": f"u{i}",
            "device": rng.choice(["mobile", "desktop", "tablet"]),
            "returning": rng.random() < 0.4,
            "session_duration": rng.uniform(0, 400),
            "scroll_depth": rng.uniform(0, 100),
        }
        for i in range(n)
    ]


def test_official_sdk_reads_our_features(tmp_path: Path) -> None:
    created = new_project(tmp_path / "shop")
    (tmp_path / "shop" / "experiments.yaml").write_text(demo_experiments_yaml())
    with running_server(created.project) as url:
        payload = httpx.get(f"{url}/api/features/{created.write_key}").json()
        ours = Evaluator.from_payload(payload)
        expected = Evaluator.from_payload(load_project_definitions(created.project).payload())
        seen = set()
        for user in _users(300):
            gb = GrowthBook(api_host=url, client_key=created.write_key, attributes=user)
            gb.load_features()
            for flag in FLAGS:
                theirs = gb.eval_feature(flag)
                mine = ours.eval_feature(flag, user)
                assert theirs.value == mine.value == expected.eval_feature(flag, user).value
                assert theirs.source == mine.source
                seen.add((flag, repr(mine.value)))
            gb.destroy()
    # Every arm of the banner and of the bandit was served to someone.
    assert {("free-shipping-banner", "True"), ("free-shipping-banner", "False")} <= seen
    assert {("hero-image", f"'{v}'") for v in ("studio", "lifestyle", "model")} <= seen


def test_unknown_client_key_is_a_json_404(tmp_path: Path) -> None:
    created = new_project(tmp_path / "shop")
    with running_server(created.project) as url:
        response = httpx.get(f"{url}/api/features/mfw_not-a-key")
        assert response.status_code == 404
        assert "write key" in response.json()["error"]["message"]
        empty = httpx.get(f"{url}/api/features/{created.write_key}").json()
        assert empty["features"] == {}
