"""What every wire-format decoder shares: the result type, bodies, JSON and times.

A decoder is a pure function ``decode(body, *, content_type, query, received_at) -> DecodedBatch``.
It raises :class:`~microfunnel.errors.DecodeError` only when the body as a whole is unusable;
an item that cannot become an :class:`Event` is returned in ``rejected`` (it goes to quarantine,
it is never dropped).

>>> batch = DecodedBatch(events=[], rejected=[], key=None, sent_at=None)
>>> len(batch)
0
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import zstandard

from microfunnel.errors import DecodeError, PayloadTooLarge
from microfunnel.events.formats.context import device_from_user_agent, url_context
from microfunnel.events.model import Event, as_utc, skew_corrected

__all__ = [
    "MAX_BODY_BYTES",
    "Collector",
    "DecodedBatch",
    "Rejected",
    "decode_json",
    "decompress",
    "finish",
    "kind",
    "parse_epoch",
    "parse_time",
    "raw_batch",
    "require_list",
    "require_object",
    "sniff_decompress",
    "time_or_reason",
    "validation_message",
]

# Decompressed bytes one request may carry. PostHog batches go up to 5 MiB and RudderStack's to
# 4 MB, so 8 MiB accepts every real client while a zip bomb stops after reading 8 MiB.
MAX_BODY_BYTES = 8 * 1024 * 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Rejected(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An item that could not become an Event: kept as sent, with the reasons, for quarantine."""

    item: Any
    reasons: list[str]
    index: int | None = None


class DecodedBatch(msgspec.Struct, kw_only=True):
    """What one request decoded to.

    ``key`` is a write key found in the body (Segment ``writeKey``, PostHog ``api_key``, GA4
    ``api_secret``); keys in headers are the server's business. ``sent_at`` is the client's send
    time for the whole request, already applied to each event's ``timestamp``.
    ``plain_properties`` says that every event's properties are as a JSON decoder made them
    (str keys; dict, list, str, int, float, bool and None values), so that two with the same
    encoding are the same values.
    """

    events: list[Event]
    rejected: list[Rejected] = msgspec.field(default_factory=list)
    key: str | None = None
    sent_at: datetime | None = None
    plain_properties: bool = False

    def __len__(self) -> int:
        return len(self.events) + len(self.rejected)


# --- bodies -------------------------------------------------------------------------------------


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"body is larger than {limit} bytes once decompressed: send smaller batches",
        field="body",
    )


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    """Inflate zlib, raw deflate or (multi-member) gzip, reading at most ``limit + 1`` bytes."""
    out = bytearray()
    data = body
    while True:
        engine = zlib.decompressobj(wbits)
        out += engine.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise _too_large(limit)
        if not engine.eof:
            raise zlib.error("compressed data ends before the end of the stream")
        data = engine.unused_data
        # Only gzip may concatenate members; anything after a zlib/deflate stream is garbage.
        if not data or wbits != 31:
            if data:
                raise zlib.error("trailing bytes after the compressed stream")
            return bytes(out)


def _unzstd(body: bytes, limit: int) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True)
    out = reader.read(limit + 1)
    if len(out) > limit:
        raise _too_large(limit)
    return out


def decompress(body: bytes, encoding: str | None, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate as zlib or raw, zstd; identity), bounded.

    The limit applies to the decompressed size, and decompression stops as soon as it is passed,
    so a small zip bomb costs at most ``limit`` bytes of memory. Raises ``PayloadTooLarge`` over
    the limit and ``DecodeError`` for an unknown encoding or corrupt data.

    >>> import gzip
    >>> decompress(gzip.compress(b'{"event": "x"}'), "gzip")
    b'{"event": "x"}'
    """
    name = (encoding or "identity").strip().lower()
    try:
        if name in ("", "identity"):
            if len(body) > limit:
                raise _too_large(limit)
            return body
        if name in ("gzip", "x-gzip"):
            return _inflate(body, 31, limit)
        if name == "deflate":
            # RFC 9110 says zlib-wrapped; some clients send raw deflate. The zlib header says which.
            wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
            return _inflate(body, 15 if wrapped else -15, limit)
        if name == "zstd":
            return _unzstd(body, limit)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise DecodeError(
            f"body is not valid {name} data ({exc}): check Content-Encoding", field="body"
        ) from None
    raise DecodeError(
        f"Content-Encoding `{encoding}` is not supported: use gzip, deflate, zstd or none",
        field="Content-Encoding",
    )


def sniff_decompress(body: bytes, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """Decompress a gzip or zstd body sent without ``Content-Encoding`` (posthog-js ``gzip-js``).

    JSON never starts with these magic bytes, so sniffing cannot misread a plain body.
    """
    if body[:2] == _GZIP_MAGIC:
        return decompress(body, "gzip", limit=limit)
    if body[:4] == _ZSTD_MAGIC:
        return decompress(body, "zstd", limit=limit)
    if len(body) > limit:
        raise _too_large(limit)
    return body


# --- JSON ---------------------------------------------------------------------------------------

_AT_BYTE = re.compile(r"^(?:JSON is malformed: )?(?P<what>.*?)(?: \(byte (?P<byte>\d+)\))?$")
_AT_PATH = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_TYPE_WORDS = {
    "array": "a list",
    "object": "an object",
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
}
_EXPECTED = re.compile(r"^Expected `([^`|]+)(?: \| [^`]+)?`, got `([^`]+)`$")


def _words(type_name: str) -> str:
    return _TYPE_WORDS.get(type_name, f"`{type_name}`")


def validation_message(
    exc: msgspec.ValidationError, *, hints: dict[str, str] | None = None, root: str = "body"
) -> tuple[str, str]:
    """Turn msgspec's ``Expected `array`, got `str` - at `$.batch``` into words and a field path.

    ``root`` names what ``$`` is: the body, or one item of a batch.
    """
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches any string
    path = (match["path"] or "").lstrip(".") or root
    label = root if path == root else f"`{path}`"
    what = match["what"]
    expected = _EXPECTED.match(what)
    if expected:
        want = (hints or {}).get(path, _words(expected[1]))
        return f"{label} must be {want}, got {_words(expected[2])}", path
    if what.startswith("Object missing required field "):
        return f"{label} is missing required field {what.rsplit(' ', 1)[-1]}", path
    return f"{label} is invalid: {what[:1].lower()}{what[1:]}", path


def decode_json(body: bytes, type: Any = Any, *, hints: dict[str, str] | None = None) -> Any:
    """Decode JSON with msgspec, raising ``DecodeError`` that says what is wrong and where.

    ``hints`` names what a path should hold in words ("a list of events"), for nicer messages.

    >>> decode_json(b'{"a": 1 "b": 2}')
    Traceback (most recent call last):
    ...
    microfunnel.errors.DecodeError: body is not valid JSON at byte 8: expected ',' or '}'
    """
    try:
        return msgspec.json.decode(body, type=type)
    except msgspec.ValidationError as exc:
        message, path = validation_message(exc, hints=hints)
        raise DecodeError(message, field=path) from None
    except msgspec.DecodeError as exc:
        raise DecodeError(_malformed(body, str(exc)), field="body") from None
    except UnicodeDecodeError:
        raise DecodeError(_not_utf8(body), field="body") from None


def _not_utf8(body: bytes) -> str:
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        return f"body is not valid UTF-8 at byte {exc.start}: send JSON text in UTF-8"
    return "body has a string that is not valid UTF-8: send JSON text in UTF-8"


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


def kind(value: Any) -> str:
    """What a decoded JSON value is, in words, for messages: ``kind([]) == "a list"``."""
    return _KINDS.get(type(value), "a number")


def raw_batch(body: bytes, key: str = "batch") -> list[Any]:
    """The items of a body exactly as sent: ``root[key]`` of an object, or a top-level list."""
    root = msgspec.json.decode(body)
    items = root.get(key) if isinstance(root, dict) else root
    return items if isinstance(items, list) else []


def require_object(root: Any, shape: str) -> dict[str, Any]:
    """The decoded body as a dict, or DecodeError saying which ``shape`` was expected."""
    if not isinstance(root, dict):
        raise DecodeError(f"body must be a JSON object ({shape}), got {kind(root)}", field="body")
    return root


def require_list(root: dict[str, Any], name: str, items: str) -> list[Any]:
    """``root[name]`` as a list, or DecodeError: "`batch` must be a list of events, got ..."."""
    value = root[name]
    if not isinstance(value, list):
        raise DecodeError(f"`{name}` must be a list of {items}, got {kind(value)}", field=name)
    return value


def _malformed(body: bytes, text: str) -> str:
    if not body.strip():
        return "body is empty: send a JSON object"
    if text == "Input data was truncated":
        return f"body is not valid JSON: it ends early at byte {len(body)}"
    if text.startswith("Invalid UTF-8"):  # recent msgspec: a string that is not UTF-8
        return _not_utf8(body)
    match = _AT_BYTE.match(text)
    assert match is not None  # the pattern matches any string
    where = f" at byte {match['byte']}" if match["byte"] else ""
    return f"body is not valid JSON{where}: {match['what']}"


def finish(event: Event, source: str, sent_at: datetime | None, received_at: datetime) -> Event:
    """Stamp server-side fields, fill context from the page URL and user agent, correct skew."""
    return _finish(event, source, sent_at, as_utc(received_at))


def _finish(event: Event, source: str, sent_at: datetime | None, received: datetime) -> Event:
    """``finish`` with the receive time already in UTC (a Collector converts it once)."""
    event.plan_version = None
    if sent_at is not None and event.sent_at is None:
        event.sent_at = sent_at
    context = event.context
    context["source"] = source
    if "page_url" in context and "page_path" not in context:
        url = context["page_url"]
        if isinstance(url, str) and url:
            event.context = context = {**url_context(url), **context}
    if "device" not in context:
        user_agent = context.get("user_agent")
        if isinstance(user_agent, str) and user_agent:
            context["device"] = device_from_user_agent(user_agent)
    return skew_corrected(event, received)


_OUT_OF_RANGE = "`timestamp` is out of range once corrected for clock skew"


class Collector:
    """Sorts a request's items into finished events and rejected items, in one DecodedBatch.

    Fast paths decode items straight into structs, which keep only known fields; when such an
    item is rejected, ``body`` is decoded again (once, lazily) for the items exactly as sent under
    ``list_key``, so quarantine keeps everything. An event whose skew-corrected time falls off
    the calendar is rejected, not raised.
    """

    __slots__ = ("_events", "_raw", "batch", "body", "list_key", "received_at", "sent_at", "source")

    def __init__(
        self,
        source: str,
        *,
        key: str | None,
        sent_at: datetime | None,
        received_at: datetime,
        body: bytes = b"",
        list_key: str = "batch",
    ) -> None:
        self.source = source
        self.sent_at = sent_at
        self.received_at = as_utc(received_at)
        self.body = body
        self.list_key = list_key
        self._raw: list[Any] | None = None
        self.batch = DecodedBatch(events=[], rejected=[], key=key, sent_at=sent_at)
        self._events = self.batch.events

    def add(self, index: int | None, item: Any, event: Event | None, reasons: list[str]) -> None:
        """Finish ``event``; or, when it is None, quarantine ``item`` with ``reasons``."""
        if event is not None:
            try:
                self._events.append(_finish(event, self.source, self.sent_at, self.received_at))
                return
            except OverflowError:  # quarantined as sent, never without its payload
                reasons = [_OUT_OF_RANGE]
                item = event if item is None else item
        if isinstance(item, msgspec.Struct) and index is not None:
            item = self._as_sent(index, item)
        self.batch.rejected.append(Rejected(item=item, reasons=reasons, index=index))

    def add_events(self, events: list[Event], unnamed: str) -> None:
        """The fast paths' call: ``add`` for each of ``events`` (decoded straight into structs,
        indexed by position) in one loop; an event without a name is rejected as ``unnamed``."""
        append, source, sent_at, received = (
            self._events.append,
            self.source,
            self.sent_at,
            self.received_at,
        )
        for index, event in enumerate(events):
            if not event.event:
                self.add(index, event, None, [unnamed])
                continue
            try:
                append(_finish(event, source, sent_at, received))
            except OverflowError:
                self.add(index, event, None, [_OUT_OF_RANGE])

    def _as_sent(self, index: int, item: msgspec.Struct) -> Any:
        if self._raw is None:
            self._raw = raw_batch(self.body, self.list_key) if self.body else []
        if index < len(self._raw):
            return self._raw[index]
        return msgspec.to_builtins(item)


def time_or_reason(value: Any, name: str, reasons: list[str]) -> datetime | None:
    """``parse_time(value)``, or None with a reason naming the field appended to ``reasons``."""
    try:
        return parse_time(value)
    except ValueError as exc:
        reasons.append(f"`{name}` is not a time: {exc}")
        return None


# --- times --------------------------------------------------------------------------------------


def parse_epoch(value: Any, *, unit: float = 1e-3) -> datetime:
    """Seconds since the epoch times ``unit`` (milliseconds by default) as a UTC datetime.

    Accepts numbers and numeric strings (Snowplow sends ``"1714566896789"``). Raises ValueError.

    >>> parse_epoch("1714566896789").isoformat()
    '2024-05-01T12:34:56.789000+00:00'
    """
    if isinstance(value, bool):
        raise ValueError(f"expected epoch milliseconds, got {value!r}")
    try:
        number = int(value) if isinstance(value, str) and value.isdigit() else float(value)
        if isinstance(number, int):
            return _EPOCH + timedelta(microseconds=number * round(unit * 1e6))
        return _EPOCH + timedelta(microseconds=round(number * unit * 1e6))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected epoch milliseconds, got {value!r}") from None


_NOT_A_TIME = "expected an ISO-8601 time or epoch milliseconds, got {!r}"


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string or epoch milliseconds (number or digits) as an aware datetime.

    ``None`` stays ``None``; anything else unusable raises ValueError naming the value. Naive ISO
    times are taken as UTC.

    >>> parse_time("2024-05-01T12:34:56.789Z").isoformat()
    '2024-05-01T12:34:56.789000+00:00'
    >>> parse_time(1714566896789).isoformat()
    '2024-05-01T12:34:56.789000+00:00'
    """
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str) and not value.isdigit():
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(_NOT_A_TIME.format(value)) from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float | str):
        return parse_epoch(value)
    raise ValueError(_NOT_A_TIME.format(value))
