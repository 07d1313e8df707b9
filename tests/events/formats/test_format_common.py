"""Bodies, JSON errors and times shared by every decoder."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime

import msgspec
import pytest
import zstandard

from microfunnel.errors import DecodeError, PayloadTooLarge
from microfunnel.events.formats.common import (
    decode_json,
    decompress,
    kind,
    parse_epoch,
    parse_time,
    sniff_decompress,
)

PAYLOAD = b'{"batch": [{"event": "add_to_cart"}]}' * 3


def raw_deflate(data: bytes) -> bytes:
    engine = zlib.compressobj(wbits=-15)
    return engine.compress(data) + engine.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("zstd", zstandard.ZstdCompressor().compress),
        ("identity", lambda data: data),
        (None, lambda data: data),
        (" GZIP ", gzip.compress),
    ],
)
def test_decompress_each_encoding(encoding, compress):
    assert decompress(compress(PAYLOAD), encoding) == PAYLOAD


def test_gzip_with_several_members_is_read_whole():
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip") == b"abcd"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("zstd", zstandard.ZstdCompressor().compress),
    ],
)
def test_zip_bomb_stops_at_the_decompressed_limit(encoding, compress):
    bomb = compress(b"\0" * 2_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(PayloadTooLarge, match="larger than 100000 bytes once decompressed"):
        decompress(bomb, encoding, limit=100_000)
    assert len(decompress(bomb, encoding, limit=2_000_000)) == 2_000_000


def test_zstd_without_content_size_in_the_frame_is_bounded_too():
    chunks = zstandard.ZstdCompressor().compressobj()
    bomb = chunks.compress(b"\0" * 1_000_000) + chunks.flush()
    with pytest.raises(PayloadTooLarge):
        decompress(bomb, "zstd", limit=1000)


def test_plain_body_over_the_limit_is_too_large():
    with pytest.raises(PayloadTooLarge):
        decompress(b"x" * 11, None, limit=10)
    with pytest.raises(PayloadTooLarge):
        sniff_decompress(b"x" * 11, limit=10)


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (b"not gzip at all", "gzip", "body is not valid gzip data"),
        (gzip.compress(PAYLOAD)[:-12], "gzip", "ends before the end of the stream"),
        (zlib.compress(PAYLOAD) + b"junk", "deflate", "trailing bytes"),
        (b"\x28\xb5\x2f\xfd garbage", "zstd", "body is not valid zstd data"),
        (PAYLOAD, "br", "Content-Encoding `br` is not supported"),
    ],
)
def test_corrupt_or_unknown_encoding_is_a_decode_error(body, encoding, message):
    with pytest.raises(DecodeError, match=message) as info:
        decompress(body, encoding)
    assert info.value.field in ("body", "Content-Encoding")


def test_sniff_decompress_reads_gzip_and_zstd_magic_and_leaves_json_alone():
    assert sniff_decompress(gzip.compress(PAYLOAD)) == PAYLOAD
    assert sniff_decompress(zstandard.ZstdCompressor().compress(PAYLOAD)) == PAYLOAD
    assert sniff_decompress(PAYLOAD) is PAYLOAD


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1 "b": 2}', "body is not valid JSON at byte 8: expected ',' or '}'"),
        (b'{"a": ', "body is not valid JSON: it ends early at byte 6"),
        (b"  ", "body is empty: send a JSON object"),
        (b"\xff", "body is not valid JSON at byte 0: invalid character"),
        (b'["ok", "\x80"]', "body is not valid UTF-8 at byte 8: send JSON text in UTF-8"),
    ],
)
def test_malformed_json_says_what_and_where(body, message):
    with pytest.raises(DecodeError) as info:
        decode_json(body)
    assert info.value.message == message
    assert info.value.field == "body"
    assert isinstance(info.value, ValueError)


class Batch(msgspec.Struct):
    batch: list[int]


def test_trailing_garbage_is_named():
    with pytest.raises(
        DecodeError, match=r"^body is not valid JSON at byte \d+: trailing characters$"
    ):
        decode_json(b"[1] x")


def test_wrong_type_names_the_field_in_words():
    with pytest.raises(DecodeError) as info:
        decode_json(b'{"batch": "x"}', Batch, hints={"batch": "a list of events"})
    assert info.value.message == "`batch` must be a list of events, got a string"
    assert info.value.field == "batch"


def test_kind_names_json_values():
    assert [kind(v) for v in ({}, [], "", 1, 1.5, True, None)] == [
        "an object",
        "a list",
        "a string",
        "a number",
        "a number",
        "a boolean",
        "null",
    ]


EXPECTED = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:34:56.789Z",
        "2024-05-01T12:34:56.789+00:00",
        "2024-05-01T12:34:56.789000+00:00",
        "2024-05-01T14:34:56.789+02:00",
        "2024-05-01T12:34:56.789",
        1714566896789,
        1714566896789.0,
        "1714566896789",
    ],
)
def test_parse_time_iso_and_epoch_ms(value):
    parsed = parse_time(value)
    assert parsed == EXPECTED
    assert parsed is not None and parsed.utcoffset() is not None


def test_parse_time_passes_none_and_datetimes():
    assert parse_time(None) is None
    assert parse_time(EXPECTED) is EXPECTED


@pytest.mark.parametrize(
    "value", ["yesterday", "", True, [1], {"t": 1}, 1e300, float("nan"), "9" * 40]
)
def test_parse_time_rejects_with_the_value(value):
    with pytest.raises(ValueError, match="expected"):
        parse_time(value)


def test_parse_epoch_other_units():
    assert parse_epoch(1714566896789000, unit=1e-6) == EXPECTED
    assert parse_epoch("1714566896", unit=1) == EXPECTED.replace(microsecond=0)
