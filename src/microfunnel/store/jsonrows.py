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

# Each document is parsed once more, picking the lifted keys as text: DuckDB writes strings as
# they are, numbers as Python's repr would, booleans as true/false and lists or objects as JSON,
# which are ``_text``'s rules. ``is_bot`` stays JSON, to tell ``true`` from ``"true"``.
_CONTEXT_PICK = "{" + ", ".join(f'"{k}": "VARCHAR"' for k in _CONTEXT_KEYS) + ', "is_bot": "JSON"}'
_PROPERTY_PICK = "{" + ", ".join(f'"{k}": "VARCHAR"' for k in _PROPERTY_KEYS) + "}"


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
    **{key: f"nullif(c.{key}, '')" for key in _CONTEXT_KEYS[:5]},
    # ``_number``: JSON numbers, and strings that are plain decimal numbers
    "value": f"CASE WHEN regexp_full_match(p.value, '{NUMERIC_TEXT}') "
    "THEN CAST(p.value AS DOUBLE) END",
    "currency": "nullif(p.currency, '')",
    "transaction_id": "nullif(p.transaction_id, '')",
    "source": "nullif(c.source, '')",
    "is_bot": "coalesce(CAST(c.is_bot AS VARCHAR) = 'true', false)",
    "plan_version": "e.plan_version",
}

# ``_json`` is a table with one string column ``j``: one JSON array of events per row.
ROWS_SQL = (
    "SELECT "
    + ", ".join(f"{expr} AS {name}" for name, expr in _COLUMNS.items())
    + " FROM (SELECT e, props, ctx, "
    + f"json_transform(ctx, '{_CONTEXT_PICK}') AS c, "
    + f"json_transform(props, '{_PROPERTY_PICK}') AS p FROM ("
    + "SELECT e, coalesce(e.properties, '{}') AS props, coalesce(e.context, '{}') AS ctx FROM ("
    + f"SELECT unnest(from_json(j, '{_STRUCT}')) AS e FROM _json)))"
)
