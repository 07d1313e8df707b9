"""Experiment and feature definitions: ``experiments.yaml``, checked before anything launches.

An experiment declares everything an honest analysis needs *before* it starts: the hypothesis,
the arms and their weights, who is targeted, the behavioural trigger that decides when a unit
counts as exposed, the primary micro-conversion, secondary and guardrail metrics, the statistical
method and stopping rule, and the minimum detectable effect::

    version: 1
    metrics:
      revenue_per_visitor: {kind: revenue, event: purchase, cap: 0.99}
    experiments:
      - key: discount_popup
        hypothesis: Mobile shoppers who linger hesitate on price; a popup tips them over.
        feature: discount-popup          # the flag served to SDKs (made if not in `features`)
        variations: [{key: control, value: false}, {key: popup, value: true}]
        weights: [0.5, 0.5]
        condition: {country: DE}         # targeting
        trigger: {device: mobile, session_duration: {$gt: 120}}
        primary: add_to_cart
        secondary: [purchase, revenue_per_visitor]
        guardrails: [checkout_error]
        method: frequentist               # or bayesian
        stopping: {rule: msprt, alpha: 0.05, looks: 10, min_sample: 2000}
        mde: 0.05                         # relative lift the test is sized for
        status: running
    features:
      size-guide-v2: {type: boolean, default: false, rules: [...]}   # see payload.py

A mistake raises :class:`~microfunnel.errors.DefinitionError` naming the experiment, the field
and the fix.

>>> defs = parse_definitions({"experiments": [{"key": "x", "primary": "purchase",
...     "variations": [{"key": "a", "value": 0}, {"key": "b", "value": 1}]}]})
>>> defs.experiments["x"].weights
(0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from microfunnel.errors import DefinitionError
from microfunnel.experiments.metrics import MetricDef, closest, parse_metric
from microfunnel.experiments.payload import build_payload
from microfunnel.experiments.triggers import check_trigger
from microfunnel.query.experiment import SEGMENT_COLUMNS
from microfunnel.stats import StoppingRule

__all__ = [
    "Definitions",
    "ExperimentDef",
    "Status",
    "Variation",
    "load_definitions",
    "parse_definitions",
]

Status = Literal["draft", "running", "stopped"]
StatMethod = Literal["frequentist", "bayesian"]
_STATUSES = ("draft", "running", "stopped")
_STOP_RULES = ("msprt", "obrien_fleming", "pocock", "fixed")
_EXPERIMENT_FIELDS = {
    "key", "name", "status", "hypothesis", "feature", "variations", "weights", "coverage",
    "condition", "trigger", "namespace", "hash_attribute", "primary", "secondary", "guardrails",
    "method", "stopping", "mde", "start", "end", "duration_days", "segments", "window_hours",
    "covariate_days", "adaptive", "released_variation", "correction", "description", "seed",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Variation:
    key: str
    value: Any
    name: str = ""


@dataclass(frozen=True, slots=True)
class ExperimentDef:
    """One experiment, validated. ``trigger`` is a condition on live context (see triggers)."""

    key: str
    variations: tuple[Variation, ...]
    weights: tuple[float, ...]
    primary: MetricDef
    secondary: tuple[MetricDef, ...] = ()
    guardrails: tuple[MetricDef, ...] = ()
    name: str = ""
    hypothesis: str = ""
    status: Status = "running"
    feature: str | None = None
    coverage: float = 1.0
    condition: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] = field(default_factory=dict)
    namespace: tuple[str, float, float] | None = None
    hash_attribute: str = "id"
    method: StatMethod = "frequentist"
    stopping: StoppingRule = field(default_factory=lambda: StoppingRule("msprt", looks=10))
    mde: float = 0.05
    start: datetime | None = None
    end: datetime | None = None
    duration_days: int = 14
    segments: tuple[str, ...] = ("device",)
    window_hours: float = 72.0
    covariate_days: float = 14.0
    adaptive: bool = False
    released_variation: int | None = None
    correction: Literal["holm", "bh"] = "holm"
    seed: str = ""

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.variations)

    @property
    def metrics(self) -> tuple[MetricDef, ...]:
        """Primary, secondary and guardrail metrics, funnels expanded into their steps."""
        out: list[MetricDef] = []
        for metric in (self.primary, *self.secondary, *self.guardrails):
            out.extend(metric.funnel_steps())
        return tuple(dict.fromkeys(out))

    def payload_dict(self, weights: Sequence[float] | None = None) -> dict[str, Any]:
        """The experiment in :func:`build_payload`'s format; the trigger joins the targeting."""
        condition: dict[str, Any] = dict(self.condition)
        if self.trigger:
            condition = {"$and": [condition, dict(self.trigger)]} if condition else {**self.trigger}
        out: dict[str, Any] = {
            "key": self.key,
            "name": self.name or None,
            "status": self.status,
            "hash_attribute": self.hash_attribute,
            "variations": [
                {"key": v.key, "value": v.value, "name": v.name} for v in self.variations
            ],
            "weights": list(weights if weights is not None else self.weights),
            "coverage": self.coverage,
            "condition": condition,
            "released_variation": self.released_variation,
            "seed": self.seed or self.key,
        }
        if self.namespace is not None:
            out["namespace"] = {"id": self.namespace[0], "range": list(self.namespace[1:])}
        return out


@dataclass(frozen=True, slots=True)
class Definitions:
    """Everything in ``experiments.yaml``: experiments, metrics and flags (payload format)."""

    experiments: Mapping[str, ExperimentDef]
    metrics: Mapping[str, MetricDef]
    flags: tuple[Mapping[str, Any], ...] = ()

    def payload(
        self,
        *,
        weights: Mapping[str, Sequence[float]] | None = None,
        date_updated: datetime | str | None = None,
    ) -> dict[str, Any]:
        """The GrowthBook SDK payload; ``weights`` overrides adaptive experiments' weights."""
        weights = weights or {}
        experiments = [
            e.payload_dict(weights.get(k) if e.adaptive else None)
            for k, e in self.experiments.items()
        ]
        return build_payload(
            self.flags, experiments, date_updated=date_updated or datetime.now(UTC)
        )

    def experiment(self, key: str) -> ExperimentDef:
        found = self.experiments.get(key)
        if found is None:
            raise DefinitionError(
                f"No experiment `{key}` in experiments.yaml{closest(key, self.experiments)}: "
                f"known experiments are {', '.join(sorted(self.experiments)) or 'none'}."
            )
        return found


def _time(raw: Any, where: str) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    try:
        return _time(datetime.fromisoformat(str(raw)), where)
    except ValueError:
        raise DefinitionError(f"{where} must be a date like 2024-04-01, got {raw!r}.") from None


def _number(raw: Any, where: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not low <= raw <= high:
        raise DefinitionError(f"{where} must be a number from {low:g} to {high:g}, got {raw!r}.")
    return float(raw)


def _variations(raw: Any, where: str) -> tuple[Variation, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise DefinitionError(
            f"{where} needs `variations`, a list of at least 2 arms like "
            "[{key: control, value: false}, {key: treatment, value: true}]."
        )
    out = []
    for i, v in enumerate(raw):
        if isinstance(v, str):
            v = {"key": v, "value": i}
        if not isinstance(v, Mapping) or not isinstance(v.get("key"), str):
            raise DefinitionError(f"{where} variation {i} needs a string `key`.")
        out.append(Variation(v["key"], v.get("value", i), str(v.get("name") or "")))
    keys = [v.key for v in out]
    if len(set(keys)) != len(keys):
        raise DefinitionError(f"{where} has repeated variation keys {keys}: make them unique.")
    return tuple(out)


def _weights(raw: Any, n: int, where: str) -> tuple[float, ...]:
    if raw is None:
        return tuple(1.0 / n for _ in range(n))
    if not isinstance(raw, list) or len(raw) != n:
        raise DefinitionError(f"{where} `weights` {raw!r} must have one entry per arm ({n}).")
    weights = tuple(_number(w, f"{where} weight", 0.0, 1.0) for w in raw)
    if abs(sum(weights) - 1.0) > 1e-6:
        raise DefinitionError(
            f"{where} `weights` {list(raw)} sum to {sum(weights):g}: make them sum to 1 "
            f"(for {n} equal arms use {round(1 / n, 4)} each).",
            field="weights",
        )
    return weights


def _metric_ref(
    ref: Any, where: str, metrics: Mapping[str, MetricDef], events: Collection[str] | None
) -> MetricDef:
    if isinstance(ref, str) and ref in metrics:
        return metrics[ref]
    if isinstance(ref, str) and (events is None or ref in events):
        return parse_metric(ref, ref, events)
    if isinstance(ref, Mapping) and isinstance(ref.get("key"), str):
        return parse_metric(ref["key"], ref, events)
    known = [*metrics, *(events or ())]
    raise DefinitionError(
        f"{where} refers to metric {ref!r}, which is neither a metric under `metrics:` nor an "
        f"event of the tracking plan{closest(str(ref), known)}: define it under `metrics:` or "
        "fix the name.",
        field="metric",
    )


def _stopping(raw: Any, where: str) -> StoppingRule:
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where} `stopping` must be an object like {{rule: msprt}}.")
    rule = raw.get("rule", "msprt")
    if rule not in _STOP_RULES:
        raise DefinitionError(
            f"{where} stopping rule {rule!r}: use one of {', '.join(_STOP_RULES)}."
        )
    looks = int(raw.get("looks", 1 if rule == "fixed" else 10))
    try:
        return StoppingRule(
            method=rule, alpha=float(raw.get("alpha", 0.05)), looks=looks,
            min_sample=int(raw.get("min_sample", 0)),
        )  # fmt: skip
    except ValueError as exc:
        raise DefinitionError(f"{where} stopping: {exc}") from None


def _experiment(
    raw: Any,
    metrics: Mapping[str, MetricDef],
    events: Collection[str] | None,
    attributes: Collection[str],
) -> ExperimentDef:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str) or not raw["key"]:
        raise DefinitionError(f"Every experiment needs a non-empty string `key`; got {raw!r}.")
    key = raw["key"]
    where = f"Experiment `{key}`"
    unknown = sorted(set(raw) - _EXPERIMENT_FIELDS)
    if unknown:
        raise DefinitionError(
            f"{where} has unknown field `{unknown[0]}`{closest(unknown[0], _EXPERIMENT_FIELDS)}: "
            f"remove it or fix its name."
        )
    variations = _variations(raw.get("variations"), where)
    if "primary" not in raw:
        raise DefinitionError(f"{where} needs a `primary` metric, e.g. `primary: add_to_cart`.")
    status = raw.get("status", "running")
    if status not in _STATUSES:
        raise DefinitionError(f"{where} status {status!r}: use one of {', '.join(_STATUSES)}.")
    method = raw.get("method", "frequentist")
    if method not in ("frequentist", "bayesian"):
        raise DefinitionError(f"{where} method {method!r}: use frequentist or bayesian.")
    namespace = None
    if raw.get("namespace"):
        ns = raw["namespace"]
        start, end = ns.get("range", (0, 1))
        namespace = (str(ns["id"]), _number(start, f"{where} namespace start", 0, 1),
                     _number(end, f"{where} namespace end", 0, 1))  # fmt: skip
    segments = tuple(raw.get("segments", ("device",)))
    for s in segments:
        if s not in SEGMENT_COLUMNS:
            raise DefinitionError(
                f"{where} segments by `{s}`{closest(s, SEGMENT_COLUMNS)}: segment by one of "
                f"{', '.join(SEGMENT_COLUMNS)}."
            )
    released = raw.get("released_variation")

    def refs(name: str) -> tuple[MetricDef, ...]:
        items = raw.get(name) or []
        items = [items] if isinstance(items, str) else items
        return tuple(_metric_ref(r, f"{where} {name}", metrics, events) for r in items)

    return ExperimentDef(
        key=key,
        variations=variations,
        weights=_weights(raw.get("weights"), len(variations), where),
        primary=_metric_ref(raw["primary"], f"{where} primary", metrics, events),
        secondary=refs("secondary"),
        guardrails=refs("guardrails"),
        name=str(raw.get("name") or ""),
        hypothesis=str(raw.get("hypothesis") or ""),
        status=status,
        feature=raw.get("feature"),
        coverage=_number(raw.get("coverage", 1.0), f"{where} coverage", 0, 1),
        condition=dict(raw.get("condition") or {}),
        trigger=check_trigger(raw.get("trigger") or {}, where, attributes),
        namespace=namespace,
        hash_attribute=str(raw.get("hash_attribute") or "id"),
        method=method,
        stopping=_stopping(raw.get("stopping"), where),
        mde=_number(raw.get("mde", 0.05), f"{where} mde", 1e-6, 10),
        start=_time(raw.get("start"), f"{where} start"),
        end=_time(raw.get("end"), f"{where} end"),
        duration_days=int(raw.get("duration_days", 14)),
        segments=segments,
        window_hours=_number(raw.get("window_hours", 72), f"{where} window_hours", 0.01, 1e5),
        covariate_days=_number(raw.get("covariate_days", 14), f"{where} covariate_days", 0, 1e4),
        adaptive=bool(raw.get("adaptive", False)),
        released_variation=None if released is None else int(released),
        correction=raw.get("correction", "holm"),
        seed=str(raw.get("seed") or ""),
    )


def _check_namespaces(experiments: Sequence[ExperimentDef]) -> None:
    live = [e for e in experiments if e.namespace is not None and e.status != "stopped"]
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            assert a.namespace is not None and b.namespace is not None
            if a.namespace[0] != b.namespace[0]:
                continue
            lo, hi = max(a.namespace[1], b.namespace[1]), min(a.namespace[2], b.namespace[2])
            if lo < hi:
                raise DefinitionError(
                    f"Experiments `{a.key}` and `{b.key}` both use namespace `{a.namespace[0]}` "
                    f"with ranges {list(a.namespace[1:])} and {list(b.namespace[1:])}, which "
                    f"overlap on [{lo:g}, {hi:g}]: give them disjoint ranges so no unit is in "
                    "both.",
                    field="namespace",
                )


def _flags(raw: Any, experiments: Sequence[ExperimentDef]) -> tuple[dict[str, Any], ...]:
    items = raw or {}
    if isinstance(items, Mapping):
        items = [{"key": k, **(v or {})} for k, v in items.items()]
    flags = [dict(f) for f in items]
    have = {f.get("key") for f in flags}
    for e in experiments:
        if e.feature and e.feature not in have:
            values = [v.value for v in e.variations]
            kind = (
                "boolean" if all(isinstance(v, bool) for v in values)
                else "string" if all(isinstance(v, str) for v in values)
                else "json"
            )  # fmt: skip
            flags.append({
                "key": e.feature, "type": kind, "default": values[0],
                "rules": [{"type": "experiment", "id": e.key, "experiment": e.key}],
            })  # fmt: skip
            have.add(e.feature)
    return tuple(flags)


def parse_definitions(
    raw: Mapping[str, Any] | None,
    *,
    events: Collection[str] | None = None,
    attributes: Collection[str] = (),
) -> Definitions:
    """Validate parsed YAML. ``events`` (the tracking plan's names) checks metric events;
    ``attributes`` adds custom attribute names triggers may use."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise DefinitionError("experiments.yaml must be a mapping with `experiments:` and more.")
    attributes = {*attributes, *(raw.get("attributes") or ())}
    metrics: dict[str, MetricDef] = {}
    for key, spec in (raw.get("metrics") or {}).items():
        metrics[str(key)] = parse_metric(str(key), spec, events)
    experiments: dict[str, ExperimentDef] = {}
    for item in raw.get("experiments") or []:
        exp = _experiment(item, metrics, events, attributes)
        if exp.key in experiments:
            raise DefinitionError(f"Experiment key `{exp.key}` is defined twice: keys are unique.")
        experiments[exp.key] = exp
    _check_namespaces(list(experiments.values()))
    defs = Definitions(
        experiments, metrics, _flags(raw.get("features"), list(experiments.values()))
    )
    defs.payload(date_updated="1970-01-01T00:00:00.000Z")  # flag errors surface now, not later
    return defs


def load_definitions(
    path: str | Path, *, events: Collection[str] | None = None, attributes: Collection[str] = ()
) -> Definitions:
    """Read and validate ``experiments.yaml`` (an absent file defines nothing)."""
    path = Path(path)
    if not path.exists():
        return Definitions({}, {})
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path.name} is not valid YAML: {exc}") from None
    return parse_definitions(raw, events=events, attributes=attributes)
