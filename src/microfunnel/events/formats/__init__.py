"""Wire-format decoders: a request body in, Events out; no HTTP server, no store.

Each format module exposes ``decode(body, *, content_type, query, received_at) -> DecodedBatch``:
``native`` (ours), ``segment`` (Segment and RudderStack), ``posthog`` (v0 and v1), ``snowplow``
(tracker protocol) and ``ga4`` (Measurement Protocol). The server undoes ``Content-Encoding``
with :func:`decompress` first (bounded, zip-bomb safe); decoders also sniff gzip and zstd bodies
sent without the header. A decoder raises only ``DecodeError`` (400: the body as a whole is
unusable, the message says what and where) or ``PayloadTooLarge`` (413: over ``MAX_BODY_BYTES``
once decompressed); items that cannot become events come back in ``rejected`` for quarantine.

>>> from datetime import UTC, datetime
>>> batch = DECODERS["native"](
...     b'{"event": "view_item", "anonymous_id": "a1"}',
...     content_type="application/json",
...     query={},
...     received_at=datetime(2024, 5, 1, tzinfo=UTC),
... )
>>> [(e.event, e.context["source"]) for e in batch.events]
[('view_item', 'native')]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from microfunnel.events.formats import ga4, native, posthog, segment, snowplow
from microfunnel.events.formats.common import MAX_BODY_BYTES, DecodedBatch, Rejected, decompress

__all__ = ["DECODERS", "MAX_BODY_BYTES", "DecodedBatch", "Decoder", "Rejected", "decompress"]


class Decoder(Protocol):
    """What every format's ``decode`` is."""

    def __call__(
        self,
        body: bytes,
        *,
        content_type: str | None,
        query: Mapping[str, str],
        received_at: datetime,
    ) -> DecodedBatch: ...


DECODERS: Mapping[str, Decoder] = MappingProxyType(
    {
        "native": native.decode,
        "segment": segment.decode,
        "posthog": posthog.decode,
        "snowplow": snowplow.decode,
        "ga4": ga4.decode,
    }
)
