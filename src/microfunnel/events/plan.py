"""The tracking plan: which events exist, what each must carry, and why an event fails.

A plan is a versioned YAML file (``tracking-plan.yaml``). It is compiled once into one checker per
event, so validating an event is a dictionary lookup and a few type tests, and a valid event builds
no strings at all. Every failure is a sentence that names the event, the parameter and the fix::

    >>> from microfunnel.events.model import Event
    >>> plan = TrackingPlan.from_yaml(default_plan_text())
    >>> event = Event(event="view_item", properties={"value": 9.5, "items": [{"item_id": "A1"}]})
    >>> print(*plan.validate(event))
    Event `view_item` is missing required parameter `currency` (tracking plan v1): add it, \
or mark it optional in tracking-plan.yaml.

The YAML shape::

    version: 1                      # an integer, raised on every change
    naming: snake_case              # or "none"
    allow_unknown_events: false     # unknown names are reasons (with the closest known names)
    allow_unknown_properties: true  # parameters the plan does not list are accepted
    definitions:                    # reusable parameter specs, used as {ref: item}
      item: {type: object, require_any: [item_id, item_name], optional: {...}}
    events:
      add_to_cart:
        description: ...
        required: {currency: {type: string, pattern: "[A-Z]{3}"}, value: {type: number, min: 0}}
        optional: {items: {type: array, items: {ref: item}}}
      $identify: {lenient: true}    # names starting with "$" are system events

A parameter spec has ``type`` (string, number, integer, boolean, array, object, or a list of them)
and optional ``allowed`` (the enum), ``min``/``max``, ``min_length``/``max_length``, ``pattern``
(the whole string must match), ``items``/``min_items``/``max_items`` (arrays), ``required``,
``optional``, ``require_any`` and ``allow_unknown_properties`` (objects), ``description``. A null
optional parameter counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from microfunnel.errors import PlanError
from microfunnel.events.model import Event

# Every name below was defined here before the plan was split; all stay importable from here.
from microfunnel.events.plan_checks import (  # noqa: F401
    _PLAIN_NUMBERS,
    Check,
    Constraint,
    Ok,
    Problem,
    _all_ok,
    _bound,
    _Compiler,
    _each,
    _number,
    _ObjectSchema,
    _Param,
    _pattern,
    _size,
)
from microfunnel.events.plan_types import (  # noqa: F401
    _EXACT,
    _TYPES,
    SNAKE_CASE,
    _closest,
    _describe,
    _is_array,
    _is_boolean,
    _is_integer,
    _is_number,
    _is_object,
    _is_string,
    _snake_cached,
    _snake_names,
    is_snake_case,
    to_snake_case,
)
from microfunnel.events.plan_yaml import (  # noqa: F401
    _EVENT_KEYS,
    _OBJECT_KEYS,
    _PLAN_KEYS,
    _SPEC_KEYS,
    PLAN_FILE,
    _construct_mapping,
    _LineLoader,
    _mapping,
    _Node,
    _Where,
)

__all__ = ["TrackingPlan", "default_plan_text", "to_snake_case"]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event of the plan, compiled."""

    name: str
    description: str
    schema: _ObjectSchema | None  # None: lenient, any properties


class TrackingPlan:
    """A compiled, versioned tracking plan; ``validate`` gives every reason an event fails."""

    def __init__(
        self,
        *,
        version: int,
        events: Mapping[str, EventSpec],
        naming: bool = True,
        allow_unknown_events: bool = False,
        source: str = PLAN_FILE,
    ):
        self.version = version
        self.events = dict(events)
        self.naming = naming
        self.allow_unknown_events = allow_unknown_events
        self.source = source
        self._suffix = f" (tracking plan v{version})"
        # Each event name's predicate: True exactly when ``reasons`` would find nothing.
        self._oks: dict[str, Ok] = {
            name: _lenient if spec.schema is None else spec.schema.ok
            for name, spec in self.events.items()
        }

    @property
    def predicates(self) -> Mapping[str, Ok]:
        """Each event name's predicate: True exactly when ``validate`` finds nothing wrong
        (``validate``'s fast path, for a caller that checks many events in one loop)."""
        return self._oks

    @property
    def event_names(self) -> list[str]:
        return sorted(self.events)

    def __repr__(self) -> str:
        return f"TrackingPlan(version={self.version}, events={len(self.events)})"

    @classmethod
    def load(cls, path: str | Path) -> TrackingPlan:
        """Read and compile a plan file; a broken file raises PlanError naming the line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlanError(f"Cannot read tracking plan {path}: {exc.strerror}.") from None
        return cls.from_yaml(text, source=path.name)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = PLAN_FILE) -> TrackingPlan:
        """Compile a plan from YAML text."""
        try:
            raw = yaml.load(text, Loader=_LineLoader)
        except PlanError as exc:
            raise PlanError(exc.message.replace(PLAN_FILE, source, 1)) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise PlanError(f"{source}{line}: not valid YAML ({problem}).") from None
        return cls.from_dict(raw, source=source)

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = PLAN_FILE) -> TrackingPlan:
        """Compile a plan from parsed YAML (or an equivalent dict)."""
        top = _Where(source, getattr(raw, "line", 1), "")
        plan = _mapping(raw, top, _PLAN_KEYS)
        version = plan.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise top.child(plan, "version").error(
                f"`version` must be a positive integer, got {_describe(version)}."
            )
        naming = plan.get("naming", "snake_case")
        if naming not in ("snake_case", "none"):
            raise top.child(plan, "naming").error("`naming` must be `snake_case` or `none`.")
        flags = {}
        for key in ("allow_unknown_events", "allow_unknown_properties"):
            flags[key] = plan.get(key, key == "allow_unknown_properties")
            if not isinstance(flags[key], bool):
                raise top.child(plan, key).error(f"`{key}` must be true or false.")
        definitions = _mapping(plan.get("definitions"), top.child(plan, "definitions"))
        events_where = top.child(plan, "events")
        raw_events = plan.get("events")
        if not raw_events:
            raise events_where.error("the plan lists no `events`; add at least one.")
        raw_events = _mapping(raw_events, events_where)
        compiler = _Compiler(definitions, top.child(plan, "definitions"), naming == "snake_case")
        compiler.allow_unknown_default = flags["allow_unknown_properties"]
        events: dict[str, EventSpec] = {}
        for name, raw_event in raw_events.items():
            where = events_where.child(raw_events, str(name))
            if not isinstance(name, str) or (naming == "snake_case" and not is_snake_case(name)):
                raise where.error(
                    f"event name `{name}` is not snake_case; use `{to_snake_case(str(name))}`."
                )
            spec = _mapping(raw_event, where, _EVENT_KEYS)
            lenient = spec.get("lenient", False)
            schema = None if lenient else compiler.object(spec, where)
            events[name] = EventSpec(name, str(spec.get("description", "")), schema)
        for name in definitions:  # a definition nobody uses still has to be valid
            compiler.ref(name, top.child(plan, "definitions"))
        return cls(
            version=version,
            events=events,
            naming=naming == "snake_case",
            allow_unknown_events=flags["allow_unknown_events"],
            source=source,
        )

    @classmethod
    def default(cls) -> TrackingPlan:
        """The plan shipped with microfunnel: GA4 e-commerce plus micro-conversions."""
        return cls.from_yaml(default_plan_text(), source="default-plan.yaml")

    def validate(self, event: Event) -> list[str]:
        """Every reason ``event`` breaks the plan; an empty list means it is valid.

        A valid event costs one lookup of its name's predicate and that predicate; reasons are
        built only for an event it turns down.
        """
        ok = self._oks.get(event.event)
        if ok is not None and ok(event.properties):
            return []
        return self.reasons(event)

    def reasons(self, event: Event) -> list[str]:
        """``validate`` without the fast path: each reason found by the checkers, worded."""
        name = event.event
        spec = self.events.get(name)
        if spec is None:
            return self._unknown_event(name)
        if spec.schema is None:
            return []
        problems: list[Problem] = []
        spec.schema.check(event.properties, "", problems)
        return [f"Event `{name}` {what}{self._suffix}: {fix}." for what, fix in problems]

    def _unknown_event(self, name: str) -> list[str]:
        reasons = []
        wanted = name
        if self.naming and not is_snake_case(name):
            wanted = to_snake_case(name)
            reasons.append(
                f"Event name `{name}` is not snake_case{self._suffix}: rename it to `{wanted}`."
            )
            if wanted in self.events:
                return reasons
        if not self.allow_unknown_events:
            hint = _closest(wanted, self.events)
            reasons.append(
                f"Event `{name}` is not in the tracking plan{self._suffix}: {hint}"
                f"fix the name, or add the event to {PLAN_FILE}."
            )
        return reasons


def _lenient(properties: Any) -> bool:
    """A lenient event takes any properties."""
    return True


def default_plan_text() -> str:
    """The YAML text of the shipped default plan, a starting point for tracking-plan.yaml."""
    return resources.files("microfunnel.events").joinpath("default-plan.yaml").read_text("utf-8")
