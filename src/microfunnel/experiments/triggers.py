"""Behavioural triggers: expose a unit only when its live context says the change can matter.

A trigger is a GrowthBook condition on live context (``{"device": "mobile", "session_duration":
{"$gt": 120}}``). It joins the experiment's targeting in the SDK payload, so any SDK evaluates it
with the attributes it sends; a unit whose trigger has not fired gets the default value and is not
counted. Assignment is by hash and does not depend on the trigger, so a unit keeps its arm when
the trigger fires later. Exposure is logged (an ``experiment_exposure`` event) only when the
trigger fires *and* the arm is served, so the analysis compares like with like.

:class:`FlagServer` serves flags server-side with exactly those rules, logs exposures through a
sink, and also logs the randomized holdouts of personalization rules (a ``force`` or ``rollout``
rule with ``holdout: 0.1`` keeps 10 % on the default value, as arm ``holdout``), so the effect of
the rule itself is measured.

>>> check_trigger({"device": "mobile", "scroll_depth": {"$gte": 50}}, "Experiment `x`", ())
{'device': 'mobile', 'scroll_depth': {'$gte': 50}}
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from microfunnel.errors import DefinitionError
from microfunnel.events.model import Event
from microfunnel.experiments.conditions import compile_condition
from microfunnel.experiments.features import Evaluator, ExperimentResult, UserContext
from microfunnel.experiments.metrics import closest

__all__ = ["LIVE_ATTRIBUTES", "FlagServer", "check_trigger", "exposure_event"]

LIVE_ATTRIBUTES: dict[str, str] = {
    "device": "mobile, desktop or tablet",
    "session_duration": "seconds since the session started",
    "cart_value": "value of the cart, in the shop currency",
    "cart_items": "number of items in the cart",
    "scroll_depth": "deepest scroll on the page, percent (0-100)",
    "time_on_page": "seconds on the current page",
    "exit_intent": "true once the pointer leaves towards the browser chrome",
    "page_path": "path of the current page",
    "page_type": "home, list, product, cart or checkout",
    "returning": "true for a visitor seen in an earlier session",
    "logged_in": "true when a user id is known",
    "country": "two-letter country code",
    "utm_source": "traffic source of the session",
    "browser": "browser family",
    "id": "the hashed unit id",
}
"""Attributes a trigger may read without declaring them (add others under ``attributes:``)."""

_OPERATORS_WITH_CONDITIONS = ("$and", "$or", "$nor", "$not")


def _attributes_used(condition: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in condition.items():
        if key in _OPERATORS_WITH_CONDITIONS:
            for sub in value if isinstance(value, list) else [value]:
                if isinstance(sub, Mapping):
                    out.extend(_attributes_used(sub))
        elif not key.startswith("$"):
            out.append(key.split(".")[0])
    return out


def check_trigger(
    trigger: Mapping[str, Any], where: str, attributes: Collection[str]
) -> dict[str, Any]:
    """The trigger, checked: known attributes only, and a condition that compiles."""
    if not isinstance(trigger, Mapping):
        raise DefinitionError(f"{where} `trigger` must be a condition like {{device: mobile}}.")
    known = {*LIVE_ATTRIBUTES, *attributes}
    for name in _attributes_used(trigger):
        if name not in known:
            raise DefinitionError(
                f"{where} trigger uses unknown attribute `{name}`{closest(name, known)}: use one "
                f"of {', '.join(sorted(LIVE_ATTRIBUTES))}, or declare it under `attributes:` in "
                "experiments.yaml.",
                field="trigger",
            )
    try:
        compile_condition(dict(trigger))
    except (DefinitionError, ValueError, TypeError) as exc:
        raise DefinitionError(f"{where} trigger is not a valid condition: {exc}") from None
    return dict(trigger)


def exposure_event(
    experiment_key: str,
    variation_key: str,
    attributes: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> Event:
    """The ``experiment_exposure`` event for a unit served an arm (``id`` is the unit)."""
    unit = str(attributes.get("id", ""))
    context: dict[str, Any] = {}
    for name in ("device", "page_path", "utm_source"):
        if attributes.get(name) is not None:
            context[name] = attributes[name]
    return Event(
        event="experiment_exposure",
        event_id=str(uuid.uuid4()),
        anonymous_id=unit or None,
        user_id=attributes.get("user_id"),
        timestamp=at or datetime.now(UTC),
        properties={"experiment_id": experiment_key, "variation_id": variation_key},
        context=context,
    )


class FlagServer:
    """Server-side flag evaluation that logs an exposure each time an arm is served.

    ``sink`` receives one :class:`Event` per exposure (the SDK client's ``track``, a list's
    ``append``, ...). Live context is passed with the user's attributes; the trigger is part of
    the payload's condition, so nothing is logged until it fires.

    >>> from microfunnel.experiments.payload import build_payload
    >>> flag = {"key": "popup", "default": False,
    ...         "rules": [{"type": "experiment", "experiment": "p"}]}
    >>> test = {"key": "p", "condition": {"session_duration": {"$gt": 120}},
    ...         "variations": [{"key": "off", "value": False}, {"key": "on", "value": True}]}
    >>> payload = build_payload([flag], [test], date_updated="2024-01-01")
    >>> seen = []
    >>> server = FlagServer(payload, seen.append)
    >>> server.feature("popup", {"id": "u1", "session_duration": 30}).source, len(seen)
    ('defaultValue', 0)
    >>> server.feature("popup", {"id": "u1", "session_duration": 200}).source, len(seen)
    ('experiment', 1)
    """

    def __init__(self, payload: Mapping[str, Any], sink: Callable[[Event], Any]) -> None:
        self._sink = sink
        self._evaluator = Evaluator.from_payload(payload, on_experiment=self._log)
        self._attributes: Mapping[str, Any] = {}

    def _log(self, experiment: Mapping[str, Any], result: ExperimentResult) -> None:
        meta = experiment.get("meta") or []
        index = result.variation_id
        key = meta[index].get("key") if index < len(meta) else None
        self._sink(exposure_event(str(experiment["key"]), str(key or index), self._attributes))

    def feature(self, key: str, attributes: Mapping[str, Any]) -> Any:
        """Evaluate flag ``key`` for a unit with ``attributes`` (targeting and live context)."""
        self._attributes = attributes
        try:
            return self._evaluator.eval_feature(key, UserContext(attributes=attributes))
        finally:
            self._attributes = {}
