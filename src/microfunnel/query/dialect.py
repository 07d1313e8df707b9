"""SQL dialects: only what differs between engines lives here.

Analyses build one query with ``microfunnel.query`` builders and ask the dialect for the few
pieces that differ (function names, quoting, JSON access, the funnel fast path).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLICKHOUSE", "DUCKDB", "Dialect"]


@dataclass(frozen=True)
class Dialect:
    name: str

    def json_text(self, column: str, key: str) -> str:
        """A top-level JSON property as text (NULL when missing)."""
        if self.name == "clickhouse":
            return f"nullIf(JSONExtractRaw({column}, {self.literal(key)}), '')"
        return f"json_extract_string({column}, {self.literal('$.' + key)})"

    def literal(self, value: str) -> str:
        return (
            "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            if (self.name == "clickhouse")
            else "'" + value.replace("'", "''") + "'"
        )

    def quote(self, identifier: str) -> str:
        q = "`" if self.name == "clickhouse" else '"'
        return q + identifier.replace(q, q + q) + q


DUCKDB = Dialect("duckdb")
CLICKHOUSE = Dialect("clickhouse")
