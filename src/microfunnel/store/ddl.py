"""Table definitions per engine, generated from the shared column layout in ``base``."""

from __future__ import annotations

from microfunnel.store.base import EVENT_COLUMNS, IDENTITY_COLUMNS, QUARANTINE_COLUMNS

__all__ = ["clickhouse_ddl", "duckdb_ddl"]

_DUCKDB = {
    "string": "VARCHAR",
    "json": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "int": "INTEGER",
}
_CLICKHOUSE = {
    "string": "String",
    "json": "String",
    "timestamp": "DateTime64(6, 'UTC')",
    "float": "Float64",
    "bool": "Bool",
    "int": "Int32",
}
# Low-cardinality text columns are dictionary-encoded in ClickHouse.
_LOW_CARDINALITY = {
    "event",
    "device",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "currency",
    "source",
}


def _duck_columns(columns: dict[str, str]) -> str:
    return ",\n  ".join(
        f"{name} {_DUCKDB[kind.rstrip('?')]}{'' if kind.endswith('?') else ' NOT NULL'}"
        for name, kind in columns.items()
    )


def duckdb_ddl() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS events (\n  {_duck_columns(EVENT_COLUMNS)}\n)",
        f"CREATE TABLE IF NOT EXISTS quarantine (\n  {_duck_columns(QUARANTINE_COLUMNS)}\n)",
        f"CREATE TABLE IF NOT EXISTS identities (\n  {_duck_columns(IDENTITY_COLUMNS)}\n)",
    ]


def _ch_columns(columns: dict[str, str]) -> str:
    parts = []
    for name, kind in columns.items():
        base = _CLICKHOUSE[kind.rstrip("?")]
        if name in _LOW_CARDINALITY and base == "String":
            base = f"LowCardinality({base})"
        if kind.endswith("?"):
            base = (
                f"Nullable({base})"
                if not base.startswith("LowCardinality")
                else (f"LowCardinality(Nullable({_CLICKHOUSE[kind.rstrip('?')]}))")
            )
        parts.append(f"{name} {base}")
    return ",\n  ".join(parts)


def clickhouse_ddl() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS events (\n  {_ch_columns(EVENT_COLUMNS)},\n"
        "  INDEX received_idx received_at TYPE minmax GRANULARITY 4,\n"
        "  INDEX event_id_idx event_id TYPE bloom_filter GRANULARITY 4\n"
        ") ENGINE = MergeTree ORDER BY (coalesce(anonymous_id, user_id, event_id), timestamp)",
        f"CREATE TABLE IF NOT EXISTS quarantine (\n  {_ch_columns(QUARANTINE_COLUMNS)}\n"
        ") ENGINE = MergeTree ORDER BY (received_at, event_id)",
        f"CREATE TABLE IF NOT EXISTS identities (\n  {_ch_columns(IDENTITY_COLUMNS)}\n"
        ") ENGINE = MergeTree ORDER BY anonymous_id",
    ]
