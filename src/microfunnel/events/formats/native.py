"""Our own wire format: one event with the Event's field names, or ``{"batch": [...]}``.

The body is a JSON object: either one event (``{"event": "add_to_cart", "anonymous_id": ...}``) or
``{"batch": [event, ...], "sent_at": "...", "write_key": "..."}``. Times are ISO-8601 (RFC 3339 is
the fast path) or epoch milliseconds. ``received_at`` and ``plan_version`` belong to the server
and are ignored when a client sends them.

A batch of well-formed events is decoded by msgspec straight into :class:`Event` in one call; only
when that fails is the batch decoded item by item, so that one bad item is quarantined without
taking the others with it.

>>> from datetime import UTC, datetime
>>> now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
>>> body = b'{"batch": [{"event": "view_item", "anonymous_id": "a1"}]}'
>>> decode(body, content_type="application/json", query={}, received_at=now).events[0].event
'view_item'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from microfunnel.errors import DecodeError
from microfunnel.events.formats.common import (
    Collector,
    DecodedBatch,
    decode_json,
    kind,
    parse_time,
    require_list,
    require_object,
    sniff_decompress,
    time_or_reason,
    validation_message,
)
from microfunnel.events.formats.context import text
from microfunnel.events.model import Event

__all__ = ["decode"]

SOURCE = "native"
_ID_FIELDS = ("event_id", "anonymous_id", "user_id", "session_id")
_SERVER_FIELDS = ("received_at", "plan_version")
_EMPTY_NAME = "`event` is empty: name the event"
_HINTS = {"batch": "a list of events", "sent_at": "an ISO-8601 time"}


class _Batch(msgspec.Struct):
    batch: list[Event]
    sent_at: datetime | None = None
    write_key: str | None = None


def decode(
    body: bytes,
    *,
    content_type: str | None,
    query: Mapping[str, str],
    received_at: datetime,
) -> DecodedBatch:
    """Decode a native request body into Events; see the module docstring for the shape."""
    body = sniff_decompress(body)
    try:
        fast = msgspec.json.decode(body, type=_Batch)
    except (msgspec.DecodeError, UnicodeDecodeError):  # one bad item, or not JSON at all
        return _decode_loose(body, received_at)
    out = Collector(
        SOURCE,
        key=fast.write_key,
        sent_at=fast.sent_at,
        received_at=received_at,
        body=body,
    )
    out.add_events(fast.batch, _EMPTY_NAME)
    out.batch.plain_properties = True  # decoded from JSON by msgspec, as they are
    return out.batch


def _decode_loose(body: bytes, received_at: datetime) -> DecodedBatch:
    """The slow path: decode to plain JSON and convert item by item, quarantining failures."""
    root = require_object(decode_json(body), 'one event, or {"batch": [...]}')
    key = root.get("write_key")
    if key is not None and not isinstance(key, str):
        raise DecodeError(f"`write_key` must be a string, got {kind(key)}", field="write_key")
    if "batch" not in root:
        event, reasons = _convert(root)
        sent_at = event.sent_at if event is not None else None
        out = Collector(SOURCE, key=key, sent_at=sent_at, received_at=received_at)
        out.add(None, root, event, reasons)
        return out.batch
    items = require_list(root, "batch", "events")
    try:
        sent_at = parse_time(root.get("sent_at"))
    except ValueError as exc:
        raise DecodeError(f"`sent_at` is not a time: {exc}", field="sent_at") from None
    out = Collector(SOURCE, key=key, sent_at=sent_at, received_at=received_at)
    for index, item in enumerate(items):
        event, reasons = _convert(item)
        out.add(index, item, event, reasons)
    return out.batch


def _convert(item: Any) -> tuple[Event | None, list[str]]:
    """One JSON item to an Event, or None and every reason it cannot be one."""
    if not isinstance(item, dict):
        return None, [f"an event must be a JSON object, got {kind(item)}"]
    fields = {k: v for k, v in item.items() if k not in _SERVER_FIELDS}
    reasons: list[str] = []
    for name in ("timestamp", "sent_at"):
        fields[name] = time_or_reason(fields.get(name), name, reasons)
    for name in _ID_FIELDS:
        value = fields.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            fields[name] = text(value)
    if not reasons:
        try:
            event = msgspec.convert(fields, Event)
        except msgspec.ValidationError as exc:
            reasons.append(validation_message(exc, hints={"event": "a string"}, root="item")[0])
        else:
            if event.event:
                return event, []
            reasons.append(_EMPTY_NAME)
    return None, reasons
