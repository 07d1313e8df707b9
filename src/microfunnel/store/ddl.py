"""Table definitions per engine, generated from the shared column layout in ``base``.

DuckDB ``events`` also carry :data:`DERIVED_COLUMNS`, integer codes the store fills in SQL as
rows arrive (never the wire path), from two dictionaries it keeps beside ``events``:

``event_names``  ``code -> name``: every event name seen, numbered 1, 2, ... in order of arrival.
``persons``      ``person_key -> person_id``: every resolved person, numbered the same way;
                 identity merges move an event's ``person_key`` together with its ``person_id``.

Names join a dictionary with the batch that brings them, in the insert's transaction (a batch's
rejected duplicates may add a name or person no stored event uses, which changes no answer);
``forget`` drops the forgotten person's entries and names no event uses any more.

Analyses that scan many rows (the funnel) filter on ``event_code`` and group by ``person_key``
instead of comparing text. ClickHouse needs neither: its ``event`` is ``LowCardinality`` and its
funnel runs on ``windowFunnel``. A store that keeps the codes says so by being an
``EventCodes`` (``microfunnel.store.base``); queries read the integer columns only then.
"""

from __future__ import annotations

from microfunnel.store.base import EVENT_COLUMNS, IDENTITY_COLUMNS, QUARANTINE_COLUMNS

__all__ = ["DERIVED_COLUMNS", "clickhouse_ddl", "duckdb_ddl", "duckdb_migrations"]

# name -> logical type, filled by the DuckDB store in SQL (see the module docstring).
DERIVED_COLUMNS: dict[str, str] = {
    "event_code": "int",
    "person_key": "bigint",
}
EVENT_NAME_COLUMNS: dict[str, str] = {"code": "int", "name": "string"}
PERSON_COLUMNS: dict[str, str] = {"person_key": "bigint", "person_id": "string"}

_DUCKDB = {
    "string": "VARCHAR",
    "json": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "int": "INTEGER",
    "bigint": "BIGINT",
}
_CLICKHOUSE = {
    "string": "String",
    "json": "String",
    "timestamp": "DateTime64(6, 'UTC')",
    "float": "Float64",
    "bool": "Bool",
    "int": "Int32",
    "bigint": "Int64",
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
    events = EVENT_COLUMNS | DERIVED_COLUMNS
    return [
        f"CREATE TABLE IF NOT EXISTS events (\n  {_duck_columns(events)}\n)",
        f"CREATE TABLE IF NOT EXISTS quarantine (\n  {_duck_columns(QUARANTINE_COLUMNS)}\n)",
        f"CREATE TABLE IF NOT EXISTS identities (\n  {_duck_columns(IDENTITY_COLUMNS)}\n)",
        f"CREATE TABLE IF NOT EXISTS event_names (\n  {_duck_columns(EVENT_NAME_COLUMNS)}\n)",
        f"CREATE TABLE IF NOT EXISTS persons (\n  {_duck_columns(PERSON_COLUMNS)}\n)",
    ]


def duckdb_migrations() -> list[str]:
    """Bring an ``events`` table made before :data:`DERIVED_COLUMNS` up to date (idempotent):
    add the columns, fill the dictionaries from the stored rows, then the codes. Run in one
    transaction after :func:`duckdb_ddl` (which leaves added columns nullable: DuckDB cannot
    add a constraint in the transaction that filled them; the store fills every row)."""
    adds = [
        f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {name} {_DUCKDB[kind]}"
        for name, kind in DERIVED_COLUMNS.items()
    ]
    return [
        *adds,
        dictionary_insert_sql("event_names", "code", "name", "SELECT event FROM events"),
        dictionary_insert_sql("persons", "person_key", "person_id", "SELECT person_id FROM events"),
        "UPDATE events SET event_code = n.code FROM event_names n "
        "WHERE n.name = events.event AND events.event_code IS NULL",
        "UPDATE events SET person_key = p.person_key FROM persons p "
        "WHERE p.person_id = events.person_id AND events.person_key IS NULL",
    ]


def dictionary_insert_sql(table: str, code: str, name: str, names: str) -> str:
    """Add the values of ``names`` (a one-column query) missing from a dictionary ``table``,
    numbered on from its largest ``code`` in order of first appearance."""
    return (
        f"INSERT INTO {table} ({code}, {name}) "
        f"SELECT (SELECT coalesce(max({code}), 0) FROM {table}) "
        "+ row_number() OVER (ORDER BY f), v "
        f"FROM (SELECT v, min(f) AS f FROM (SELECT v, row_number() OVER () AS f "
        f"FROM ({names}) AS s(v)) WHERE v IS NOT NULL AND v NOT IN (SELECT {name} FROM {table}) "
        "GROUP BY v)"
    )


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
