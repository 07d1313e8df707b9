"""Compiling tracking-plan parameter specs into checkers and fast predicates.

Each parameter compiles to a ``_Param``: a checker that appends (what is wrong, what to do)
problems, and a predicate that is True exactly when the checker would find nothing, building no
strings. ``_ObjectSchema`` does the same for a mapping of parameters (an event's properties, or
an object).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from microfunnel.events.plan_fast import fast_ok, object_ok
from microfunnel.events.plan_types import (
    _EXACT,
    _TYPES,
    _closest,
    _describe,
    _is_number,
    _snake_cached,
    is_snake_case,
    to_snake_case,
)
from microfunnel.events.plan_yaml import _OBJECT_KEYS, _SPEC_KEYS, PLAN_FILE, _mapping, _Where

__all__ = ["Check", "Constraint", "Ok", "Problem"]

# A problem is (what is wrong, what to do); the event wrapper turns it into a sentence.
Problem = tuple[str, str]
Check = Callable[[Any, str, list[Problem]], None]
Ok = Callable[[Any], bool]
# A constraint is a checker (which says what is wrong) and a predicate (whether anything is).
Constraint = tuple[Check, Ok]


class _Param(NamedTuple):
    skip: frozenset[type]
    check: Check
    ok: Ok  # True exactly when ``check`` would find no problem, building no strings
    # An object parameter with a schema: ``ok`` for a dict, without the type test (an array of
    # such objects calls it directly for each entry).
    dict_ok: Ok | None = None


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
        items = self.param(spec["items"], where.child(spec, "items")) if "items" in spec else None
        if items is not None:
            compiled.append(_each(items))
        schema = self.object(spec, where) if _has_schema(spec, names) else None
        if schema is not None:
            compiled.append(_nested(schema))
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
        generic = _all_ok(exact, type_ok, tuple(ok for _, ok in compiled))
        schema_ok = schema.ok if schema is not None else None
        entries = (items.ok, items.dict_ok) if items is not None else None
        return _Param(skip, check, fast_ok(names, spec, generic, entries, schema_ok), schema_ok)

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


def _has_schema(spec: Mapping[str, Any], types: list[str]) -> bool:
    """Whether an object parameter says what its properties must be."""
    return types == ["object"] and any(k in spec for k in _OBJECT_KEYS)


def _nested(schema: _ObjectSchema) -> Constraint:
    return (lambda value, path, problems: schema.check(value, path + ".", problems), schema.ok)


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
    # Whether ``check`` would find nothing wrong: the same tests, and no strings built.
    ok: Ok = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        oks = {name: param.ok for name, param in self.fields.items()}
        ok = object_ok(self.required, oks, self.require_any, self.unknown_ok)
        object.__setattr__(self, "ok", ok)

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

    def unknown_ok(self, name: str) -> bool:
        """Whether a property the schema does not define is fine (``unknown`` adds nothing)."""
        return self.allow_unknown and (not self.naming or _snake_cached(name))

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
