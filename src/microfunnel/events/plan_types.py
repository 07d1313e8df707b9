"""Parameter types and names in a tracking plan: the type tests, snake_case, and reason wording.

``_TYPES`` maps each plan type to its test and the words a reason uses for it; ``_EXACT`` lists the
runtime types that certainly pass each test. ``_describe`` and ``_closest`` word a value and a
"did you mean" hint for reasons and PlanError messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from microfunnel.hints import close_names

__all__ = ["SNAKE_CASE", "is_snake_case", "to_snake_case"]

SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")


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
    close = close_names(name, known)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "? "
