"""What one spool record holds: the events, quarantined items and identity merges of a request."""

from __future__ import annotations

import msgspec

from microfunnel.events.model import Event
from microfunnel.store.base import QuarantineRecord

__all__ = ["SpoolBatch", "decode_batch", "encode_batch"]


class SpoolBatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    events: list[Event] = msgspec.field(default_factory=list)
    quarantine: list[QuarantineRecord] = msgspec.field(default_factory=list)
    identities: list[tuple[str, str]] = msgspec.field(default_factory=list)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SpoolBatch)


def encode_batch(batch: SpoolBatch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(payload: bytes) -> SpoolBatch:
    return _decoder.decode(payload)
