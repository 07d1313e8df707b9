"""Events as the spool carries them (JSON arrays of Events) turned into ``events`` rows by
DuckDB itself: ``from_json`` parses and the lifted columns are SQL expressions, so no Python
object is made per event (about 1 µs per event in DuckDB against 5-15 µs for
:func:`~microfunnel.store.base.events_to_arrow`).

The rules for the lifted columns are those of ``events_to_arrow`` (``_text``, ``_number``); a
test compares the two on generated events. JSON objects keep their content, re-written by
DuckDB (``1e16`` may come back as ``10000000000000000.0``: the same number).
"""

from __future__ import annotations

from microfunnel.store.base import NUMERIC_TEXT

__all__ = ["ROWS_SQL"]

_STRUCT = (
    '[{"event_id": "VARCHAR", "event": "VARCHAR", "anonymous_id": "VARCHAR", '
    '"user_id": "VARCHAR", "session_id": "VARCHAR", "timestamp": "TIMESTAMPTZ", '
    '"sent_at": "TIMESTAMPTZ", "received_at": "TIMESTAMPTZ", "properties": "JSON", '
    '"context": "JSON", "plan_version": "INTEGER"}]'
)


_CONTEXT_KEYS = ("device", "page_path", "utm_source", "utm_medium", "utm_campaign", "source")
_PROPERTY_KEYS = ("value", "currency", "transaction_id")


def _text(x: str) -> str:
    """``_text`` in SQL, of ``x``: one JSON value (NULL when the key is missing)."""
    return (
        f"CASE json_type({x}) WHEN 'VARCHAR' THEN nullif({x} ->> '$', '') "
        f"WHEN 'NULL' THEN NULL WHEN 'DOUBLE' THEN CAST(CAST({x} AS DOUBLE) AS VARCHAR) "
        f"ELSE CAST({x} AS VARCHAR) END"
    )


def _number(x: str) -> str:
    """``_number`` in SQL, of ``x``: one JSON value."""
    return (
        f"CASE json_type({x}) WHEN 'DOUBLE' THEN CAST({x} AS DOUBLE) "
        f"WHEN 'BIGINT' THEN CAST({x} AS DOUBLE) WHEN 'UBIGINT' THEN CAST({x} AS DOUBLE) "
        f"WHEN 'VARCHAR' THEN CASE WHEN regexp_full_match({x} ->> '$', '{NUMERIC_TEXT}') "
        f"THEN CAST({x} ->> '$' AS DOUBLE) END END"
    )


def _fields(keys: tuple[str, ...]) -> str:
    """A json_transform structure picking ``keys`` as JSON values (each document is parsed
    once here, instead of once per lifted column)."""
    return "{" + ", ".join(f'"{k}": "JSON"' for k in keys) + "}"


def _utc(column: str) -> str:
    return f"timezone('UTC', e.{column})"


_COLUMNS = {
    "event_id": "coalesce(e.event_id, '')",  # msgspec leaves out an empty (default) id
    "event": "e.event",
    "anonymous_id": "e.anonymous_id",
    "user_id": "e.user_id",
    "person_id": "coalesce(nullif(e.user_id, ''), nullif(e.anonymous_id, ''), e.event_id, '')",
    "session_id": "e.session_id",
    "timestamp": _utc("timestamp"),
    "sent_at": _utc("sent_at"),
    "received_at": _utc("received_at"),
    "properties": "CAST(props AS VARCHAR)",
    "context": "CAST(ctx AS VARCHAR)",
    **{key: _text(f"c.{key}") for key in _CONTEXT_KEYS[:5]},
    "value": _number("p.value"),
    "currency": _text("p.currency"),
    "transaction_id": _text("p.transaction_id"),
    "source": _text("c.source"),
    "is_bot": "coalesce(json_type(c.is_bot) = 'BOOLEAN' AND CAST(c.is_bot AS VARCHAR) = 'true', "
    "false)",
    "plan_version": "e.plan_version",
}

# ``_json`` is a table with one string column ``j``: one JSON array of events per row.
ROWS_SQL = (
    "SELECT "
    + ", ".join(f"{expr} AS {name}" for name, expr in _COLUMNS.items())
    + " FROM (SELECT e, props, ctx, "
    + f"json_transform(ctx, '{_fields((*_CONTEXT_KEYS, 'is_bot'))}') AS c, "
    + f"json_transform(props, '{_fields(_PROPERTY_KEYS)}') AS p FROM ("
    + "SELECT e, coalesce(e.properties, '{}') AS props, coalesce(e.context, '{}') AS ctx FROM ("
    + f"SELECT unnest(from_json(j, '{_STRUCT}')) AS e FROM _json)))"
)
