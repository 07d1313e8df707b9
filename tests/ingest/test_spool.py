"""The spool keeps every acknowledged record and never skips a good one."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from microfunnel.errors import Unavailable
from microfunnel.ingest.spool import HEADER, Position, Record, Spool


def test_records_survive_reopen_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, group_ms=0)
    ends = [spool.append(f"r{i}".encode()) for i in range(50)]
    spool.close()
    assert ends == sorted(ends)
    again = Spool(tmp_path, group_ms=0)
    assert [r.payload for r in again.read_from(Position(0, 0))] == [
        f"r{i}".encode() for i in range(50)
    ]
    again.close()


def test_checkpoint_skips_applied_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path, group_ms=0)
    spool.append(b"a")
    end = spool.append(b"b")
    spool.append(b"c")
    spool.set_checkpoint(end)
    assert [r.payload for r in spool.read_from(spool.checkpoint())] == [b"c"]
    spool.close()


def test_torn_tail_is_cut_and_kept_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path, group_ms=0)
    spool.append(b"good-1")
    spool.append(b"good-2")
    spool.close()
    segment = next(tmp_path.glob("*.log"))
    with segment.open("ab") as f:  # a crash in the middle of writing a third record
        f.write(HEADER.pack(b"MFS1", 100, 0) + b"partial")
    again = Spool(tmp_path, group_ms=0)
    assert [r.payload for r in again.read_from(Position(0, 0))] == [b"good-1", b"good-2"]
    assert any("torn tail" in p for p in again.recovered_problems)
    assert list(tmp_path.glob("torn-*.bin"))
    again.append(b"good-3")  # appends continue after the cut
    assert [r.payload for r in again.read_from(Position(0, 0))][-1] == b"good-3"
    again.close()


def test_corrupt_record_in_the_middle_does_not_hide_later_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path, group_ms=0)
    first = spool.append(b"one")
    spool.append(b"two")
    spool.append(b"three")
    spool.close()
    segment = next(tmp_path.glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[first.offset + HEADER.size] ^= 0xFF  # flip a byte of "two"
    segment.write_bytes(bytes(data))
    again = Spool(tmp_path, group_ms=0)
    assert [r.payload for r in again.read_from(Position(0, 0))] == [b"one", b"three"]
    assert any("corrupt" in p for p in again.recovered_problems)
    again.close()


def test_segments_rotate_and_applied_ones_are_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, group_ms=0, segment_bytes=64)
    ends = [spool.append(b"x" * 40) for _ in range(6)]
    assert len(spool.segments()) > 2
    spool.set_checkpoint(ends[-1])
    assert spool.segments() == [ends[-1].segment]
    spool.close()


def test_async_append_is_durable_and_carries_its_batch(tmp_path: Path) -> None:
    """The collector's path: awaited on the event loop, answered after the grouped fsync, and
    the appender's object handed to the writer beside the bytes (which alone are on disk)."""
    seen: list[Record] = []
    spool = Spool(tmp_path, group_ms=1, on_durable=seen.extend)

    async def append_many() -> list[Position]:
        jobs = [spool.append_async(f"r{i}".encode(), carry=i) for i in range(20)]
        return list(await asyncio.gather(*jobs))

    ends = asyncio.run(append_many())
    spool.close()
    assert sorted(r.end for r in seen) == sorted(ends)
    assert all(r.payload == f"r{r.carry}".encode() for r in seen)
    again = Spool(tmp_path, group_ms=0)
    back = list(again.read_from(Position(0, 0)))
    assert {r.payload for r in back} == {f"r{i}".encode() for i in range(20)}
    assert all(r.carry is None for r in back)
    again.close()


def test_async_append_on_a_closed_spool_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path, group_ms=0)
    spool.close()
    with pytest.raises(Unavailable, match="closed"):
        asyncio.run(spool.append_async(b"late"))


def test_async_append_times_out_when_the_fsync_never_comes_and_failures_reach_every_waiter(
    tmp_path: Path,
) -> None:
    """A stuck disk: the caller gets a 503-style error at its timeout, not a hang; a failed
    write fails every waiter of its group, sync and async alike (nothing answered 200)."""
    spool = Spool(tmp_path, group_ms=0)
    release = threading.Event()
    spool.fault = lambda: release.wait(5)  # the write blocks until released
    with pytest.raises(Unavailable, match="did not confirm"):
        asyncio.run(spool.append_async(b"stuck", timeout=0.2))
    release.set()

    def fail() -> None:
        raise OSError("no space left on device")

    spool.fault = fail

    async def group() -> list[BaseException | Position]:
        jobs = [spool.append_async(f"f{i}".encode(), timeout=5) for i in range(5)]
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    outcomes = asyncio.run(group())
    assert len(outcomes) == 5 and all(isinstance(o, Unavailable) for o in outcomes)
    assert all("no space left" in str(o) for o in outcomes)
    spool.fault = None
    assert asyncio.run(spool.append_async(b"healed", timeout=5)) is not None
    spool.close()
