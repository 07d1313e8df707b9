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

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from microfunnel.errors import PlanError
from microfunnel.events.model import Event

__all__ = ["TrackingPlan", "default_plan_text", "to_snake_case"]

PLAN_FILE = "tracking-plan.yaml"
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")

# A problem is (what is wrong, what to do); the event wrapper turns it into a sentence.
Problem = tuple[str, str]
Check = Callable[[Any, str, list[Problem]], None]
Ok = Callable[[Any], bool]
# A constraint is a checker (which says what is wrong) and a predicate (whether anything is).
Constraint = tuple[Check, Ok]

_PLAN_KEYS: tuple[str, ...] = (
    *("version", "naming", "allow_unknown_events", "allow_unknown_properties"),
    *("definitions", "events", "description"),
)
_OBJECT_KEYS: tuple[str, ...] = ("required", "optional", "require_any", "allow_unknown_properties")
_EVENT_KEYS: tuple[str, ...] = ("description", "lenient", *_OBJECT_KEYS)
_SPEC_KEYS: tuple[str, ...] = (
    *("type", "description", "allowed", "min", "max", "min_length", "max_length"),
    *("pattern", "items", "min_items", "max_items", "ref", "example", *_OBJECT_KEYS),
)


def _is_string(v: Any) -> bool:
    return isinstance(v, str)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    if isinstance(v, float):
        return v.is_integer()
    return isinstance(v, int) and not isinstance(v, bool)


def _is_boolean(v: Any) -> bool:
    return isinstance(v, bool)


def _is_array(v: Any) -> bool:
    return isinstance(v, list | tuple)


def _is_object(v: Any) -> bool:
    return isinstance(v, dict)


class _Param(NamedTuple):
    skip: frozenset[type]
    check: Check
    ok: Ok  # True exactly when ``check`` would find no problem, building no strings


# The exact runtime types that certainly pass each type test (bool is not an int here).
_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "number": frozenset({int, float}),
    "integer": frozenset({int}),
    "boolean": frozenset({bool}),
    "array": frozenset({list, tuple}),
    "object": frozenset({dict}),
}

_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (_is_string, "a string"),
    "number": (_is_number, "a number"),
    "integer": (_is_integer, "an integer"),
    "boolean": (_is_boolean, "true or false"),
    "array": (_is_array, "an array"),
    "object": (_is_object, "an object"),
}


def to_snake_case(name: str) -> str:
    """``AddToCart``, ``add-to-cart`` and ``Add To Cart`` all become ``add_to_cart``."""
    prefix = "$" if name.startswith("$") else ""
    body = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.removeprefix("$"))
    body = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", body)
    body = re.sub(r"[^0-9a-zA-Z]+", "_", body).strip("_").lower()
    return prefix + body


def is_snake_case(name: str) -> bool:
    return SNAKE_CASE.match(name.removeprefix("$")) is not None


_snake_names: dict[str, bool] = {}


def _snake_cached(name: str) -> bool:
    """``is_snake_case`` for parameter names the plan does not list, which repeat endlessly."""
    known = _snake_names.get(name)
    if known is None:
        if len(_snake_names) >= 10_000:
            _snake_names.clear()
        known = _snake_names[name] = is_snake_case(name)
    return known


def _describe(value: Any) -> str:
    for type_name, (test, _) in _TYPES.items():
        if type_name != "integer" and test(value):
            text = repr(value)
            shown = text if len(text) <= 40 else text[:37] + "..."
            return f"{type_name} {shown}"
    return "null" if value is None else type(value).__name__


def _closest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "? "


# ---------------------------------------------------------------------------------------------
# Loading YAML with line numbers, so a broken plan says where it is broken.


class _Node(dict[Any, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    loader.flatten_mapping(node)
    mapping = _Node()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise PlanError(f"{PLAN_FILE} line {line}: key `{key}` appears twice; keep one.")
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where in the plan file a value sits: for PlanError messages."""

    source: str
    line: int
    key: str

    def error(self, problem: str) -> PlanError:
        return PlanError(f"{self.source} line {self.line}, `{self.key}`: {problem}", field=self.key)

    def child(self, node: Mapping[Any, Any], key: str) -> _Where:
        line = node.key_lines.get(key, self.line) if isinstance(node, _Node) else self.line
        return _Where(self.source, line, f"{self.key}.{key}" if self.key else key)


def _mapping(
    value: Any, where: _Where, allowed_keys: tuple[str, ...] | None = None
) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(f"expected a mapping, got {_describe(value)}.")
    for key in value:
        if allowed_keys is not None and key not in allowed_keys:
            hint = _closest(str(key), allowed_keys)
            raise where.child(value, str(key)).error(
                f"unknown key `{key}`; {hint}allowed keys are {', '.join(allowed_keys)}."
            )
    return value


# ---------------------------------------------------------------------------------------------
# Compiling parameter specs into checkers.


class _Compiler:
    def __init__(self, definitions: Mapping[str, Any], where: _Where, naming: bool):
        self.definitions = definitions
        self.where = where
        self.naming = naming
        self.compiled: dict[str, _Param] = {}
        self.compiling: set[str] = set()

    def ref(self, name: Any, where: _Where) -> _Param:
        if name not in self.definitions:
            hint = _closest(str(name), self.definitions)
            raise where.error(f"`ref: {name}` names no definition; {hint}add it to `definitions`.")
        if name in self.compiling:
            raise where.error(f"definition `{name}` refers to itself; break the cycle.")
        if name not in self.compiled:
            self.compiling.add(name)
            spec_where = self.where.child(self.definitions, name)
            self.compiled[name] = self.param(self.definitions[name], spec_where)
            self.compiling.discard(name)
        return self.compiled[name]

    def param(self, raw: Any, where: _Where) -> _Param:
        spec = _mapping(raw, where, _SPEC_KEYS)
        if "ref" in spec:
            if len(spec) > 1 + ("description" in spec):
                raise where.error("`ref` takes no other keys; put them in the definition.")
            return self.ref(spec["ref"], where.child(spec, "ref"))
        type_names = spec.get("type")
        if type_names is None:
            raise where.error(f"missing `type`; use one of {', '.join(_TYPES)}.")
        names = type_names if isinstance(type_names, list) else [type_names]
        for name in names:
            if name not in _TYPES:
                hint = _closest(str(name), _TYPES)
                raise where.child(spec, "type").error(
                    f"unknown type `{name}`; {hint}use one of {', '.join(_TYPES)}."
                )
        tests = tuple(_TYPES[n][0] for n in names)
        words = " or ".join(_TYPES[n][1] for n in names)
        compiled = self.constraints(spec, where, names)
        constraints = tuple(c for c, _ in compiled)
        type_ok: Callable[[Any], bool] = tests[0]
        if len(tests) > 1:

            def type_ok(value: Any) -> bool:
                return any(test(value) for test in tests)

        def check(value: Any, path: str, out: list[Problem]) -> None:
            if not type_ok(value):
                out.append(
                    (f"parameter `{path}` must be {words}, got {_describe(value)}", f"send {words}")
                )
                return
            for constraint in constraints:
                constraint(value, path, out)

        exact = frozenset().union(*(_EXACT[n] for n in names))
        # A value of exactly these types with no constraint to test passes without a call.
        skip = frozenset() if constraints else exact
        return _Param(skip, check, _all_ok(exact, type_ok, tuple(ok for _, ok in compiled)))

    def constraints(
        self, spec: Mapping[str, Any], where: _Where, types: list[str]
    ) -> list[Constraint]:
        out: list[Constraint] = []
        if "allowed" in spec:
            out.append(self.allowed(spec["allowed"], where.child(spec, "allowed"), types))
        for key, word, fix in (
            ("min", "below the minimum", ">="),
            ("max", "above the maximum", "<="),
        ):
            if key in spec:
                out.append(_bound(spec[key], where.child(spec, key), key, word, fix))
        for key, noun in (("min_length", "characters"), ("min_items", "entries")):
            if key in spec:
                out.append(_size(spec[key], where.child(spec, key), key, noun, low=True))
        for key, noun in (("max_length", "characters"), ("max_items", "entries")):
            if key in spec:
                out.append(_size(spec[key], where.child(spec, key), key, noun, low=False))
        if "pattern" in spec:
            out.append(_pattern(spec["pattern"], where.child(spec, "pattern")))
        if "items" in spec:
            out.append(_each(self.param(spec["items"], where.child(spec, "items"))))
        if types == ["object"] and any(k in spec for k in _OBJECT_KEYS):
            schema = self.object(spec, where)
            out.append(
                (lambda value, path, problems: schema.check(value, path + ".", problems), schema.ok)
            )
        return out

    def allowed(self, values: Any, where: _Where, types: list[str]) -> Constraint:
        if not isinstance(values, list) or not values:
            raise where.error("`allowed` must be a non-empty list of values.")
        for value in values:
            if not any(_TYPES[t][0](value) for t in types):
                raise where.error(f"allowed value {value!r} is not {' or '.join(types)}.")
        choices = frozenset(values)
        listed = ", ".join(str(v) for v in values)

        def check(value: Any, path: str, out: list[Problem]) -> None:
            if value not in choices:
                hint = _closest(str(value), [str(v) for v in values])
                out.append(
                    (
                        f"parameter `{path}` is {value!r}, which is not an allowed value",
                        f"{hint}use one of {listed}, or add it to `allowed` in {PLAN_FILE}",
                    )
                )

        return check, choices.__contains__

    def object(self, spec: Mapping[str, Any], where: _Where) -> _ObjectSchema:
        required = _mapping(spec.get("required"), where.child(spec, "required"))
        optional = _mapping(spec.get("optional"), where.child(spec, "optional"))
        fields: dict[str, _Param] = {}
        for group_name, group in (("required", required), ("optional", optional)):
            group_where = where.child(spec, group_name)
            for name, param in group.items():
                param_where = group_where.child(group, str(name))
                if not isinstance(name, str) or (self.naming and not is_snake_case(name)):
                    raise param_where.error(
                        f"parameter name `{name}` is not snake_case; "
                        f"use `{to_snake_case(str(name))}`."
                    )
                if name in fields:
                    raise param_where.error(f"`{name}` is both required and optional; pick one.")
                fields[name] = self.param(param, param_where)
        require_any = spec.get("require_any") or []
        if not isinstance(require_any, list) or not all(n in fields for n in require_any):
            raise where.child(spec, "require_any").error(
                "`require_any` must list parameters defined under `required` or `optional`."
            )
        allow_unknown = spec.get("allow_unknown_properties", self.allow_unknown_default)
        return _ObjectSchema(
            required=tuple(required),
            fields=fields,
            require_any=tuple(require_any),
            allow_unknown=bool(allow_unknown),
            naming=self.naming,
        )

    allow_unknown_default: bool = True


def _number(value: Any, where: _Where, key: str) -> float:
    if not _is_number(value):
        raise where.error(f"`{key}` must be a number, got {_describe(value)}.")
    return float(value)


def _all_ok(exact: frozenset[type], type_ok: Ok, oks: tuple[Ok, ...]) -> Ok:
    """One predicate for a parameter: its type test, then each constraint's, unrolled."""
    if not oks:
        return lambda value: type(value) in exact or type_ok(value)
    if len(oks) == 1:
        (first,) = oks
        return lambda value: (type(value) in exact or type_ok(value)) and first(value)
    if len(oks) == 2:
        first, second = oks
        return lambda value: (
            (type(value) in exact or type_ok(value)) and first(value) and second(value)
        )

    if len(oks) == 3:  # an array with min_items, max_items and items
        first, second, third = oks
        return lambda value: (
            (type(value) in exact or type_ok(value))
            and first(value)
            and second(value)
            and third(value)
        )
    return lambda value: (type(value) in exact or type_ok(value)) and all(ok(value) for ok in oks)


def _bound(limit_raw: Any, where: _Where, key: str, word: str, fix: str) -> Constraint:
    limit = _number(limit_raw, where, key)
    shown = limit_raw
    low = key == "min"

    def is_out(value: Any) -> bool:
        return isinstance(value, int | float) and (value < limit if low else value > limit)

    def check(value: Any, path: str, out: list[Problem]) -> None:
        if is_out(value):
            out.append(
                (f"parameter `{path}` is {value!r}, {word} {shown}", f"send a value {fix} {shown}")
            )

    # Prices and counts are a plain float or int: one comparison.
    if low:
        return (
            check,
            lambda value: not value < limit if type(value) in _PLAIN_NUMBERS else not is_out(value),
        )
    return (
        check,
        lambda value: not value > limit if type(value) in _PLAIN_NUMBERS else not is_out(value),
    )


_PLAIN_NUMBERS = frozenset({int, float})


def _size(limit_raw: Any, where: _Where, key: str, noun: str, *, low: bool) -> Constraint:
    limit = int(_number(limit_raw, where, key))
    word, fix = ("fewer", "at least") if low else ("more", "at most")

    def check(value: Any, path: str, out: list[Problem]) -> None:
        size = len(value)
        if size < limit if low else size > limit:
            out.append(
                (
                    f"parameter `{path}` has {size} {noun}, {word} than {limit}",
                    f"send {fix} {limit} {noun}",
                )
            )

    if low:
        return check, lambda value: len(value) >= limit
    return check, lambda value: len(value) <= limit


def _pattern(raw: Any, where: _Where) -> Constraint:
    try:
        compiled = re.compile(str(raw))
    except re.error as exc:
        raise where.error(f"`pattern` is not a valid regular expression: {exc}.") from None

    def check(value: Any, path: str, out: list[Problem]) -> None:
        if isinstance(value, str) and compiled.fullmatch(value) is None:
            out.append(
                (
                    f"parameter `{path}` is {value!r}, which does not match `{raw}`",
                    f"fix the value, or change `pattern` in {PLAN_FILE}",
                )
            )

    match = compiled.fullmatch
    return check, lambda value: not isinstance(value, str) or match(value) is not None


def _each(item: _Param) -> Constraint:
    item_check, item_ok = item.check, item.ok

    def check(value: Any, path: str, out: list[Problem]) -> None:
        for index, entry in enumerate(value):
            item_check(entry, f"{path}[{index}]", out)

    def ok(value: Any) -> bool:
        return all(map(item_ok, value))

    return check, ok


@dataclass(frozen=True, slots=True)
class _ObjectSchema:
    required: tuple[str, ...]
    fields: dict[str, _Param]
    require_any: tuple[str, ...]
    allow_unknown: bool
    naming: bool

    def check(self, obj: Mapping[str, Any], prefix: str, out: list[Problem]) -> None:
        fields = self.fields
        for name in self.required:
            if name not in obj:
                out.append(
                    (
                        f"is missing required parameter `{prefix}{name}`",
                        f"add it, or mark it optional in {PLAN_FILE}",
                    )
                )
            elif obj[name] is None:
                out.append(
                    (
                        f"parameter `{prefix}{name}` is null",
                        f"send a value, or mark it optional in {PLAN_FILE}",
                    )
                )
        for name, value in obj.items():
            param = fields.get(name)
            if param is None:
                self.unknown(name, prefix, out)
            elif type(value) not in param.skip and value is not None:
                param.check(value, prefix + name, out)
        if self.require_any:
            for name in self.require_any:
                if obj.get(name) is not None:
                    return
            names = " or ".join(f"`{prefix}{n}`" for n in self.require_any)
            out.append((f"has none of {names}", "send at least one of them"))

    def ok(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``check`` would find nothing wrong: the same tests, and no strings built."""
        for name in self.required:
            if obj.get(name) is None:
                return False
        fields = self.fields
        for name, value in obj.items():
            param = fields.get(name)
            if param is None:
                if not self.allow_unknown or (self.naming and not _snake_cached(name)):
                    return False
            elif value is not None and type(value) not in param.skip and not param.ok(value):
                return False
        if self.require_any:
            return any(obj.get(name) is not None for name in self.require_any)
        return True

    def unknown(self, name: str, prefix: str, out: list[Problem]) -> None:
        if self.naming and not is_snake_case(name):
            out.append(
                (
                    f"parameter `{prefix}{name}` is not snake_case",
                    f"rename it to `{to_snake_case(name)}`",
                )
            )
        if not self.allow_unknown:
            hint = _closest(name, self.fields)
            out.append(
                (
                    f"has parameter `{prefix}{name}`, which the plan does not define",
                    f"{hint}remove it, or add it under `optional` in {PLAN_FILE}",
                )
            )


# ---------------------------------------------------------------------------------------------


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
        """Every reason ``event`` breaks the plan; an empty list means it is valid."""
        name = event.event
        spec = self.events.get(name)
        if spec is not None:
            schema = spec.schema
            if schema is None or schema.ok(event.properties):
                return []
            problems: list[Problem] = []
            schema.check(event.properties, "", problems)
            if not problems:
                return []
            return [f"Event `{name}` {what}{self._suffix}: {fix}." for what, fix in problems]
        return self._unknown_event(name)

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


def default_plan_text() -> str:
    """The YAML text of the shipped default plan, a starting point for tracking-plan.yaml."""
    return resources.files("microfunnel.events").joinpath("default-plan.yaml").read_text("utf-8")
