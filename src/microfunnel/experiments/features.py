"""Feature-flag and experiment evaluation, compatible with GrowthBook SDK payloads.

An :class:`Evaluator` compiles feature definitions once (conditions into closures, bucket ranges
and hash seeds precomputed), then evaluates them per user in a few microseconds. Results carry the
same fields, in the same JSON form, as every GrowthBook SDK, so a shop can mix our server-side
evaluation with GrowthBook's browser SDK and see one user in one variation.

>>> flags = Evaluator({"popup": {"defaultValue": False, "rules": [
...     {"condition": {"device": "mobile"}, "force": True}]}})
>>> flags.eval_feature("popup", {"id": "u1", "device": "mobile"}).on
True
>>> flags.run({"key": "cta", "variations": ["buy", "add"]}, {"id": "u1"}).value
'buy'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from microfunnel.errors import DefinitionError
from microfunnel.experiments.bandit import Leaf, bandit_leaves
from microfunnel.experiments.conditions import Condition, compile_condition
from microfunnel.experiments.hashing import (
    compile_filters,
    get_bucket_ranges,
    get_query_string_override,
    hasher,
    js_string,
    js_truthy,
)
from microfunnel.experiments.sticky import (
    InMemoryStickyBucketStore,
    StickyBucketStore,
    find_assignment,
    load_docs,
    save_assignment,
)

__all__ = [
    "Evaluator",
    "ExperimentResult",
    "FeatureResult",
    "InMemoryStickyBucketStore",
    "StickyBucketStore",
    "UserContext",
]

# Fields an experiment rule passes on to the experiment it runs (GrowthBook evalFeature).
_COPIED_RULE_FIELDS = (
    "coverage",
    "weights",
    "hashAttribute",
    "fallbackAttribute",
    "disableStickyBucketing",
    "bucketVersion",
    "minBucketVersion",
    "namespace",
    "meta",
    "ranges",
    "name",
    "phase",
    "seed",
    "hashVersion",
    "filters",
    "condition",
)


@dataclass(slots=True)
class UserContext:
    """Everything about one user and request that evaluation may read.

    ``forced_variations`` maps an experiment key to a variation index (QA links); ``url`` is the
    page URL, read for ``?<experiment key>=<index>`` overrides; ``qa_mode`` turns off hashed
    assignment; ``enabled=False`` turns off every experiment; ``forced_features`` overrides
    feature values outright.
    """

    attributes: Mapping[str, Any] = field(default_factory=dict)
    forced_variations: Mapping[str, int] = field(default_factory=dict)
    forced_features: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""
    enabled: bool = True
    qa_mode: bool = False
    sticky_store: StickyBucketStore | None = None
    sticky_docs: dict[str, dict[str, Any]] | None = None


_DEFAULT_USER = UserContext()


@dataclass(slots=True)
class ExperimentResult:
    """Which variation a user got, and why (``hash_used`` is false for forced variations)."""

    value: Any
    variation_id: int
    in_experiment: bool
    hash_used: bool
    hash_attribute: str
    hash_value: Any
    feature_id: str | None
    key: str
    sticky_bucket_used: bool = False
    bucket: float | None = None
    name: str | None = None
    passthrough: bool = False
    leaf_id: int | None = None
    variation_weights: list[float] | None = None
    bandit_version: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The GrowthBook JSON form (camelCase; optional fields only when set)."""
        out: dict[str, Any] = {
            "value": self.value,
            "variationId": self.variation_id,
            "inExperiment": self.in_experiment,
            "hashUsed": self.hash_used,
            "hashAttribute": self.hash_attribute,
            "hashValue": self.hash_value,
            "featureId": self.feature_id,
            "key": self.key,
            "stickyBucketUsed": self.sticky_bucket_used,
        }
        if self.bucket is not None:
            out["bucket"] = self.bucket
        if self.name:
            out["name"] = self.name
        if self.passthrough:
            out["passthrough"] = True
        if self.leaf_id is not None:
            out["leafId"] = self.leaf_id
            out["variationWeights"] = list(self.variation_weights or [])
            if self.bandit_version is not None:
                out["banditVersion"] = self.bandit_version
        return out


@dataclass(slots=True)
class FeatureResult:
    """A feature's value for one user; ``source`` says which step decided it."""

    value: Any
    source: str
    rule_id: str = ""
    experiment: Mapping[str, Any] | None = None
    experiment_result: ExperimentResult | None = None

    @property
    def on(self) -> bool:
        """JavaScript truthiness of the value (``[]`` and ``{}`` are on, ``0`` is off)."""
        return js_truthy(self.value)

    @property
    def off(self) -> bool:
        return not js_truthy(self.value)

    def to_dict(self) -> dict[str, Any]:
        """The GrowthBook JSON form of the result."""
        on = js_truthy(self.value)
        out: dict[str, Any] = {
            "value": self.value,
            "on": on,
            "off": not on,
            "source": self.source,
            "ruleId": self.rule_id,
        }
        if self.experiment is not None:
            out["experiment"] = json.loads(json.dumps(self.experiment))
        if self.experiment_result is not None:
            out["experimentResult"] = self.experiment_result.to_dict()
        return out


class _Experiment:
    """An experiment compiled for repeated runs (ranges, seeds and conditions precomputed)."""

    __slots__ = (
        "active",
        "as_dict",
        "bucket_version",
        "condition",
        "disable_sticky",
        "fallback_attribute",
        "filtered_out",
        "force",
        "has_force",
        "hash",
        "hash_attribute",
        "key",
        "leaf",
        "meta",
        "meta_index",
        "min_bucket_version",
        "namespace",
        "parents",
        "ranges",
        "status",
        "variation_info",
        "variations",
    )

    def __init__(self, spec: Mapping[str, Any], saved_groups: Mapping[str, Any]) -> None:
        key = spec.get("key")
        variations = spec.get("variations")
        if not isinstance(key, str) or not key:
            raise DefinitionError(f"Experiment {spec!r} needs a non-empty string `key`.")
        if not isinstance(variations, list):
            raise DefinitionError(f"Experiment `{key}` needs `variations`, a list of values.")
        self.key = key
        self.as_dict: dict[str, Any] = dict(spec)
        self.variations = variations
        meta = spec.get("meta")
        self.meta: list[Mapping[str, Any]] = meta if isinstance(meta, list) else []
        self.variation_info = [
            (
                value,
                str(info.get("key") or index),
                info.get("name"),
                bool(info.get("passthrough")),
            )
            for index, value in enumerate(variations)
            for info in [self.meta[index] if index < len(self.meta) else {}]
        ] or [(None, "0", None, False)]
        self.meta_index: dict[str, int] = {}
        for index, item in enumerate(self.meta):
            self.meta_index.setdefault(str(item.get("key")), index)
        self.hash_attribute = str(spec.get("hashAttribute") or "id")
        self.fallback_attribute = spec.get("fallbackAttribute") or None
        self.disable_sticky = bool(spec.get("disableStickyBucketing"))
        self.bucket_version = int(spec.get("bucketVersion") or 0)
        self.min_bucket_version = int(spec.get("minBucketVersion") or 0)
        self.hash = hasher(str(spec.get("seed") or key), spec.get("hashVersion") or 1)
        ranges = spec.get("ranges")
        self.ranges = [tuple(r) for r in ranges] if ranges else None
        if self.ranges is None:
            buckets = get_bucket_ranges(len(variations), spec.get("coverage"), spec.get("weights"))
            self.ranges = [tuple(r) for r in buckets]
        filters = spec.get("filters")
        self.filtered_out = compile_filters(filters) if filters else None
        namespace = spec.get("namespace")
        self.namespace = None
        if namespace and not filters:
            self.namespace = (hasher(f"__{namespace[0]}", 1), namespace[1], namespace[2])
        condition = spec.get("condition")
        self.condition = compile_condition(condition, saved_groups) if condition else None
        self.parents = _compile_parents(spec.get("parentConditions"), saved_groups)
        self.has_force = "force" in spec
        self.force = spec.get("force")
        self.active = spec.get("active", True) is not False and spec.get("status") != "draft"
        self.status = spec.get("status")
        self.leaf: Leaf | None = None


def _compile_parents(
    parents: Any, saved_groups: Mapping[str, Any]
) -> tuple[tuple[str, Condition, bool], ...]:
    if not parents:
        return ()
    return tuple(
        (
            str(p["id"]),
            compile_condition(p.get("condition") or {}, saved_groups),
            bool(p.get("gate")),
        )
        for p in parents
    )


class _Rule:
    __slots__ = (
        "bandit",
        "condition",
        "coverage",
        "experiment",
        "fallback_attribute",
        "filtered_out",
        "force",
        "hash",
        "hash_attribute",
        "id",
        "is_force",
        "parents",
        "range",
        "rollout",
    )

    def __init__(
        self, feature_key: str, rule: Mapping[str, Any], evaluator_config: _Config
    ) -> None:
        saved_groups = evaluator_config.saved_groups
        self.id = str(rule.get("id") or "")
        self.parents = _compile_parents(rule.get("parentConditions"), saved_groups)
        filters = rule.get("filters")
        self.filtered_out = compile_filters(filters) if filters else None
        self.is_force = "force" in rule
        self.force = rule.get("force")
        condition = rule.get("condition")
        self.condition = compile_condition(condition, saved_groups) if condition else None
        self.range = tuple(rule["range"]) if rule.get("range") else None
        self.coverage = rule.get("coverage")
        self.rollout = self.range is not None or self.coverage is not None
        self.hash_attribute = str(rule.get("hashAttribute") or "id")
        self.fallback_attribute = rule.get("fallbackAttribute") or None
        self.hash = hasher(str(rule.get("seed") or feature_key), rule.get("hashVersion") or 1)
        self.experiment: _Experiment | None = None
        self.bandit: list[tuple[Condition, _Experiment]] | None = None
        if self.is_force:
            return
        variations = rule.get("variations")
        contextual = rule.get("contextualVariations")
        if variations is None and contextual is None:
            return
        spec: dict[str, Any] = {
            "key": rule.get("key") or feature_key,
            "variations": variations if variations is not None else contextual,
        }
        spec.update((name, rule[name]) for name in _COPIED_RULE_FIELDS if name in rule)
        self.experiment = _Experiment(spec, saved_groups)
        bandit = evaluator_config.contextual_bandits.get(str(rule.get("contextualBanditRef")))
        if variations is None and isinstance(bandit, Mapping):
            self.bandit = _compile_bandit(spec, bandit, saved_groups)


def _compile_bandit(
    spec: dict[str, Any], bandit: Mapping[str, Any], saved_groups: Mapping[str, Any]
) -> list[tuple[Condition, _Experiment]]:
    """One experiment per contextual-bandit leaf, plus the catch-all leaf ``-1``."""
    compiled = []
    for condition, leaf_spec, leaf in bandit_leaves(spec, bandit):
        experiment = _Experiment(leaf_spec, saved_groups)
        experiment.leaf = leaf
        compiled.append((compile_condition(condition, saved_groups), experiment))
    return compiled


@dataclass(slots=True)
class _Config:
    saved_groups: Mapping[str, Any]
    contextual_bandits: Mapping[str, Any]


class _Feature:
    __slots__ = ("default", "rules")

    def __init__(self, key: str, definition: Any, config: _Config) -> None:
        if not isinstance(definition, Mapping):
            raise DefinitionError(f"Feature `{key}` must be an object like {{'defaultValue': 0}}.")
        rules = definition.get("rules") or []
        if not isinstance(rules, list):
            raise DefinitionError(f"Feature `{key}`: `rules` must be a list of rule objects.")
        self.default = definition.get("defaultValue")
        self.rules = tuple(_Rule(key, rule, config) for rule in rules)


_SKIP = object()


def _hash_value(
    attributes: Mapping[str, Any], attribute: str, fallback: str | None
) -> tuple[str, Any, str]:
    """(attribute used, raw value, hashed string); the raw value is ``""`` when falsy."""
    raw = attributes.get(attribute)
    if type(raw) is str and raw:
        return attribute, raw, raw
    if js_truthy(raw):
        return attribute, raw, js_string(raw)
    if fallback is not None:
        other = attributes.get(fallback)
        if js_truthy(other):
            return fallback, other, js_string(other)
    return attribute, "", ""


class Evaluator:
    """Evaluates GrowthBook-format features and experiments for many users.

    ``features`` is the ``features`` object of a GrowthBook SDK payload; ``saved_groups`` feeds
    ``$inGroup``; ``contextual_bandits`` holds bandit leaves by reference; ``on_experiment`` is
    called with the experiment and result whenever a user is hashed into an experiment (log the
    exposure there).
    """

    def __init__(
        self,
        features: Mapping[str, Any] | None = None,
        *,
        saved_groups: Mapping[str, Any] | None = None,
        contextual_bandits: Mapping[str, Any] | None = None,
        on_experiment: Callable[[Mapping[str, Any], ExperimentResult], None] | None = None,
    ) -> None:
        self._config = _Config(saved_groups or {}, contextual_bandits or {})
        self._features = {k: _Feature(k, v, self._config) for k, v in (features or {}).items()}
        self._on_experiment = on_experiment
        sticky_attributes = set()
        for feature in self._features.values():
            for rule in feature.rules:
                if rule.experiment is not None:
                    sticky_attributes.add(rule.experiment.hash_attribute)
                    if rule.experiment.fallback_attribute:
                        sticky_attributes.add(str(rule.experiment.fallback_attribute))
        self._sticky_attributes = sorted(sticky_attributes)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], **options: Any) -> Evaluator:
        """Build from a whole SDK payload (``features``, optional ``savedGroups``)."""
        return cls(payload.get("features"), saved_groups=payload.get("savedGroups"), **options)

    def eval_feature(self, key: str, user: UserContext | Mapping[str, Any]) -> FeatureResult:
        """The value of feature ``key`` for ``user`` (a :class:`UserContext` or attributes)."""
        if type(user) is UserContext:
            return self._eval(key, user.attributes, user, ())
        return self._eval(key, user, _DEFAULT_USER, ())  # type: ignore[arg-type]

    def run(
        self, experiment: Mapping[str, Any], user: UserContext | Mapping[str, Any]
    ) -> ExperimentResult:
        """Run an inline experiment (``{"key", "variations", ...}``) for ``user``."""
        ctx = user if type(user) is UserContext else UserContext(attributes=user)  # type: ignore[arg-type]
        compiled = _Experiment(experiment, self._config.saved_groups)
        result = self._run(compiled, ctx.attributes, ctx, None, ())
        if result is None:
            fallback = compiled.fallback_attribute if ctx.sticky_store is not None else None
            attribute, raw, _ = _hash_value(ctx.attributes, compiled.hash_attribute, fallback)
            result = _result(compiled, -1, False, None, attribute, raw)
        return result

    def sticky_docs(self, user: UserContext) -> dict[str, dict[str, Any]]:
        """The user's sticky-bucket documents, loaded from the store on first use."""
        if user.sticky_docs is None:
            user.sticky_docs = {}
            if user.sticky_store is not None:
                values = (
                    (attribute, _hash_value(user.attributes, attribute, None)[2])
                    for attribute in self._sticky_attributes
                )
                load_docs(user.sticky_docs, user.sticky_store, values)
        return user.sticky_docs

    # --- features -------------------------------------------------------------------------

    def _eval(
        self, key: str, attributes: Mapping[str, Any], user: UserContext, stack: tuple[str, ...]
    ) -> FeatureResult:
        if key in stack:
            return FeatureResult(None, "cyclicPrerequisite")
        if user.forced_features and key in user.forced_features:
            return FeatureResult(user.forced_features[key], "override")
        feature = self._features.get(key)
        if feature is None:
            return FeatureResult(None, "unknownFeature")
        for rule in feature.rules:
            if rule.parents:
                gate = self._parents(rule.parents, key, attributes, user, stack)
                if gate is _SKIP:
                    continue
                if gate is not None:
                    return gate  # type: ignore[return-value]
            if rule.filtered_out is not None and rule.filtered_out(attributes):
                continue
            if rule.is_force:
                if rule.condition is not None and not rule.condition(attributes):
                    continue
                if rule.rollout and not self._in_rollout(rule, attributes, user):
                    continue
                return FeatureResult(rule.force, "force", rule.id)
            experiment = rule.experiment
            if experiment is None:
                continue
            if rule.bandit is not None:
                experiment = next(exp for test, exp in rule.bandit if test(attributes))
            result = self._run(experiment, attributes, user, key, stack)
            if result is not None and result.in_experiment and not result.passthrough:
                shown = experiment.as_dict
                if result.leaf_id is not None and experiment.leaf is not None:
                    shown = {**shown, "contextualBandit": experiment.leaf[3]}
                return FeatureResult(result.value, "experiment", rule.id, shown, result)
        return FeatureResult(feature.default, "defaultValue")

    def _parents(
        self,
        parents: tuple[tuple[str, Condition, bool], ...],
        key: str,
        attributes: Mapping[str, Any],
        user: UserContext,
        stack: tuple[str, ...],
    ) -> FeatureResult | object | None:
        """``None`` to go on, ``_SKIP`` to skip the rule, or the feature's final result."""
        for parent_id, condition, gate in parents:
            parent = self._eval(parent_id, attributes, user, (*stack, key))
            if parent.source == "cyclicPrerequisite":
                return FeatureResult(None, "cyclicPrerequisite")
            if not condition({"value": parent.value}):
                return FeatureResult(None, "prerequisite") if gate else _SKIP
        return None

    @staticmethod
    def _in_rollout(rule: _Rule, attributes: Mapping[str, Any], user: UserContext) -> bool:
        if rule.range is None and rule.coverage == 0:
            return False
        fallback = rule.fallback_attribute if user.sticky_store is not None else None
        _, _, value = _hash_value(attributes, rule.hash_attribute, fallback)
        if not value:
            return False
        n = rule.hash(value)
        if n is None:
            return False
        if rule.range is not None:
            return bool(rule.range[0] <= n < rule.range[1])
        return rule.coverage is None or n <= rule.coverage

    # --- experiments ----------------------------------------------------------------------

    def _run(
        self,
        exp: _Experiment,
        attributes: Mapping[str, Any],
        user: UserContext,
        feature_id: str | None,
        stack: tuple[str, ...],
    ) -> ExperimentResult | None:
        """The assignment, or ``None`` when the user is simply excluded (variation 0)."""
        sticky = user.sticky_store is not None and not exp.disable_sticky
        fallback = exp.fallback_attribute if sticky else None
        attribute, raw, value = _hash_value(attributes, exp.hash_attribute, fallback)
        n_variations = len(exp.variations)
        if n_variations < 2 or not user.enabled:
            return None
        if user.url:
            override = get_query_string_override(exp.key, user.url, n_variations)
            if override is not None:
                return _result(exp, override, False, feature_id, attribute, raw)
        if user.forced_variations and exp.key in user.forced_variations:
            forced = user.forced_variations[exp.key]
            return _result(exp, forced, False, feature_id, attribute, raw)
        if not exp.active or not value:
            return None
        assigned, blocked = -1, False
        if sticky:
            assigned, blocked = self._sticky_variation(exp, attributes, user)
        found_sticky = assigned >= 0
        if not found_sticky and not self._targeted(exp, attributes, value, user, stack):
            return None
        n = exp.hash(value)
        if n is None:
            return None
        if not found_sticky:
            assigned = -1
            for index, (start, end) in enumerate(exp.ranges):  # type: ignore[arg-type]
                if start <= n < end:
                    assigned = index
                    break
        if blocked:
            return _result(exp, -1, False, feature_id, attribute, raw, None, True)
        if assigned < 0:
            return None
        if exp.has_force:
            force = exp.force if type(exp.force) is int else -1
            return _result(exp, force, False, feature_id, attribute, raw)
        if user.qa_mode or exp.status == "stopped":
            return None
        result = _result(exp, assigned, True, feature_id, attribute, raw, n, found_sticky)
        if exp.leaf is not None:
            result.leaf_id, result.variation_weights, result.bandit_version, _ = exp.leaf
        if sticky:
            self._save_sticky(exp, attribute, js_string(raw), result.key, user)
        if self._on_experiment is not None:
            self._on_experiment(exp.as_dict, result)
        return result

    def _targeted(
        self,
        exp: _Experiment,
        attributes: Mapping[str, Any],
        value: str,
        user: UserContext,
        stack: tuple[str, ...],
    ) -> bool:
        if exp.filtered_out is not None:
            if exp.filtered_out(attributes):
                return False
        elif exp.namespace is not None:
            ns_hash, start, end = exp.namespace
            n = ns_hash(value)
            if n is None or not start <= n < end:
                return False
        if exp.condition is not None and not exp.condition(attributes):
            return False
        if exp.parents:
            outcome = self._parents(exp.parents, exp.key, attributes, user, stack)
            if outcome is not None:
                return False
        return True

    def _sticky_variation(
        self, exp: _Experiment, attributes: Mapping[str, Any], user: UserContext
    ) -> tuple[int, bool]:
        docs = self.sticky_docs(user)
        names = [exp.fallback_attribute, exp.hash_attribute] if exp.fallback_attribute else []
        values = [
            (attribute, _hash_value(attributes, str(attribute), None)[2])
            for attribute in names or [exp.hash_attribute]
        ]
        stored, blocked = find_assignment(
            docs, values, exp.key, exp.bucket_version, exp.min_bucket_version
        )
        if blocked:
            return -1, True
        if stored is None:
            return -1, False
        return exp.meta_index.get(str(stored), -1), False

    def _save_sticky(
        self, exp: _Experiment, attribute: str, value: str, variation_key: str, user: UserContext
    ) -> None:
        assignment_key = f"{exp.key}__{exp.bucket_version}"
        docs = self.sticky_docs(user)
        save_assignment(docs, user.sticky_store, attribute, value, assignment_key, variation_key)


def _result(
    exp: _Experiment,
    index: int,
    hash_used: bool,
    feature_id: str | None,
    attribute: str,
    raw: Any,
    bucket: float | None = None,
    sticky_used: bool = False,
) -> ExperimentResult:
    in_experiment = True
    if type(index) is not int or not 0 <= index < len(exp.variations):
        index, in_experiment = 0, False
    value, key, name, passthrough = exp.variation_info[index]
    return ExperimentResult(
        value,
        index,
        in_experiment,
        hash_used,
        attribute,
        raw,
        feature_id,
        key,
        sticky_used,
        bucket,
        name,
        passthrough,
    )
