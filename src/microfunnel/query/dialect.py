"""SQL dialects: only what differs between engines lives here.

Analyses build one query with the ``microfunnel.query`` builders and ask the dialect for the few
pieces that differ: quoting, JSON access, epoch conversion, ordered list aggregation, the fold
over a list (DuckDB ``list_reduce``, ClickHouse ``arrayFold``), records, exact quantiles and the
funnel fast path (ClickHouse ``windowFunnel``).

>>> DUCKDB.quote('device'), CLICKHOUSE.quote('device')
('"device"', '`device`')
>>> DUCKDB.bit_set("m", 2)
'((m & 4) <> 0)'
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

__all__ = ["CLICKHOUSE", "DUCKDB", "ClickHouseDialect", "Dialect", "DuckDBDialect"]


class Dialect(abc.ABC):
    """SQL shared by every engine; subclasses override only what their engine says differently."""

    name: str = "ansi"
    #: ClickHouse ``windowFunnel`` or an equivalent native funnel aggregate.
    has_native_funnel: bool = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    # ---- names and text ------------------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    @abc.abstractmethod
    def json_text(self, column: str, key: str) -> str:
        """A top-level JSON property as text (NULL when missing)."""

    # ---- scalars ---------------------------------------------------------------------------

    @abc.abstractmethod
    def epoch_us(self, column: str) -> str:
        """A timestamp as integer microseconds since the Unix epoch."""

    def bit_set(self, expr: str, bit: int) -> str:
        return f"(({expr} & {1 << bit}) <> 0)"

    def bit_or(self, parts: Sequence[str]) -> str:
        return "(" + " | ".join(parts) + ")" if parts else "0"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def to_float(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def cast_int(self, expr: str) -> str:
        return f"CAST({expr} AS BIGINT)"

    def null_int(self) -> str:
        return "CAST(NULL AS BIGINT)"

    def null_text(self) -> str:
        return "CAST(NULL AS VARCHAR)"

    def arg_min(self, value: str, key: str) -> str:
        return f"arg_min({value}, {key})"

    def last_non_null(self, expr: str) -> str:
        """A window aggregate: the last non-NULL value of ``expr`` in the frame."""
        return f"last_value({expr} IGNORE NULLS)"

    #: keyword that makes a CTE computed once (empty where CTEs are always inlined)
    materialized: str = ""

    # ---- lists, records and folds -----------------------------------------------------------

    @abc.abstractmethod
    def ordered_list(self, fields: dict[str, str], n_keys: int) -> str:
        """Aggregate records of ``fields`` into a list sorted by the first ``n_keys`` fields."""

    @abc.abstractmethod
    def record(self, fields: dict[str, str]) -> str:
        """A record (struct / tuple) of named fields, in order."""

    @abc.abstractmethod
    def field(self, var: str, names: Sequence[str], name: str) -> str:
        """Field ``name`` of a record ``var`` built by :meth:`record` with ``names``."""

    @abc.abstractmethod
    def fold(self, items: str, acc: str, item: str, body: str, init: str) -> str:
        """Left fold of ``body`` (in ``acc``, ``item``) over the list ``items`` from ``init``."""

    @abc.abstractmethod
    def quantiles(self, expr: str, levels: Sequence[float]) -> str:
        """Exact quantiles with linear interpolation (R type 7) as a list."""

    def window_funnel(self, window_us: int, timestamp: str, conditions: Sequence[str]) -> str:
        """ClickHouse's ``windowFunnel``; only where ``has_native_funnel`` is true."""
        raise TypeError(f"{self.name} has no native funnel aggregate: check has_native_funnel")


class DuckDBDialect(Dialect):
    name = "duckdb"
    materialized = "MATERIALIZED "

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract_string({column}, {self.literal('$.' + key)})"

    def epoch_us(self, column: str) -> str:
        return f"epoch_us({column})"

    def ordered_list(self, fields: dict[str, str], n_keys: int) -> str:
        keys = ", ".join(list(fields.values())[:n_keys])
        return f"list({self.record(fields)} ORDER BY {keys})"

    def record(self, fields: dict[str, str]) -> str:
        return "struct_pack(" + ", ".join(f"{k} := {v}" for k, v in fields.items()) + ")"

    def field(self, var: str, names: Sequence[str], name: str) -> str:
        return f"{var}.{name}"

    def fold(self, items: str, acc: str, item: str, body: str, init: str) -> str:
        return f"list_reduce({items}, lambda {acc}, {item}: {body}, {init})"

    def quantiles(self, expr: str, levels: Sequence[float]) -> str:
        return f"quantile_cont({expr}, [{', '.join(repr(q) for q in levels)}])"


class ClickHouseDialect(Dialect):
    name = "clickhouse"
    has_native_funnel = True

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def literal(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def json_text(self, column: str, key: str) -> str:
        # Strings unquoted, numbers and booleans as written; NULL when missing.
        return (
            f"if(JSONHas({column}, {self.literal(key)}), "
            f"if(JSONType({column}, {self.literal(key)}) = 'String', "
            f"JSONExtractString({column}, {self.literal(key)}), "
            f"JSONExtractRaw({column}, {self.literal(key)})), NULL)"
        )

    def epoch_us(self, column: str) -> str:
        return f"toUnixTimestamp64Micro({column})"

    def bit_set(self, expr: str, bit: int) -> str:
        return f"(bitAnd({expr}, {1 << bit}) != 0)"

    def bit_or(self, parts: Sequence[str]) -> str:
        if not parts:
            return "0"
        out = parts[0]
        for part in parts[1:]:
            out = f"bitOr({out}, {part})"
        return out

    def to_text(self, expr: str) -> str:
        return f"toString({expr})"

    def to_float(self, expr: str) -> str:
        return f"toFloat64OrNull(toString({expr}))"

    def cast_int(self, expr: str) -> str:
        return f"toInt64({expr})"

    def null_int(self) -> str:
        return "CAST(NULL AS Nullable(Int64))"

    def null_text(self) -> str:
        return "CAST(NULL AS Nullable(String))"

    def arg_min(self, value: str, key: str) -> str:
        return f"argMin({value}, {key})"

    def last_non_null(self, expr: str) -> str:
        return f"anyLast({expr})"

    def ordered_list(self, fields: dict[str, str], n_keys: int) -> str:
        keys = ", ".join(f"r.{i + 1}" for i in range(n_keys))
        return f"arraySort(r -> ({keys}), groupArray({self.record(fields)}))"

    def record(self, fields: dict[str, str]) -> str:
        return "tuple(" + ", ".join(fields.values()) + ")"

    def field(self, var: str, names: Sequence[str], name: str) -> str:
        return f"tupleElement({var}, {list(names).index(name) + 1})"

    def fold(self, items: str, acc: str, item: str, body: str, init: str) -> str:
        return f"arrayFold(({acc}, {item}) -> {body}, {items}, {init})"

    def quantiles(self, expr: str, levels: Sequence[float]) -> str:
        return f"quantilesExactInclusive({', '.join(repr(q) for q in levels)})({expr})"

    def window_funnel(self, window_us: int, timestamp: str, conditions: Sequence[str]) -> str:
        return f"windowFunnel({int(window_us)})(toUInt64({timestamp}), {', '.join(conditions)})"


DUCKDB = DuckDBDialect()
CLICKHOUSE = ClickHouseDialect()
