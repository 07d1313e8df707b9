"""GrowthBook SDK payloads built from microfunnel flag and experiment definitions.

Any GrowthBook SDK (and our :class:`~microfunnel.experiments.features.Evaluator`) can evaluate
the payload that ``GET /api/features/{client_key}`` returns. This module is a pure function of
plain dicts; the HTTP route only serialises its result.

A flag::

    {"key": "checkout-popup", "type": "boolean", "default": False, "enabled": True,
     "rules": [
        {"type": "force", "id": "staff", "condition": {"staff": True}, "value": True},
        {"type": "rollout", "id": "mobile-20", "condition": {"device": "mobile"},
         "value": True, "coverage": 0.2, "holdout": 0.05},
        {"type": "experiment", "id": "popup-test", "experiment": "popup-test"}]}

An experiment::

    {"key": "popup-test", "status": "running", "hash_attribute": "id",
     "variations": [{"key": "control", "value": False}, {"key": "popup", "value": True}],
     "weights": [0.5, 0.5], "coverage": 1.0, "condition": {"country": "DE"},
     "namespace": {"id": "checkout", "range": [0, 0.5]}}

>>> flag = {"key": "banner", "default": False, "rules": [
...     {"type": "force", "condition": {"device": "mobile"}, "value": True}]}
>>> build_payload([flag], date_updated="2025-01-01T00:00:00.000Z")["features"]["banner"]
{'defaultValue': False, 'rules': [{'condition': {'device': 'mobile'}, 'force': True}]}
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from microfunnel.errors import DefinitionError

__all__ = ["build_payload", "decrypt_payload"]

_FLAG_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "string": (str,),
    "number": (int, float),
    "json": (dict, list, str, int, float, bool, type(None)),
}
_RULE_TYPES = ("force", "rollout", "experiment")


def build_payload(
    flags: Sequence[Mapping[str, Any]],
    experiments: Sequence[Mapping[str, Any]] = (),
    *,
    saved_groups: Mapping[str, Sequence[Any]] | None = None,
    date_updated: datetime | str,
) -> dict[str, Any]:
    """The GrowthBook SDK payload ``{"features", "experiments", "dateUpdated"}``.

    A disabled flag is left out, so SDKs treat it as unknown and fall back to their default;
    a rule pointing at a draft experiment, or a stopped one without a released variation, is
    left out too. ``savedGroups`` is included when groups are given.
    """
    by_key = {}
    for experiment in experiments:
        key = _required_str(experiment, "key", "experiment")
        if key in by_key:
            raise DefinitionError(f"Experiment key `{key}` is defined twice: keys must be unique.")
        by_key[key] = experiment
    features: dict[str, Any] = {}
    for flag in flags:
        key = _required_str(flag, "key", "flag")
        if key in features:
            raise DefinitionError(f"Flag key `{key}` is defined twice: keys must be unique.")
        feature = _feature(key, flag, by_key)
        if feature is not None:
            features[key] = feature
    payload: dict[str, Any] = {
        "features": features,
        "experiments": [],
        "dateUpdated": _timestamp(date_updated),
    }
    if saved_groups:
        payload["savedGroups"] = {k: list(v) for k, v in saved_groups.items()}
    return payload


def _required_str(definition: Mapping[str, Any], name: str, what: str) -> str:
    value = definition.get(name)
    if not isinstance(value, str) or not value:
        raise DefinitionError(
            f"A {what} needs a non-empty string `{name}`; got {definition!r}.", field=name
        )
    return value


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise DefinitionError("date_updated must be timezone-aware: pass a UTC datetime.")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _check_value(flag_key: str, flag_type: str, value: Any, where: str) -> None:
    if not isinstance(value, _FLAG_TYPES[flag_type]) or (
        flag_type == "number" and isinstance(value, bool)
    ):
        raise DefinitionError(
            f"Flag `{flag_key}` is of type {flag_type} but {where} is {value!r}: "
            f"use a {flag_type} value or change the flag type."
        )


def _feature(
    key: str, flag: Mapping[str, Any], experiments: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    if flag.get("enabled", True) is False:
        return None
    flag_type = flag.get("type", "json")
    if flag_type not in _FLAG_TYPES:
        raise DefinitionError(
            f"Flag `{key}` has type {flag_type!r}; use one of {', '.join(_FLAG_TYPES)}."
        )
    default = flag.get("default")
    _check_value(key, flag_type, default, "its default")
    rules: list[dict[str, Any]] = []
    for index, rule in enumerate(flag.get("rules") or []):
        where = f"Flag `{key}` rule {rule.get('id') or index}"
        kind = rule.get("type")
        if kind not in _RULE_TYPES:
            raise DefinitionError(
                f"{where} has type {kind!r}; use one of {', '.join(_RULE_TYPES)}."
            )
        if kind == "experiment":
            built = _experiment_rule(key, flag_type, rule, experiments, where)
        else:
            built = _force_rule(rule, where)
            _check_value(key, flag_type, built["force"], f"the value of rule {index}")
        if built is None:
            continue
        if rule.get("holdout"):
            rules.append(_holdout_rule(key, rule, index, default, where))
        rules.append(built)
    feature: dict[str, Any] = {"defaultValue": default}
    if rules:
        feature["rules"] = rules
    return feature


def _common(rule: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.get("id"):
        out["id"] = str(rule["id"])
    condition = rule.get("condition")
    if condition is not None:
        if not isinstance(condition, Mapping):
            raise DefinitionError(f"{where}: `condition` must be an object like {{'device': 'x'}}.")
        if condition:
            out["condition"] = dict(condition)
    prerequisites = rule.get("prerequisites")
    if prerequisites:
        out["parentConditions"] = [
            {
                "id": _required_str(p, "flag", "prerequisite"),
                "condition": dict(p.get("condition") or {"value": True}),
                "gate": bool(p.get("gate", True)),
            }
            for p in prerequisites
        ]
    return out


def _fraction(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise DefinitionError(f"{where}: `{name}` must be a number from 0 to 1, got {value!r}.")
    return float(value)


def _force_rule(rule: Mapping[str, Any], where: str) -> dict[str, Any]:
    if "value" not in rule:
        raise DefinitionError(f"{where}: a {rule['type']} rule needs the `value` it serves.")
    out = _common(rule, where)
    out["force"] = rule["value"]
    if rule["type"] == "rollout":
        out["coverage"] = _fraction(rule.get("coverage"), "coverage", where)
        out["hashAttribute"] = str(rule.get("hash_attribute") or "id")
        if rule.get("seed"):
            out["seed"] = str(rule["seed"])
        out["hashVersion"] = 2
    return out


def _holdout_rule(
    flag_key: str, rule: Mapping[str, Any], index: int, default: Any, where: str
) -> dict[str, Any]:
    """A passthrough experiment that keeps a random ``holdout`` share on the default value."""
    share = _fraction(rule.get("holdout"), "holdout", where)
    key = f"{flag_key}-{rule.get('id') or index}-holdout"
    return {
        "id": key,
        "key": key,
        "variations": [default, default],
        "ranges": [[0.0, share], [share, 1.0]],
        "meta": [{"key": "holdout"}, {"key": "treated", "passthrough": True}],
        "hashAttribute": str(rule.get("hash_attribute") or "id"),
        "hashVersion": 2,
        "seed": key,
    }


def _experiment_rule(
    flag_key: str,
    flag_type: str,
    rule: Mapping[str, Any],
    experiments: Mapping[str, Mapping[str, Any]],
    where: str,
) -> dict[str, Any] | None:
    ref = rule.get("experiment")
    experiment = experiments.get(ref) if isinstance(ref, str) else None
    if experiment is None:
        raise DefinitionError(f"{where} points at unknown experiment {ref!r}: define it first.")
    status = experiment.get("status", "running")
    variations = experiment.get("variations")
    if not isinstance(variations, list) or len(variations) < 2:
        raise DefinitionError(f"Experiment `{ref}` needs at least 2 variations.")
    values = [v.get("value") for v in variations]
    for i, value in enumerate(values):
        _check_value(flag_key, flag_type, value, f"variation {i} of experiment `{ref}`")
    if status == "stopped":
        released = experiment.get("released_variation")
        if released is None:
            return None
        return {**_common(rule, where), "force": values[int(released)]}
    if status != "running":
        return None
    out = _common(rule, where)
    if experiment.get("condition"):
        out["condition"] = {**out.get("condition", {}), **experiment["condition"]}
    out["key"] = ref
    out["variations"] = values
    out["meta"] = [
        {k: v for k, v in (("key", var.get("key") or str(i)), ("name", var.get("name"))) if v}
        for i, var in enumerate(variations)
    ]
    weights = experiment.get("weights")
    if weights is not None:
        if len(weights) != len(values) or abs(sum(weights) - 1) > 0.01:
            raise DefinitionError(
                f"Experiment `{ref}` weights {weights!r} must have one entry per variation "
                "and sum to 1."
            )
        out["weights"] = [float(w) for w in weights]
    out["coverage"] = _fraction(experiment.get("coverage", 1.0), "coverage", f"Experiment `{ref}`")
    out["hashAttribute"] = str(experiment.get("hash_attribute") or "id")
    if experiment.get("fallback_attribute"):
        out["fallbackAttribute"] = str(experiment["fallback_attribute"])
    out["hashVersion"] = int(experiment.get("hash_version", 2))
    out["seed"] = str(experiment.get("seed") or ref)
    for ours, theirs in (
        ("name", "name"),
        ("phase", "phase"),
        ("bucket_version", "bucketVersion"),
        ("min_bucket_version", "minBucketVersion"),
        ("disable_sticky_bucketing", "disableStickyBucketing"),
    ):
        if experiment.get(ours) is not None:
            out[theirs] = experiment[ours]
    namespace = experiment.get("namespace")
    if namespace:
        start, end = namespace.get("range", (0, 1))
        out["namespace"] = [str(namespace["id"]), float(start), float(end)]
    return out


def decrypt_payload(encrypted: str, key: str) -> str:
    """Decrypt an encrypted GrowthBook payload section (``"<iv b64>.<ciphertext b64>"``).

    AES-128-CBC with PKCS7 padding; returns the UTF-8 text, unparsed. Needs the
    ``cryptography`` package. Raises :class:`DefinitionError` for a bad key or payload.
    """
    try:
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DefinitionError(
            "Decrypting GrowthBook payloads needs the `cryptography` package: pip install it."
        ) from exc
    iv_b64, sep, body_b64 = encrypted.partition(".")
    try:
        if not sep:
            raise ValueError("missing '.' between IV and ciphertext")
        iv = base64.b64decode(iv_b64, validate=True)
        body = base64.b64decode(body_b64, validate=True)
        decryptor = Cipher(algorithms.AES(base64.b64decode(key)), modes.CBC(iv)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise DefinitionError(
            f"Cannot decrypt the payload ({exc}): check the decryption key for this SDK connection."
        ) from exc
