"""GrowthBook's targeting-condition language, compiled once into a tree of closures.

A condition is a MongoDB-like document (``{"country": {"$in": ["US", "CA"]}, "device":
"mobile"}``). :func:`compile_condition` turns it into a plain function of the attributes, so a
rule evaluated for every request pays the parsing cost once. Comparisons follow the JavaScript
reference SDK where the conformance suite pins it down: relational operators coerce like JS
(``"8" > 5``, a missing value compares as 0), literal values coerce (``5`` matches ``"5"``),
``$eq``/``$in`` are strict.

>>> is_mobile_us = compile_condition({"country": {"$in": ["US", "CA"]}, "device": "mobile"})
>>> is_mobile_us({"country": "US", "device": "mobile"})
True
>>> eval_condition({"version": "1.2.3"}, {"version": {"$vgte": "1.2.0"}})
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from microfunnel.errors import DefinitionError
from microfunnel.experiments.hashing import js_string, js_truthy

__all__ = [
    "Condition",
    "ValueTest",
    "compile_condition",
    "eval_condition",
    "padded_version",
]

Condition = Callable[[Mapping[str, Any]], bool]
"""A compiled condition: attributes in, pass or fail out."""
ValueTest = Callable[[Any], bool]
"""A compiled test of one attribute value."""

SavedGroups = Mapping[str, Sequence[Any]]
T = TypeVar("T")


def _always(_: Any) -> bool:
    return True


def eval_condition(
    attributes: Mapping[str, Any],
    condition: Mapping[str, Any],
    saved_groups: SavedGroups | None = None,
) -> bool:
    """Evaluate ``condition`` once; compile it with :func:`compile_condition` to reuse it."""
    return compile_condition(condition, saved_groups)(attributes)


def compile_condition(
    condition: Mapping[str, Any] | None, saved_groups: SavedGroups | None = None
) -> Condition:
    """Compile a condition document into a function of the attributes.

    ``saved_groups`` maps a group id to its members for ``$inGroup``/``$notInGroup``.
    """
    if condition is None:
        return _always
    if not isinstance(condition, Mapping):
        raise DefinitionError(
            f"A condition must be a JSON object such as {{'country': 'US'}}, got {condition!r}."
        )
    return _Compiler(saved_groups or {}).condition(condition)


# --- JavaScript coercions -------------------------------------------------------------------

_JS_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_NAN = float("nan")


def _to_number(value: Any) -> float:
    """JavaScript ``Number(value)`` for JSON values (``null`` is 0, ``"x"`` is NaN)."""
    kind = type(value)
    if kind is int or kind is float:
        return value
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if kind is str:
        text = value.strip()
        if not text:
            return 0
        if _JS_NUMBER.fullmatch(text):
            return float(text)
        if text.lstrip("+-") == "Infinity":
            return float("-inf") if text[0] == "-" else float("inf")
        for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
            if text[:2].lower() == prefix:
                try:
                    return int(text[2:], base)
                except ValueError:
                    return _NAN
        return _NAN
    if kind is list:
        return _to_number(js_string(value))
    return _NAN


def _to_primitive(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return js_string(value)
    return value


def _js_less(a: Any, b: Any) -> bool | None:
    """JS abstract relational comparison ``a < b``; ``None`` when it is undefined (NaN)."""
    a, b = _to_primitive(a), _to_primitive(b)
    if type(a) is str and type(b) is str:
        if a.isascii() and b.isascii():
            return a < b
        return a.encode("utf-16-be") < b.encode("utf-16-be")
    x, y = _to_number(a), _to_number(b)
    if x != x or y != y:
        return None
    return x < y


def _js_json(value: Any) -> str:
    """``JSON.stringify`` for JSON values: integral floats print as integers."""
    return json.dumps(_json_normal(value), separators=(",", ":"), ensure_ascii=False)


def _json_normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_json_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_normal(v) for k, v in value.items()}
    return value


class _Members:
    """Strict (``===``) membership: ``1`` is not ``true``, ``"US"`` is not ``"us"``."""

    __slots__ = ("has_null", "insensitive", "numbers", "strings", "truths")

    def __init__(self, values: Sequence[Any], insensitive: bool = False) -> None:
        self.insensitive = insensitive
        self.strings = {v.lower() if insensitive else v for v in values if type(v) is str}
        self.numbers = {v for v in values if type(v) in (int, float)}
        self.truths = {v for v in values if type(v) is bool}
        self.has_null = any(v is None for v in values)

    def __contains__(self, value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return (value.lower() if self.insensitive else value) in self.strings
        if kind is int or kind is float:
            return value in self.numbers
        if kind is bool:
            return value in self.truths
        return value is None and self.has_null

    def intersects(self, value: Any) -> bool:
        if type(value) is list:
            return any(item in self for item in value)
        return value in self


def _strict_equal(expected: Any) -> ValueTest:
    if isinstance(expected, (list, dict)):
        return lambda actual: False  # JS compares objects by reference
    members = _Members([expected])
    return members.__contains__


def padded_version(value: Any) -> str:
    """Normalise a version so plain string comparison orders it (``1.2.3-rc.1`` < ``1.2.3``)."""
    if type(value) in (int, float):
        value = js_string(value)
    if not value or type(value) is not str:
        value = "0"
    parts = re.split(r"[-.]", re.sub(r"^v|\+.*$", "", value))
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5, " ") if p.isdigit() and p.isascii() else p for p in parts)


_VERSION_OPS: dict[str, Callable[[str, str], bool]] = {
    "$veq": lambda a, b: a == b,
    "$vne": lambda a, b: a != b,
    "$vgt": lambda a, b: a > b,
    "$vgte": lambda a, b: a >= b,
    "$vlt": lambda a, b: a < b,
    "$vlte": lambda a, b: a <= b,
}

_TYPE_NAMES = {str: "string", int: "number", float: "number", bool: "boolean", list: "array"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), "object" if isinstance(value, dict) else "unknown")


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k.startswith("$") for k in value)


def _getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    if "." not in path:
        return lambda attributes: attributes.get(path)
    parts = path.split(".")

    def get(attributes: Mapping[str, Any]) -> Any:
        current: Any = attributes
        for part in parts:
            if isinstance(current, Mapping):
                if part not in current:
                    return None
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return None
        return current

    return get


def _all(tests: list[Callable[[T], bool]]) -> Callable[[T], bool]:
    """The conjunction of ``tests``, unrolled for the common one- and two-test cases."""
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda value: first(value) and second(value)
    return lambda value: all(test(value) for test in tests)


class _Compiler:
    def __init__(self, saved_groups: SavedGroups) -> None:
        self.saved_groups = saved_groups

    def condition(self, condition: Mapping[str, Any]) -> Condition:
        return _all([self._entry(key, value) for key, value in condition.items()])

    def _conditions(self, key: str, value: Any) -> list[Condition]:
        if not isinstance(value, list):
            raise DefinitionError(
                f"Condition operator {key} takes a list of conditions, got {value!r}."
            )
        return [self.condition(c) for c in value]

    def _entry(self, key: str, value: Any) -> Condition:
        if key == "$or" or key == "$nor":
            subs = self._conditions(key, value)
            if key == "$nor":
                return lambda attributes: not any(s(attributes) for s in subs)
            if not subs:
                return _always
            return lambda attributes: any(s(attributes) for s in subs)
        if key == "$and":
            subs = self._conditions(key, value)
            return lambda attributes: all(s(attributes) for s in subs)
        if key == "$not":
            inner = self.condition(value)
            return lambda attributes: not inner(attributes)
        get = _getter(key)
        test = self.value(value)
        if "." not in key:
            return lambda attributes: test(attributes.get(key))
        return lambda attributes: test(get(attributes))

    def value(self, expected: Any) -> ValueTest:
        """A test of one attribute value against a literal or an operator object."""
        kind = type(expected)
        if kind is str:
            return lambda actual: (actual if type(actual) is str else js_string(actual)) == expected
        if kind is bool:
            return lambda actual: actual is not None and js_truthy(actual) == expected
        if kind is int or kind is float:
            return lambda actual: _to_number(actual) == expected
        if expected is None:
            return lambda actual: actual is None
        if not _is_operator_object(expected):
            serialized = _js_json(expected)
            return lambda actual: (
                isinstance(actual, (list, dict)) and _js_json(actual) == serialized
            )
        return _all([self._operator(op, arg) for op, arg in expected.items()])

    def _operator(self, op: str, expected: Any) -> ValueTest:
        if op in _VERSION_OPS:
            compare = _VERSION_OPS[op]
            padded = padded_version(expected)
            return lambda actual: compare(padded_version(actual), padded)
        if op == "$eq":
            return _strict_equal(expected)
        if op == "$ne":
            equal = _strict_equal(expected)
            return lambda actual: not equal(actual)
        if op in ("$lt", "$lte", "$gt", "$gte"):
            return _relational(op, expected)
        if op == "$exists":
            if js_truthy(expected):
                return lambda actual: actual is not None
            return lambda actual: actual is None
        if op in ("$in", "$nin", "$ini", "$nini"):
            if not isinstance(expected, list):
                return lambda actual: False
            members = _Members(expected, insensitive=op.endswith("i"))
            if op.startswith("$n"):
                return lambda actual: not members.intersects(actual)
            return members.intersects
        if op in ("$inGroup", "$notInGroup"):
            group = _Members(list(self.saved_groups.get(str(expected)) or []))
            if op == "$notInGroup":
                return lambda actual: not group.intersects(actual)
            return group.intersects
        if op == "$not":
            inner = self.value(expected)
            return lambda actual: not inner(actual)
        if op == "$size":
            size = self.value(expected)
            return lambda actual: type(actual) is list and size(len(actual))
        if op == "$elemMatch":
            return self._elem_match(expected)
        if op in ("$all", "$alli"):
            return self._all_of(expected, insensitive=op == "$alli")
        if op in ("$regex", "$regexi"):
            return _regex(expected, re.IGNORECASE if op == "$regexi" else 0)
        if op == "$type":
            return lambda actual: _type_name(actual) == expected
        return lambda actual: False  # unknown operators fail, as in every GrowthBook SDK

    def _elem_match(self, expected: Any) -> ValueTest:
        if _is_operator_object(expected):
            check: ValueTest = self.value(expected)
        elif isinstance(expected, Mapping):
            sub = self.condition(expected)

            def check(item: Any) -> bool:
                return isinstance(item, Mapping) and sub(item)
        else:
            return lambda actual: False
        return lambda actual: type(actual) is list and any(check(item) for item in actual)

    def _all_of(self, expected: Any, insensitive: bool) -> ValueTest:
        if not isinstance(expected, list):
            return lambda actual: False
        tests = [self.value(_lower(e) if insensitive else e) for e in expected]

        def all_of(actual: Any) -> bool:
            if type(actual) is not list:
                return False
            items = [_lower(item) for item in actual] if insensitive else actual
            return all(any(test(item) for item in items) for test in tests)

        return all_of


def _lower(value: Any) -> Any:
    return value.lower() if type(value) is str else value


def _relational(op: str, expected: Any) -> ValueTest:
    numeric = type(expected) in (int, float)
    if op == "$lt":

        def test(actual: Any) -> bool:
            if numeric and type(actual) in (int, float):
                return bool(actual < expected)
            return _js_less(actual, expected) is True
    elif op == "$gt":

        def test(actual: Any) -> bool:
            if numeric and type(actual) in (int, float):
                return bool(actual > expected)
            return _js_less(expected, actual) is True
    elif op == "$lte":

        def test(actual: Any) -> bool:
            if numeric and type(actual) in (int, float):
                return bool(actual <= expected)
            return _js_less(expected, actual) is False
    else:

        def test(actual: Any) -> bool:
            if numeric and type(actual) in (int, float):
                return bool(actual >= expected)
            return _js_less(actual, expected) is False

    return test


def _regex(pattern: Any, flags: int) -> ValueTest:
    try:
        compiled = re.compile(js_string(pattern), flags)
    except re.error:
        return lambda actual: False
    search = compiled.search
    return lambda actual: search(actual if type(actual) is str else js_string(actual)) is not None
