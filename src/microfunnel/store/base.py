"""What every engine must do, and the table layout they share.

Tables (one set per project):

``events``      one row per accepted event, deduplicated on ``event_id``. Hot fields are lifted out
                of ``properties``/``context`` into columns so analyses never parse JSON to filter
                by device or sum revenue. ``person_id`` is the resolved person (after identity
                merges), kept up to date by the writer. Times are UTC, microsecond precision.
``quarantine``  events that failed validation: every reason, the raw payload, the plan version.
``identities``  anonymous_id -> user_id merges (identify, alias, ``$identify``).

Analyses read through :meth:`Store.query`, with SQL built in ``microfunnel.query`` for the
store's ``dialect``; writes go through the single writer (``microfunnel.store.writer``).
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import msgspec
import pyarrow as pa

from microfunnel.events.model import Event, as_utc

__all__ = [
    "EVENT_COLUMNS",
    "EventCodes",
    "InsertResult",
    "QuarantineRecord",
    "Store",
    "events_to_arrow",
]

# name -> logical type; each engine maps logical types to its own.
EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "event": "string",
    "anonymous_id": "string?",
    "user_id": "string?",
    "person_id": "string",
    "session_id": "string?",
    "timestamp": "timestamp",
    "sent_at": "timestamp?",
    "received_at": "timestamp",
    "properties": "json",
    "context": "json",
    "device": "string?",
    "page_path": "string?",
    "utm_source": "string?",
    "utm_medium": "string?",
    "utm_campaign": "string?",
    "value": "float?",
    "currency": "string?",
    "transaction_id": "string?",
    "source": "string?",
    "is_bot": "bool",
    "plan_version": "int?",
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "event": "string?",
    "anonymous_id": "string?",
    "user_id": "string?",
    "received_at": "timestamp",
    "reasons": "json",
    "raw": "json",
    "plan_version": "int?",
    "replayed_at": "timestamp?",
}

IDENTITY_COLUMNS: dict[str, str] = {
    "anonymous_id": "string",
    "user_id": "string",
    "created_at": "timestamp",
}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us"),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "int": pa.int32(),
}


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, _ARROW_TYPES[kind.rstrip("?")], nullable=kind.endswith("?"))
            for name, kind in columns.items()
        ]
    )


@dataclass(frozen=True)
class InsertResult:
    inserted: int
    duplicates: int


@dataclass
class QuarantineRecord:
    """An event that failed validation, kept whole with the reasons why."""

    event_id: str
    event: str | None
    received_at: datetime
    reasons: list[str]
    raw: dict[str, Any]
    plan_version: int | None
    anonymous_id: str | None = None
    user_id: str | None = None
    replayed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value).replace(tzinfo=None)


def _text(value: Any) -> str | None:
    """A lifted text column: strings as sent (empty is missing), numbers and booleans as JSON
    writes them, floats as ``repr``, lists and objects as JSON; the same rules as the SQL in
    ``microfunnel.store.jsonrows``."""
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _json_encoder.encode(value).decode()


# A number written as text: ``value: "19.99"``. Stricter than ``float()`` (no spaces, no
# ``inf``/``nan``, no ``1_000``) so that SQL (``regexp_full_match``) draws the same line.
NUMERIC_TEXT = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_numeric_text = re.compile(NUMERIC_TEXT)


def _number(value: Any) -> float | None:
    """The lifted ``value`` column: JSON numbers, and strings that are plain decimal numbers."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _numeric_text.fullmatch(value):
        return float(value)
    return None


def event_row(e: Event) -> dict[str, Any]:
    """The row an event becomes (the lifted columns included)."""
    ctx, props = e.context, e.properties
    return {
        "event_id": e.event_id,
        "event": e.event,
        "anonymous_id": e.anonymous_id,
        "user_id": e.user_id,
        "person_id": e.user_id or e.anonymous_id or e.event_id,
        "session_id": e.session_id,
        "timestamp": _naive_utc(e.timestamp),
        "sent_at": _naive_utc(e.sent_at),
        "received_at": _naive_utc(e.received_at),
        "properties": json.dumps(props, separators=(",", ":"), default=str),
        "context": json.dumps(ctx, separators=(",", ":"), default=str),
        "device": _text(ctx.get("device")),
        "page_path": _text(ctx.get("page_path")),
        "utm_source": _text(ctx.get("utm_source")),
        "utm_medium": _text(ctx.get("utm_medium")),
        "utm_campaign": _text(ctx.get("utm_campaign")),
        "value": _number(props.get("value")),
        "currency": _text(props.get("currency")),
        "transaction_id": _text(props.get("transaction_id")),
        "source": _text(ctx.get("source")),
        "is_bot": ctx.get("is_bot") is True,
        "plan_version": e.plan_version,
    }


def events_to_arrow(events: Iterable[Event]) -> pa.Table:
    """Events as an Arrow table in the ``events`` layout, built column by column.

    Equal to ``pa.Table.from_pylist([event_row(e) for e in events])``, without the row dicts: the
    writer runs this on every batch, so each column is one comprehension and the JSON columns are
    encoded by msgspec (unknown types as ``str``, like ``json.dumps(default=str)``).
    """
    evs = events if isinstance(events, list) else list(events)
    ctxs = [e.context for e in evs]
    props = [e.properties for e in evs]
    encode = _json_encoder.encode
    columns: dict[str, Any] = {
        "event_id": [e.event_id for e in evs],
        "event": [e.event for e in evs],
        "anonymous_id": [e.anonymous_id for e in evs],
        "user_id": [e.user_id for e in evs],
        "person_id": [e.user_id or e.anonymous_id or e.event_id for e in evs],
        "session_id": [e.session_id for e in evs],
        "timestamp": _utc_times([e.timestamp for e in evs]),
        "sent_at": _utc_times([e.sent_at for e in evs]),
        "received_at": _utc_times([e.received_at for e in evs]),
        "properties": [encode(p) for p in props],
        "context": [encode(c) for c in ctxs],
    }
    for name in ("device", "page_path", "utm_source", "utm_medium", "utm_campaign"):
        columns[name] = _texts([c.get(name) for c in ctxs])
    columns["value"] = [_number(p.get("value")) for p in props]
    columns["currency"] = _texts([p.get("currency") for p in props])
    columns["transaction_id"] = _texts([p.get("transaction_id") for p in props])
    columns["source"] = _texts([c.get("source") for c in ctxs])
    columns["is_bot"] = [c.get("is_bot") is True for c in ctxs]
    columns["plan_version"] = [e.plan_version for e in evs]
    schema = _EVENT_SCHEMA
    arrays = [
        col if isinstance(col, pa.Array) else pa.array(col, type=schema.field(name).type)
        for name, col in columns.items()
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


_json_encoder = msgspec.json.Encoder(enc_hook=str)
_events_decoder = msgspec.json.Decoder(list[Event])
_EVENT_SCHEMA = arrow_schema(EVENT_COLUMNS)
_UTC_MICROS = pa.timestamp("us", tz="UTC")


def _utc_times(values: list[datetime | None]) -> pa.Array:
    """Aware times converted to UTC, naive ones taken as UTC (as ``_naive_utc``), in C."""
    return pa.array(values, type=_UTC_MICROS).cast(_ARROW_TYPES["timestamp"])


def _texts(values: list[Any]) -> list[str | None]:
    """``_text`` over a column; plain non-empty strings, nearly all of them, pass untouched."""
    return [v if type(v) is str and v else _text(v) for v in values]


def quarantine_to_arrow(records: Iterable[QuarantineRecord]) -> pa.Table:
    rows = [
        {
            "event_id": r.event_id,
            "event": r.event,
            "anonymous_id": r.anonymous_id,
            "user_id": r.user_id,
            "received_at": _naive_utc(r.received_at),
            "reasons": json.dumps(r.reasons),
            "raw": json.dumps(r.raw, default=str),
            "plan_version": r.plan_version,
            "replayed_at": _naive_utc(r.replayed_at),
        }
        for r in records
    ]
    return pa.Table.from_pylist(rows, schema=arrow_schema(QUARANTINE_COLUMNS))


class Store(abc.ABC):
    """An event store. Engines subclass this; analyses only use :meth:`query`.

    Writes (``insert_*``, ``merge_identity``, ``forget``, ``mark_replayed``) must come from one
    writer at a time; reads may come from any thread.
    """

    engine: ClassVar[str]

    @property
    @abc.abstractmethod
    def dialect(self) -> Any:
        """The SQL dialect (``microfunnel.query.dialect.Dialect``) analyses build queries in."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a read-only query with positional ``?`` parameters and return an Arrow table."""

    @abc.abstractmethod
    def insert_events(self, events: Sequence[Event]) -> InsertResult:
        """Append events, skipping event_ids already stored or repeated in the batch."""

    def insert_json(self, arrays: Sequence[bytes]) -> InsertResult:
        """Append events given as JSON arrays of Events (the spool's form); as ``insert_events``.

        Engines that parse JSON themselves override this to skip Python objects per event.
        """
        events = [e for array in arrays for e in _events_decoder.decode(array)]
        return self.insert_events(events)

    @abc.abstractmethod
    def insert_arrow(self, table: pa.Table) -> InsertResult:
        """Append an Arrow table in the ``events`` layout (bulk import); deduplicated."""

    @abc.abstractmethod
    def insert_quarantine(self, records: Sequence[QuarantineRecord]) -> int:
        """Keep failed events with their reasons; deduplicated on event_id."""

    @abc.abstractmethod
    def merge_identity(self, anonymous_id: str, user_id: str) -> int:
        """Record that an anonymous id belongs to a user; re-point that id's past events."""

    def merge_identities(self, pairs: Sequence[tuple[str, str]]) -> int:
        """:meth:`merge_identity` for each pair, in order (engines may do it in one pass)."""
        return sum(self.merge_identity(anonymous_id, user_id) for anonymous_id, user_id in pairs)

    @abc.abstractmethod
    def forget(self, user_id: str) -> int:
        """Erase a person: events and quarantine rows with this user id or its anonymous ids."""

    @abc.abstractmethod
    def mark_replayed(self, event_ids: Sequence[str]) -> None:
        """Flag quarantine rows as replayed into ``events`` (so replay runs exactly once)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    # ---- conveniences built on query() -------------------------------------------------

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        table = self.query(sql, params)
        return table.column(0)[0].as_py() if table.num_rows else None

    def count_events(self, event: str | None = None) -> int:
        if event is None:
            return int(self.scalar("SELECT count(*) FROM events") or 0)
        return int(self.scalar("SELECT count(*) FROM events WHERE event = ?", [event]) or 0)

    def event_names(self) -> list[str]:
        table = self.query("SELECT DISTINCT event FROM events ORDER BY event")
        return [str(v) for v in table.column(0).to_pylist()]

    def tail(self, limit: int = 20) -> list[dict[str, Any]]:
        table = self.query(
            "SELECT event_id, event, person_id, timestamp, device, page_path, value "
            "FROM events ORDER BY received_at DESC, timestamp DESC LIMIT ?",
            [int(limit)],
        )
        return table.to_pylist()

    def quarantine_rows(
        self, limit: int = 100, *, pending_only: bool = True, newest_first: bool = False
    ) -> list[dict[str, Any]]:
        """Quarantined rows in order of receipt: the oldest first (replay's order), or the
        newest first (what a person looking at a list wants to see after a tracking change)."""
        where = "WHERE replayed_at IS NULL" if pending_only else ""
        order = "DESC" if newest_first else "ASC"
        table = self.query(
            f"SELECT event_id, event, received_at, reasons, raw, plan_version, replayed_at "
            f"FROM quarantine {where} ORDER BY received_at {order}, event_id LIMIT ?",
            [int(limit)],
        )
        rows = table.to_pylist()
        for row in rows:
            row["reasons"] = json.loads(row["reasons"])
            row["raw"] = json.loads(row["raw"])
        return rows

    def count_quarantined(self, *, pending_only: bool = True) -> int:
        """Quarantined events: those not replayed yet, or all."""
        where = " WHERE replayed_at IS NULL" if pending_only else ""
        return int(self.scalar(f"SELECT count(*) FROM quarantine{where}") or 0)

    def quarantine_problems(self, limit: int = 20) -> list[dict[str, Any]]:
        """Pending quarantined events grouped by problem (the same event name and reasons),
        the largest first: ``event``, ``reasons``, ``events``, ``first_received``,
        ``last_received`` and the ``plan_version`` last checked against. One tracking mistake
        quarantines thousands of events alike; a person fixing the plan wants each mistake
        once, with how often and since when it happens."""
        table = self.query(
            "SELECT event, reasons, CAST(count(*) AS BIGINT) AS events, "
            "min(received_at) AS first_received, max(received_at) AS last_received, "
            "max(plan_version) AS plan_version FROM quarantine WHERE replayed_at IS NULL "
            "GROUP BY event, reasons ORDER BY events DESC, last_received DESC, reasons LIMIT ?",
            [int(limit)],
        )
        rows = table.to_pylist()
        for row in rows:
            row["reasons"] = json.loads(row["reasons"])
        return rows

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventCodes(abc.ABC):
    """A store that keeps integer codes beside event names and person ids (the DuckDB store:
    ``event_code`` and ``person_key`` columns, see ``microfunnel.store.ddl``). Analyses that scan
    many rows compare and group those integers instead of text."""

    @abc.abstractmethod
    def event_codes(self, names: Iterable[str]) -> dict[str, int]:
        """The codes of those ``names`` that have one (a name with no code has no events)."""
