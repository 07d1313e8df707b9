"""GrowthBook's cross-SDK conformance suite (cases.json, spec 0.8.0), run section by section.

Comparison rules follow the upstream harnesses: exact equality for hashes and variation choice,
floats truncated to 8 decimals for weights and ranges, whole-result deep equality for features,
only (value, inExperiment, hashUsed) for ``run``. ``urlRedirect`` needs the browser-side
auto-experiment machinery and is not run here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from microfunnel.errors import DefinitionError
from microfunnel.experiments.conditions import eval_condition
from microfunnel.experiments.features import Evaluator, InMemoryStickyBucketStore, UserContext
from microfunnel.experiments.hashing import (
    choose_variation,
    get_bucket_ranges,
    get_equal_weights,
    get_query_string_override,
    hash_value,
    in_namespace,
)
from microfunnel.experiments.payload import decrypt_payload

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "growthbook" / "cases.json").read_text(encoding="utf-8")
)
RUN_SECTIONS = (
    "evalCondition",
    "hash",
    "getBucketRange",
    "chooseVariation",
    "getQueryStringOverride",
    "inNamespace",
    "getEqualWeights",
    "decrypt",
    "feature",
    "run",
    "stickyBucket",
    "contextualBandit",
)


def cases(section: str, width: int = 0) -> list[Any]:
    """Positional cases, padded with ``None`` to ``width`` (optional trailing fields)."""
    padded = [[*case, *[None] * (width - len(case))] for case in CASES[section]]
    return [pytest.param(*case, id=f"{section}#{i}") for i, case in enumerate(padded)]


def truncated(value: Any) -> Any:
    if isinstance(value, list):
        return [truncated(v) for v in value]
    return math.floor(value * 1e8) / 1e8


def evaluator(context: dict[str, Any]) -> Evaluator:
    return Evaluator(
        context.get("features"),
        saved_groups=context.get("savedGroups"),
        contextual_bandits=context.get("contextualBandits"),
    )


def user(context: dict[str, Any], store: InMemoryStickyBucketStore | None = None) -> UserContext:
    return UserContext(
        attributes=context.get("attributes", {}),
        forced_variations=context.get("forcedVariations", {}),
        url=context.get("url", ""),
        enabled=context.get("enabled", True),
        qa_mode=context.get("qaMode", False),
        sticky_store=store,
        sticky_docs=context.get("stickyBucketAssignmentDocs"),
    )


def test_every_section_is_run_or_named_as_browser_only() -> None:
    sections = set(CASES) - {"specVersion"}
    assert CASES["specVersion"] == "0.8.0"
    assert sections == {*RUN_SECTIONS, "urlRedirect"}
    assert sum(len(CASES[s]) for s in RUN_SECTIONS) == 513


@pytest.mark.parametrize(
    "name, condition, attributes, expected, saved_groups", cases("evalCondition", width=5)
)
def test_eval_condition(
    name: str, condition: Any, attributes: Any, expected: bool, saved_groups: Any
) -> None:
    assert eval_condition(attributes, condition, saved_groups) is expected


@pytest.mark.parametrize("seed, value, version, expected", cases("hash"))
def test_hash(seed: str, value: str, version: int, expected: float | None) -> None:
    assert hash_value(seed, value, version) == expected


@pytest.mark.parametrize("name, args, expected", cases("getBucketRange"))
def test_get_bucket_range(name: str, args: list[Any], expected: list[list[float]]) -> None:
    assert truncated(get_bucket_ranges(*args)) == truncated(expected)


@pytest.mark.parametrize("name, n, ranges, expected", cases("chooseVariation"))
def test_choose_variation(name: str, n: float, ranges: list[list[float]], expected: int) -> None:
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize("name, key, url, n, expected", cases("getQueryStringOverride"))
def test_get_query_string_override(
    name: str, key: str, url: str, n: int, expected: int | None
) -> None:
    assert get_query_string_override(key, url, n) == expected


@pytest.mark.parametrize("name, hash_id, namespace, expected", cases("inNamespace"))
def test_in_namespace(name: str, hash_id: str, namespace: list[Any], expected: bool) -> None:
    assert in_namespace(hash_id, namespace) is expected


@pytest.mark.parametrize("n, expected", cases("getEqualWeights"))
def test_get_equal_weights(n: int, expected: list[float]) -> None:
    assert truncated(get_equal_weights(n)) == truncated(expected)


@pytest.mark.parametrize("name, encrypted, key, expected", cases("decrypt"))
def test_decrypt(name: str, encrypted: str, key: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(DefinitionError, match="decrypt"):
            decrypt_payload(encrypted, key)
    else:
        assert decrypt_payload(encrypted, key) == expected


@pytest.mark.parametrize(
    "name, context, key, expected", [*cases("feature"), *cases("contextualBandit")]
)
def test_feature(name: str, context: dict[str, Any], key: str, expected: dict[str, Any]) -> None:
    assert evaluator(context).eval_feature(key, user(context)).to_dict() == expected


@pytest.mark.parametrize("name, context, experiment, value, in_experiment, hash_used", cases("run"))
def test_run(
    name: str,
    context: dict[str, Any],
    experiment: dict[str, Any],
    value: Any,
    in_experiment: bool,
    hash_used: bool,
) -> None:
    result = evaluator(context).run(experiment, user(context))
    assert (result.value, result.in_experiment, result.hash_used) == (
        value,
        in_experiment,
        hash_used,
    )


@pytest.mark.parametrize("name, context, docs, key, expected, expected_docs", cases("stickyBucket"))
def test_sticky_bucket(
    name: str,
    context: dict[str, Any],
    docs: list[dict[str, Any]],
    key: str,
    expected: dict[str, Any] | None,
    expected_docs: dict[str, Any],
) -> None:
    flags = evaluator(context)
    who = user(context, InMemoryStickyBucketStore(docs))
    result = flags.eval_feature(key, who).experiment_result
    assert (result.to_dict() if result else None) == expected
    assert flags.sticky_docs(who) == expected_docs
