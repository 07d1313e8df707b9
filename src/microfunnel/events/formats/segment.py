"""Segment and RudderStack: ``POST /v1/batch`` and the single-message endpoints.

The body is ``{"batch": [message, ...], "sentAt": iso, "writeKey": "..."}`` (RudderStack leaves
``writeKey`` out) or one message. A message is a Segment spec call:

========== ============================================================================
type       Event
========== ============================================================================
track      ``event`` as sent (names are not renamed; the tracking plan judges them)
page       ``page_view``; ``name``/``category`` join the properties
screen     ``screen_view``; likewise
identify   ``$identify``; ``traits`` become the properties
alias      ``$alias``; ``properties.previous_id`` is ``previousId``
group      ``$group``; ``traits`` plus ``group_id``
========== ============================================================================

``messageId`` is the event id (stable across retries); ``userId``/``anonymousId`` the ids;
``timestamp`` (else ``originalTimestamp``) the event time, corrected by ``sentAt``. From
``context``: ``page.url``/``path``/``referrer``, ``campaign`` (utm_*), ``userAgent``, ``ip``,
``library``, ``device.type``, ``sessionId`` (RudderStack) and ``consent.categoryPreferences``.

>>> from datetime import UTC, datetime
>>> body = b'{"batch": [{"type": "page", "anonymousId": "a1", "messageId": "m1"}]}'
>>> decode(body, content_type=None, query={}, received_at=datetime.now(UTC)).events[0].event
'page_view'
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
)
from microfunnel.events.formats.context import library, normalize_device, text, url_context
from microfunnel.events.model import Event

__all__ = ["decode"]

SOURCE = "segment"
_NAMES = {"page": "page_view", "screen": "screen_view", "identify": "$identify", "group": "$group"}
_TYPES = ("track", "page", "screen", "identify", "alias", "group")
_CAMPAIGN = {
    "source": "utm_source",
    "medium": "utm_medium",
    "name": "utm_campaign",
    "term": "utm_term",
    "content": "utm_content",
}


class _Message(msgspec.Struct, rename="camel"):
    """A Segment message; fields are loosely typed and checked in :func:`_to_event`."""

    type: Any = "track"
    event: Any = None
    name: Any = None
    category: Any = None
    message_id: Any = None
    user_id: Any = None
    anonymous_id: Any = None
    previous_id: Any = None
    group_id: Any = None
    timestamp: Any = None
    original_timestamp: Any = None
    sent_at: Any = None
    properties: Any = None
    traits: Any = None
    context: Any = None


class _Batch(msgspec.Struct, rename="camel"):
    batch: list[_Message]
    sent_at: Any = None
    write_key: Any = None


def decode(
    body: bytes,
    *,
    content_type: str | None,
    query: Mapping[str, str],
    received_at: datetime,
) -> DecodedBatch:
    """Decode a Segment or RudderStack request (batch or one message) into Events."""
    body = sniff_decompress(body)
    try:
        envelope = msgspec.json.decode(body, type=_Batch)
        messages: list[Any] = envelope.batch
        sent_raw, key = envelope.sent_at, envelope.write_key
    except (msgspec.DecodeError, UnicodeDecodeError):
        root = require_object(decode_json(body), 'a message, or {"batch": [...]}')
        messages = require_list(root, "batch", "messages") if "batch" in root else [root]
        sent_raw, key = root.get("sentAt"), root.get("writeKey")
    try:
        sent_at = parse_time(sent_raw)
    except ValueError as exc:
        raise DecodeError(f"`sentAt` is not a time: {exc}", field="sentAt") from None
    out = Collector(
        SOURCE,
        key=text(key),
        sent_at=sent_at,
        received_at=received_at,
        body=body,
    )
    for index, message in enumerate(messages):
        event, reasons = _to_event(message)
        out.add(index, message, event, reasons)
    return out.batch


def _to_event(raw: Any) -> tuple[Event | None, list[str]]:
    if isinstance(raw, dict):
        try:
            raw = msgspec.convert(raw, _Message)
        except msgspec.ValidationError as exc:  # pragma: no cover - every field is Any
            return None, [str(exc)]
    if not isinstance(raw, _Message):
        return None, [f"a message must be a JSON object, got {kind(raw)}"]
    message: _Message = raw
    reasons: list[str] = []
    kind_of = message.type if message.type is not None else "track"
    if kind_of == "track":
        name = message.event
        if not isinstance(name, str) or not name:
            reasons.append(f"a track message needs `event`, a non-empty string, got {kind(name)}")
        properties = _object(message.properties, "properties", reasons)
    elif kind_of in ("page", "screen"):
        name = _NAMES[kind_of]
        properties = _object(message.properties, "properties", reasons)
        for field in ("name", "category"):
            value = getattr(message, field)
            if value is not None:
                properties.setdefault(field, value)
    elif kind_of in ("identify", "group"):
        name = _NAMES[kind_of]
        properties = _object(message.traits, "traits", reasons)
        if kind_of == "group":
            properties["group_id"] = text(message.group_id)
    elif kind_of == "alias":
        name, properties = "$alias", {"previous_id": text(message.previous_id)}
    else:
        return None, [f"`type` must be one of {', '.join(_TYPES)}, got {kind_of!r}"]
    user_id, anonymous_id = text(message.user_id), text(message.anonymous_id)
    if user_id is None and anonymous_id is None:
        reasons.append("a message needs `userId` or `anonymousId`")
    timestamp = time_or_reason(
        message.timestamp if message.timestamp is not None else message.original_timestamp,
        "timestamp",
        reasons,
    )
    sent_at = time_or_reason(message.sent_at, "sentAt", reasons)
    context = _context(_object(message.context, "context", reasons))
    url = properties.get("url")
    if "page_url" not in context and kind_of == "page" and isinstance(url, str) and url:
        context.update(url_context(url))
    if reasons:
        return None, reasons
    return Event(
        event=name,
        event_id=text(message.message_id) or "",
        user_id=user_id,
        anonymous_id=anonymous_id,
        session_id=text(context.pop("session_id", None)),
        timestamp=timestamp,
        sent_at=sent_at,
        properties=properties,
        context=context,
    ), []


def _object(value: Any, name: str, reasons: list[str]) -> dict[str, Any]:
    """A JSON object field as a dict (missing is empty); anything else is a reason."""
    if isinstance(value, dict):
        return value
    if value is not None:
        reasons.append(f"`{name}` must be an object, got {kind(value)}")
    return {}


def _context(raw: dict[str, Any]) -> dict[str, Any]:
    """Segment's nested ``context`` flattened to our well-known keys."""
    out: dict[str, Any] = {}
    page = raw.get("page")
    if type(page) is dict:
        url = page.get("url")
        if url and type(url) is str:
            out.update(url_context(url))
        path, referrer = page.get("path"), page.get("referrer")
        if path and type(path) is str:
            out["page_path"] = path
        if referrer and type(referrer) is str:
            out["referrer"] = referrer
    campaign = raw.get("campaign")
    if type(campaign) is dict:
        for theirs, ours in _CAMPAIGN.items():
            value = text(campaign.get(theirs))
            if value:
                out[ours] = value
    user_agent, ip, session_id = raw.get("userAgent"), raw.get("ip"), raw.get("sessionId")
    if user_agent is not None:
        out["user_agent"] = user_agent
    if ip is not None:
        out["ip"] = ip
    if session_id is not None:
        out["session_id"] = session_id
    lib = raw.get("library")
    if type(lib) is dict:
        found = library(lib.get("name"), lib.get("version"))
        if found:
            out["library"] = found
    device = raw.get("device")
    if type(device) is dict:
        category = normalize_device(device.get("type"))
        if category:
            out["device"] = category
    consent = raw.get("consent")
    if type(consent) is dict:
        out.update(_consent(consent.get("categoryPreferences")))
    return out


def _consent(preferences: Any) -> dict[str, Any]:
    """``{"consent": {"analytics": bool}}`` from Segment's category preferences, if they say."""
    if type(preferences) is dict:
        for category, allowed in preferences.items():
            if category.lower() == "analytics":
                return {"consent": {"analytics": bool(allowed)}}
    return {}
