"""What one spool record holds: the events, quarantined items and identity merges of a request.

Accepted events travel as one JSON array (``events_json``, encoded by msgspec in one call), the
form the store parses in its own engine (DuckDB reads it with ``from_json``, outside Python), so
the writer never builds a Python object per event. Records written before this layout carry the
events as msgpack (``events``); :func:`event_arrays` turns both into JSON arrays.
"""

from __future__ import annotations

import msgspec

from microfunnel.events.model import Event
from microfunnel.store.base import QuarantineRecord

__all__ = ["SpoolBatch", "decode_batch", "encode_batch", "event_arrays", "event_count"]


class SpoolBatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    events: list[Event] = msgspec.field(default_factory=list)
    quarantine: list[QuarantineRecord] = msgspec.field(default_factory=list)
    identities: list[tuple[str, str]] = msgspec.field(default_factory=list)
    events_json: bytes = b""
    count: int = 0  # events in ``events_json`` (0 in records written before it was kept)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SpoolBatch)
_json = msgspec.json.Encoder(enc_hook=str)


def encode_batch(batch: SpoolBatch) -> bytes:
    """The record for ``batch``; its events are encoded as a JSON array once, kept on the batch
    (``events_json``) for the writer that receives it in memory."""
    if batch.events and not batch.events_json:
        batch.events_json = _json.encode(batch.events)
    return _encoder.encode(
        SpoolBatch(
            quarantine=batch.quarantine,
            identities=batch.identities,
            events_json=batch.events_json,
            count=len(batch.events) or batch.count,
        )
    )


def decode_batch(payload: bytes) -> SpoolBatch:
    return _decoder.decode(payload)


def event_count(batch: SpoolBatch) -> int:
    """How many events ``batch`` holds, as far as is known without parsing them (a record
    from before counts were kept counts as one)."""
    return batch.count or len(batch.events) or (1 if batch.events_json else 0)


def event_arrays(batch: SpoolBatch) -> bytes:
    """The batch's events as one JSON array (empty bytes when it has none)."""
    if batch.events_json:
        return batch.events_json
    return _json.encode(batch.events) if batch.events else b""
