"""Deterministic assignment, following GrowthBook's public SDK specification.

Users are placed in variations by hashing ``seed`` and their hash attribute with FNV-1a (32 bit)
over UTF-16 code units, so every GrowthBook SDK, the browser snippet and this module put the
same user in the same bucket.

>>> hash_value("seed", "a", 2)
0.0505
>>> get_bucket_ranges(3, 0.2, [0.2, 0.3, 0.5])
[[0.0, 0.04000000000000001], [0.2, 0.26], [0.5, 0.6]]
>>> choose_variation(0.55, [[0.0, 0.5], [0.5, 1.0]])
1
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "choose_variation",
    "compile_filters",
    "fnv1a32",
    "get_bucket_ranges",
    "get_equal_weights",
    "get_query_string_override",
    "hash_attribute_value",
    "hash_value",
    "hasher",
    "in_namespace",
    "in_range",
    "is_filtered_out",
    "js_string",
    "js_truthy",
]

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
MASK32 = 0xFFFFFFFF

Range = Sequence[float]


def _code_units(text: str) -> Iterable[int]:
    if text.isascii():
        return text.encode("ascii")
    units = array("H")
    units.frombytes(text.encode("utf-16-le"))
    if sys.byteorder == "big":
        units.byteswap()
    return units


def fnv1a32(text: str, state: int = FNV_OFFSET) -> int:
    """FNV-1a over the UTF-16 code units of ``text``, continuing from ``state``."""
    h = state
    for unit in _code_units(text):
        h = ((h ^ unit) * FNV_PRIME) & MASK32
    return h


def hasher(seed: str, version: int | None) -> Callable[[str], float | None]:
    """A hash function for one seed and version; the seed's FNV state is computed once.

    Returns a function mapping a hash value to a float in [0, 1), or ``None`` for an unknown
    hash version (the caller then treats the user as not included).
    """
    if version == 2:
        seed_state = fnv1a32(seed)

        def v2(value: str) -> float | None:
            h = seed_state
            for unit in _code_units(value):
                h = ((h ^ unit) * FNV_PRIME) & MASK32
            g = FNV_OFFSET
            for unit in str(h).encode("ascii"):
                g = ((g ^ unit) * FNV_PRIME) & MASK32
            return (g % 10000) / 10000

        return v2
    if version == 1:

        def v1(value: str) -> float | None:
            return (fnv1a32(seed, fnv1a32(value)) % 1000) / 1000

        return v1
    return _no_hash


def _no_hash(value: str) -> float | None:
    return None


def hash_value(seed: str, value: str, version: int) -> float | None:
    """GrowthBook ``hash(seed, value, version)``: v1 (legacy, 3 decimals), v2 (4 decimals)."""
    return hasher(seed, version)(value)


def in_range(n: float, bounds: Range) -> bool:
    """Half-open range test ``start <= n < end``."""
    return bounds[0] <= n < bounds[1]


def choose_variation(n: float, ranges: Sequence[Range]) -> int:
    """Index of the first range holding ``n``, or -1 when the user is outside every range."""
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return -1


def get_equal_weights(num_variations: int) -> list[float]:
    """``num_variations`` equal weights summing to 1 (empty for zero or fewer variations)."""
    if num_variations <= 0:
        return []
    return [1.0 / num_variations] * num_variations


def get_bucket_ranges(
    num_variations: int, coverage: float | None = 1.0, weights: Sequence[float] | None = None
) -> list[list[float]]:
    """Bucket ranges; each range starts at its full-coverage position so raising coverage later
    never moves a user who is already assigned."""
    cover = 1.0 if coverage is None else min(max(float(coverage), 0.0), 1.0)
    if weights is None or len(weights) != num_variations or not 0.99 <= sum(weights) <= 1.01:
        weights = get_equal_weights(num_variations)
    ranges: list[list[float]] = []
    cumulative = 0.0
    for weight in weights:
        start = cumulative
        cumulative += weight
        ranges.append([start, start + cover * weight])
    return ranges


_JS_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def get_query_string_override(key: str, url: str, num_variations: int) -> int | None:
    """A variation forced through ``?<experiment key>=<index>`` in the page URL, if valid."""
    if not url or "?" not in url:
        return None
    search = url.split("?")[1].split("#", 1)[0]
    for pair in search.split("&"):
        name, _, value = pair.partition("=")
        if name != key:
            continue
        # JavaScript parseInt: leading digits count, the rest is ignored.
        match = _JS_INT_PREFIX.match(value.split("=", 1)[0])
        if match is None:
            return None
        variation = int(match.group(1))
        return variation if 0 <= variation < num_variations else None
    return None


def in_namespace(hash_id: str, namespace: Sequence[Any]) -> bool:
    """Whether the user falls in the ``[id, start, end)`` slice of a namespace."""
    n = hash_value("__" + str(namespace[0]), hash_id, 1)
    return n is not None and namespace[1] <= n < namespace[2]


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: ``[]`` and ``{}`` are true; ``0``, ``""``, ``null``, NaN false."""
    if value is None or value is False:
        return False
    if isinstance(value, (list, dict)):
        return True
    if isinstance(value, float) and value != value:
        return False
    return bool(value)


def _js_number_string(number: float) -> str:
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = int(exponent) + k
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        exp = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"
    return sign + body


def js_string(value: Any) -> str:
    """``String(value)`` as JavaScript writes it: ``123`` not ``123.0``, ``true``, ``null``."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return _js_number_string(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def hash_attribute_value(attributes: Mapping[str, Any], attribute: str) -> tuple[Any, str]:
    """The raw attribute value and the string that is hashed (empty when the value is falsy)."""
    raw = attributes.get(attribute)
    if type(raw) is str:
        return raw, raw
    if not js_truthy(raw):
        return raw, ""
    return raw, js_string(raw)


def compile_filters(filters: Sequence[Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], bool]:
    """Compile experiment ``filters`` into a function telling whether a user is filtered out.

    A user is filtered out when any filter has an empty hash value, an unknown hash version, or a
    hash outside all of its ranges.
    """
    compiled = [
        (
            str(f.get("attribute") or "id"),
            hasher(str(f.get("seed", "")), f.get("hashVersion") or 2),
            [tuple(r) for r in f.get("ranges", [])],
        )
        for f in filters
    ]

    def filtered_out(attributes: Mapping[str, Any]) -> bool:
        for attribute, hash_fn, ranges in compiled:
            _, value = hash_attribute_value(attributes, attribute)
            if not value:
                return True
            n = hash_fn(value)
            if n is None or not any(start <= n < end for start, end in ranges):
                return True
        return False

    return filtered_out


def is_filtered_out(filters: Sequence[Mapping[str, Any]], attributes: Mapping[str, Any]) -> bool:
    """One-off form of :func:`compile_filters`."""
    return compile_filters(filters)(attributes)
