"""Evaluator behaviour beyond the conformance suite: errors, overrides, callbacks, the store."""

from __future__ import annotations

from typing import Any

import pytest

from microfunnel.errors import DefinitionError
from microfunnel.experiments.features import (
    Evaluator,
    ExperimentResult,
    InMemoryStickyBucketStore,
    UserContext,
)

EXPERIMENT_FEATURE = {"exp": {"defaultValue": 0, "rules": [{"key": "e", "variations": [1, 2]}]}}


@pytest.mark.parametrize(
    "features, message",
    [
        ({"f": 3}, "must be an object"),
        ({"f": {"rules": {"force": 1}}}, "must be a list"),
        ({"f": {"rules": [{"condition": "country=US", "force": 1}]}}, "must be a JSON object"),
        ({"f": {"rules": [{"condition": {"$or": {"a": 1}}, "force": 1}]}}, "list of conditions"),
    ],
)
def test_bad_definitions_raise_definition_error(features: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Evaluator(features)


def test_inline_experiment_needs_key_and_variations() -> None:
    with pytest.raises(DefinitionError, match="`variations`"):
        Evaluator().run({"key": "x"}, {"id": "1"})


def test_forced_feature_overrides_rules() -> None:
    flags = Evaluator(EXPERIMENT_FEATURE)
    user = UserContext(attributes={"id": "1"}, forced_features={"exp": 9})
    assert flags.eval_feature("exp", user).to_dict()["source"] == "override"
    assert flags.eval_feature("exp", user).value == 9


def test_exposure_callback_fires_only_for_hashed_assignments() -> None:
    seen: list[tuple[str, ExperimentResult]] = []
    flags = Evaluator(EXPERIMENT_FEATURE, on_experiment=lambda e, r: seen.append((e["key"], r)))
    flags.eval_feature("exp", {"id": "1"})
    flags.eval_feature("exp", UserContext(attributes={"id": "2"}, forced_variations={"e": 0}))
    flags.eval_feature("exp", {})
    assert [(key, r.hash_used) for key, r in seen] == [("e", True)]


def test_sticky_assignment_survives_a_weight_change() -> None:
    store = InMemoryStickyBucketStore()
    rule = {"key": "e", "variations": [1, 2], "meta": [{"key": "a"}, {"key": "b"}]}
    before = Evaluator({"f": {"rules": [rule]}})
    first = before.eval_feature("f", UserContext(attributes={"id": "7"}, sticky_store=store))
    assert store.docs  # the assignment was saved
    moved = {**rule, "weights": [1.0, 0.0] if first.value == 2 else [0.0, 1.0]}
    after = Evaluator({"f": {"rules": [moved]}})
    again = after.eval_feature("f", UserContext(attributes={"id": "7"}, sticky_store=store))
    assert again.value == first.value
    assert again.experiment_result is not None
    assert again.experiment_result.sticky_bucket_used
    fresh = after.eval_feature("f", {"id": "7"})
    assert fresh.value != first.value


def test_on_and_off_use_javascript_truthiness() -> None:
    flags = Evaluator({"a": {"defaultValue": []}, "b": {"defaultValue": 0}})
    assert flags.eval_feature("a", {}).on
    assert flags.eval_feature("b", {}).off
