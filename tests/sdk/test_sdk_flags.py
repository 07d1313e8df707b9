"""Local flag evaluation in the Python SDK: same answers as the server's Evaluator, one exposure
per user and arm, a payload that refreshes in the background."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from microfunnel.experiments.features import Evaluator
from microfunnel.experiments.payload import build_payload
from microfunnel.sdk import Client, MockSink

MakeClient = Callable[..., Client]

FLAGS = [
    {
        "key": "checkout-popup",
        "type": "boolean",
        "default": False,
        "rules": [
            {"type": "force", "id": "staff", "condition": {"staff": True}, "value": True},
            {"type": "experiment", "id": "popup", "experiment": "popup-test"},
        ],
    },
    {
        "key": "free-shipping-banner",
        "type": "boolean",
        "default": False,
        "rules": [
            {"type": "rollout", "id": "half", "value": True, "coverage": 0.5, "holdout": 0.2}
        ],
    },
]
EXPERIMENTS = [
    {
        "key": "popup-test",
        "variations": [{"key": "control", "value": False}, {"key": "popup", "value": True}],
    }
]


@pytest.fixture
def payload(sink: MockSink) -> dict[str, Any]:
    sink.features = build_payload(FLAGS, EXPERIMENTS, date_updated="2025-01-01T00:00:00.000Z")
    return sink.features


def exposures(sink: MockSink) -> list[dict[str, Any]]:
    return [e for e in sink.events if e["event"] == "experiment_exposure"]


def test_flags_agree_with_the_server_evaluator(
    payload: dict[str, Any], make_client: MakeClient
) -> None:
    client = make_client()
    reference = Evaluator.from_payload(payload)
    values = []
    for i in range(200):
        attributes = {"id": f"user-{i}"}
        for key in ("checkout-popup", "free-shipping-banner"):
            ours = client.feature(key, attributes)
            theirs = reference.eval_feature(key, attributes)
            assert ours.to_dict() == theirs.to_dict()
        values.append(client.is_on("checkout-popup", attributes))
    assert 60 < sum(values) < 140  # a 50/50 split of 200 users


def test_an_exposure_is_logged_once_per_user_and_arm(
    sink: MockSink, payload: dict[str, Any], make_client: MakeClient
) -> None:
    client = make_client()
    result = client.feature("checkout-popup", {"id": "user-1"}, user_id="user-1")
    for _ in range(3):
        client.feature("checkout-popup", {"id": "user-1"}, user_id="user-1")
        client.is_on("checkout-popup", {"id": "user-1"}, user_id="user-1")
    client.feature("checkout-popup", {"id": "user-2"}, anonymous_id="anon-2")
    client.feature("checkout-popup", {"id": "user-3"})
    client.flush()
    first, second, third = exposures(sink)
    assert result.experiment_result is not None
    assert first["properties"] == {
        "experiment_id": "popup-test",
        "variation_id": result.experiment_result.key,
        "feature_id": "checkout-popup",
    }
    assert first["properties"]["variation_id"] in ("control", "popup")
    assert first["user_id"] == "user-1"
    assert second["anonymous_id"] == "anon-2" and "user_id" not in second
    assert third["anonymous_id"] == "user-3"  # no ids given: the bucketed attribute


def test_forced_values_are_not_exposures(
    sink: MockSink, payload: dict[str, Any], make_client: MakeClient
) -> None:
    client = make_client()
    assert client.is_on("checkout-popup", {"id": "user-1", "staff": True})
    assert client.feature("checkout-popup", {"staff": True}).source == "force"
    client.flush()
    assert exposures(sink) == []


def test_holdout_arms_are_exposures_too(
    sink: MockSink, payload: dict[str, Any], make_client: MakeClient
) -> None:
    client = make_client()
    for i in range(100):
        client.feature("free-shipping-banner", {"id": f"user-{i}"})
    client.flush()
    arms = [e["properties"]["variation_id"] for e in exposures(sink)]
    assert len(arms) == 100
    assert {e["properties"]["experiment_id"] for e in exposures(sink)} == {
        "free-shipping-banner-half-holdout"
    }
    assert 5 < arms.count("holdout") < 40


def test_the_payload_is_refreshed_in_the_background(
    sink: MockSink, payload: dict[str, Any], make_client: MakeClient
) -> None:
    client = make_client(flags_interval=0.05)
    assert client.feature("checkout-popup", {"id": "u", "staff": True}).value is True
    sink.features = {"features": {"checkout-popup": {"defaultValue": "gone"}}}
    deadline = time.monotonic() + 5
    while client.feature("checkout-popup", {"id": "u"}).value != "gone":
        assert time.monotonic() < deadline, "the new payload never arrived"
        time.sleep(0.02)
    fetches = [r for r in sink.requests if r.path.startswith("/api/features/")]
    assert fetches[0].path == "/api/features/wk_test_123"


def test_an_unreachable_payload_means_unknown_features_not_a_crash(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="microfunnel.sdk"):
        client = make_client(transport=MockSink(write_key="another-project"))
        result = client.feature("checkout-popup", {"id": "u"})
    assert (result.value, result.source) == (None, "unknownFeature")
    assert "could not load feature flags" in caplog.text
