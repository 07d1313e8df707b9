"""build_payload: the GrowthBook SDK payload built from our flag and experiment definitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from microfunnel.errors import DefinitionError
from microfunnel.experiments.features import Evaluator
from microfunnel.experiments.payload import build_payload

TEST = {
    "key": "popup-test",
    "variations": [{"key": "control", "value": False}, {"key": "popup", "value": True}],
    "weights": [0.5, 0.5],
}


def flag(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": "popup", "type": "boolean", "default": False, "rules": list(rules), **extra}


def test_payload_shape_and_experiment_rule() -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    rule = {"type": "experiment", "id": "r1", "experiment": "popup-test"}
    payload = build_payload([flag(rule)], [TEST], date_updated=when)
    assert payload["dateUpdated"] == "2025-03-04T05:06:07.891Z"
    assert payload["experiments"] == []
    assert payload["features"]["popup"] == {
        "defaultValue": False,
        "rules": [
            {
                "id": "r1",
                "key": "popup-test",
                "variations": [False, True],
                "meta": [{"key": "control"}, {"key": "popup"}],
                "weights": [0.5, 0.5],
                "coverage": 1.0,
                "hashAttribute": "id",
                "hashVersion": 2,
                "seed": "popup-test",
            }
        ],
    }


def test_disabled_flags_and_draft_experiments_are_left_out() -> None:
    draft = {**TEST, "status": "draft"}
    rule = {"type": "experiment", "experiment": "popup-test"}
    payload = build_payload(
        [flag(rule), {"key": "off", "default": 1, "enabled": False}],
        [draft],
        date_updated="2025-01-01T00:00:00.000Z",
    )
    assert payload["features"] == {"popup": {"defaultValue": False}}


def test_stopped_experiment_serves_released_variation() -> None:
    stopped = {**TEST, "status": "stopped", "released_variation": 1}
    rule = {"type": "experiment", "experiment": "popup-test"}
    payload = build_payload([flag(rule)], [stopped], date_updated="x")
    assert payload["features"]["popup"]["rules"] == [{"force": True}]


def test_holdout_keeps_a_random_share_on_the_default() -> None:
    rule = {"type": "force", "id": "all", "value": True, "holdout": 0.2}
    flags = Evaluator.from_payload(build_payload([flag(rule)], date_updated="x"))
    results = [flags.eval_feature("popup", {"id": f"u{i}"}) for i in range(4000)]
    held = [r for r in results if r.source == "experiment"]
    assert all(r.value is False for r in held)
    assert all(r.value is True and r.source == "force" for r in results if r not in held)
    assert 0.17 < len(held) / len(results) < 0.23


@pytest.mark.parametrize(
    "flags, experiments, message",
    [
        ([flag(default="yes")], [], "is of type boolean but its default is 'yes'"),
        ([flag({"type": "magic"})], [], "use one of force, rollout, experiment"),
        ([flag({"type": "force"})], [], "needs the `value` it serves"),
        ([flag({"type": "rollout", "value": True, "coverage": 2})], [], "from 0 to 1"),
        ([flag({"type": "experiment", "experiment": "nope"})], [], "unknown experiment 'nope'"),
        ([flag(), flag()], [], "defined twice"),
        (
            [flag({"type": "experiment", "experiment": "popup-test"})],
            [{**TEST, "weights": [0.9, 0.9]}],
            "sum to 1",
        ),
        ([{"default": 1}], [], "needs a non-empty string `key`"),
    ],
)
def test_invalid_definitions_say_what_to_fix(
    flags: list[dict[str, Any]], experiments: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(")):
        build_payload(flags, experiments, date_updated="x")


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="timezone-aware"):
        build_payload([], date_updated=datetime(2025, 1, 1))
