"""Event conditions as SQL: an event name plus property filters, values always parameters.

A property is a lifted column of ``events`` (``device``, ``utm_source``, ``value``, ...), a key of
``properties`` (``cart_id``, ``item_id``) or, prefixed ``context.``, a key of ``context``. Names
are checked against a safe pattern before they reach SQL text.

>>> from microfunnel.query.dialect import DUCKDB
>>> params = Params()
>>> Match("add_to_cart", (Filter("device", "eq", "mobile"),)).sql(DUCKDB, params)
'(event = ? AND device = ?)'
>>> params.values
['add_to_cart', 'mobile']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from microfunnel.errors import QueryError
from microfunnel.query.dialect import Dialect

__all__ = [
    "LIFTED",
    "Filter",
    "Fragment",
    "Match",
    "Op",
    "Params",
    "check_name",
    "property_sql",
    "time_range_sql",
]

# Lifted columns analyses may filter or break down by, without parsing JSON.
LIFTED = (
    "device",
    "page_path",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "value",
    "currency",
    "transaction_id",
    "source",
    "session_id",
    "anonymous_id",
    "user_id",
)
_NUMERIC_COLUMNS = {"value"}
_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_set"]
_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass
class Params:
    """Positional ``?`` parameters collected while SQL text is built."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return "?"

    def many(self, values: Sequence[Any]) -> str:
        return "(" + ", ".join(self.add(v) for v in values) + ")"

    def place(self, fragment: Fragment) -> str:
        """Text of a fragment built apart, its parameters appended here (once per use)."""
        self.values.extend(fragment.params)
        return fragment.sql


@dataclass(frozen=True)
class Fragment:
    """SQL text with its own parameters, to be placed (maybe more than once) with ``place``."""

    sql: str
    params: tuple[Any, ...] = ()

    @classmethod
    def build(cls, make: Callable[[Params], str]) -> Fragment:
        own = Params()
        text = make(own)
        return cls(text, tuple(own.values))


def check_name(name: str, what: str = "property") -> str:
    if not _SAFE.match(name):
        raise QueryError(
            f"{what} name {name!r} is not allowed: use letters, digits and underscores "
            "(at most 64, not starting with a digit)",
            field=what,
        )
    return name


def property_sql(name: str, dialect: Dialect) -> str:
    """SQL text of a property: a lifted column, ``properties.key`` or ``context.key`` (as text)."""
    if name.startswith("context."):
        return dialect.json_text("context", check_name(name.removeprefix("context.")))
    key = name.removeprefix("properties.")
    if key in LIFTED and not name.startswith("properties."):
        return key
    return dialect.json_text("properties", check_name(key))


def _is_numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Filter:
    """``prop op value``; numbers compare as numbers, everything else as text."""

    prop: str
    op: Op = "eq"
    value: Any = None

    def sql(self, dialect: Dialect, params: Params) -> str:
        col = property_sql(self.prop, dialect)
        numeric_col = self.prop in _NUMERIC_COLUMNS
        if self.op == "is_set":
            return f"({col} IS NOT NULL)"
        if self.op in ("in", "not_in"):
            values = list(self.value) if isinstance(self.value, (list, tuple, set)) else []
            if not values:
                raise QueryError(f"filter {self.prop} {self.op} needs a non-empty list of values")
            if all(_is_numeric(v) for v in values):
                expr = col if numeric_col else dialect.to_float(col)
                vals = params.many([float(v) for v in values])
            else:
                expr = dialect.to_text(col) if numeric_col else col
                vals = params.many([_text(v) for v in values])
            neg = "NOT " if self.op == "not_in" else ""
            return f"({expr} {neg}IN {vals})"
        if self.op == "contains":
            expr = dialect.to_text(col) if numeric_col else col
            return f"(position({params.add(_text(self.value))} IN {expr}) > 0)"
        if self.op in _COMPARE or _is_numeric(self.value):
            if not _is_numeric(self.value):
                raise QueryError(f"filter {self.prop} {self.op} needs a number, got {self.value!r}")
            expr = col if numeric_col else dialect.to_float(col)
            op = _COMPARE.get(self.op, "=" if self.op == "eq" else "<>")
            return f"({expr} {op} {params.add(float(self.value))})"
        op = "=" if self.op == "eq" else "<>"
        return f"({col} {op} {params.add(_text(self.value))})"


@dataclass(frozen=True)
class Match:
    """One event name and the filters its properties must pass."""

    event: str
    filters: tuple[Filter, ...] = ()

    def sql(self, dialect: Dialect, params: Params, codes: Mapping[str, int] | None = None) -> str:
        """``codes``: the store's integer event codes (``event_code``), compared instead of
        names where known (queries that scan many rows)."""
        if codes is not None and self.event in codes:
            parts = [f"event_code = {int(codes[self.event])}"]  # a literal: scans filter on it
        else:
            parts = [f"event = {params.add(self.event)}"]
        parts += [f.sql(dialect, params) for f in self.filters]
        return "(" + " AND ".join(parts) + ")"


def any_sql(
    matches: Sequence[Match],
    dialect: Dialect,
    params: Params,
    codes: Mapping[str, int] | None = None,
) -> str:
    """True when an event passes any of ``matches``."""
    return "(" + " OR ".join(m.sql(dialect, params, codes) for m in matches) + ")"


def time_range_sql(
    start: datetime | None, end: datetime | None, include_bots: bool, params: Params
) -> str:
    """The WHERE clause every analysis shares: [start, end) in UTC, bots excluded by default."""
    parts = ["NOT is_bot"] if not include_bots else ["1 = 1"]
    if start is not None:
        parts.append(f"timestamp >= {params.add(start)}")
    if end is not None:
        parts.append(f"timestamp < {params.add(end)}")
    return " AND ".join(parts)
