"""The write-ahead spool: accepted work is on disk (fsync'd) before the collector answers 200.

Layout: ``spool/NNNNNNNN.log`` segments of records, and ``spool/checkpoint`` (segment, offset)
up to which the writer has applied records to the store. A record is::

    magic b"MFS1" | length u32 | crc32 u32 | payload (msgpack)

Appends are grouped: callers hand bytes to one spool thread, which writes everything queued,
fsyncs once and then releases every caller of the group (group commit).

Recovery reads from the checkpoint. A torn tail (a record cut short by a crash) is truncated
after its bytes are copied to ``torn-*.bin``; a corrupt record followed by good ones is copied to
``corrupt-*.bin`` and reading resumes at the next valid record, so good records are never skipped.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from microfunnel.errors import Unavailable

__all__ = ["Position", "Record", "Spool"]

MAGIC = b"MFS1"
HEADER = struct.Struct("<4sII")
SEGMENT_BYTES = 64 * 1024 * 1024
MAX_RECORD = 256 * 1024 * 1024


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True)
class Record:
    payload: bytes
    end: Position


def _segment_name(n: int) -> str:
    return f"{n:08d}.log"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Waiter:
    __slots__ = ("done", "end", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.end: Position | None = None
        self.error: BaseException | None = None


class Spool:
    """A durable append-only log with grouped fsync, read back by the writer on recovery."""

    def __init__(
        self,
        folder: str | Path,
        *,
        group_ms: float = 2.0,
        segment_bytes: int = SEGMENT_BYTES,
        on_durable: Callable[[list[Record]], None] | None = None,
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.group_seconds = group_ms / 1000.0
        self.segment_bytes = segment_bytes
        self.on_durable = on_durable
        self.recovered_problems: list[str] = []
        self._lock = threading.Condition()
        self._queue: list[tuple[bytes, _Waiter]] = []
        self._closed = False
        segments = self.segments()
        self._segment = segments[-1] if segments else 1
        self._repair_tail(self._segment)
        self._file = open(self.folder / _segment_name(self._segment), "ab")  # noqa: SIM115
        self._thread = threading.Thread(target=self._run, name="microfunnel-spool", daemon=True)
        self._thread.start()

    # ---- layout ------------------------------------------------------------------------

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.log") if p.stem.isdigit())

    def checkpoint(self) -> Position:
        path = self.folder / "checkpoint"
        if not path.exists():
            return Position(0, 0)
        seg, off = path.read_text().split()
        return Position(int(seg), int(off))

    def set_checkpoint(self, pos: Position) -> None:
        """Record that everything up to ``pos`` is in the store; drop segments fully applied."""
        tmp = self.folder / "checkpoint.tmp"
        with open(tmp, "w") as f:
            f.write(f"{pos.segment} {pos.offset}")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.folder / "checkpoint")
        for seg in self.segments():
            if seg < pos.segment:
                (self.folder / _segment_name(seg)).unlink(missing_ok=True)

    # ---- appending ---------------------------------------------------------------------

    def append(self, payload: bytes, timeout: float = 30.0) -> Position:
        """Write one record durably; returns once it is fsync'd (grouped with others)."""
        waiter = _Waiter()
        with self._lock:
            if self._closed:
                raise Unavailable("the spool is closed (server shutting down); retry shortly")
            self._queue.append((payload, waiter))
            self._lock.notify()
        if not waiter.done.wait(timeout):
            raise Unavailable("the spool did not confirm the write in time; retry", retry_after=2)
        if waiter.error is not None:
            raise Unavailable(
                f"cannot keep events right now ({waiter.error}); nothing was accepted, retry later",
                retry_after=5,
            )
        assert waiter.end is not None
        return waiter.end

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if not self._queue and self._closed:
                    return
            if self.group_seconds > 0:
                time.sleep(self.group_seconds)  # let a group form
            with self._lock:
                group, self._queue = self._queue, []
            self._write_group(group)

    def _write_group(self, group: list[tuple[bytes, _Waiter]]) -> None:
        records: list[Record] = []
        try:
            if self._file.tell() >= self.segment_bytes:
                self._rotate()
            offset = self._file.tell()
            chunks = []
            for payload, waiter in group:
                chunk = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
                chunks.append(chunk)
                offset += len(chunk)
                waiter.end = Position(self._segment, offset)
                records.append(Record(payload, waiter.end))
            self._file.write(b"".join(chunks))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._recover_after_error()
            for _, waiter in group:
                waiter.error = exc
                waiter.done.set()
            return
        if self.on_durable is not None:
            self.on_durable(records)
        for _, waiter in group:
            waiter.done.set()

    def _recover_after_error(self) -> None:
        """After a failed write (disk full), cut the segment back to its last whole record."""
        with contextlib.suppress(OSError):
            self._file.close()
        self._repair_tail(self._segment)
        self._file = open(self.folder / _segment_name(self._segment), "ab")  # noqa: SIM115

    def _rotate(self) -> None:
        self._file.close()
        self._segment += 1
        self._file = open(self.folder / _segment_name(self._segment), "ab")  # noqa: SIM115
        _fsync_dir(self.folder)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=30)
        self._file.close()

    # ---- reading back ------------------------------------------------------------------

    def read_from(self, start: Position) -> Iterator[Record]:
        """Every valid record after ``start`` (recovery replay)."""
        for seg in self.segments():
            if seg < start.segment:
                continue
            data = (self.folder / _segment_name(seg)).read_bytes()
            pos = start.offset if seg == start.segment else 0
            for payload, end in self._scan(seg, data, pos):
                yield Record(payload, Position(seg, end))

    def _scan(self, seg: int, data: bytes, pos: int) -> Iterator[tuple[bytes, int]]:
        size = len(data)
        while pos < size:
            payload_end = self._valid_at(data, pos)
            if payload_end is not None:
                yield data[pos + HEADER.size : payload_end], payload_end
                pos = payload_end
                continue
            nxt = self._next_valid(data, pos + 1)
            if nxt is None:
                return  # a torn tail: handled by _repair_tail on the live segment
            self._keep_bad_bytes("corrupt", seg, data[pos:nxt])
            self.recovered_problems.append(
                f"segment {seg}: {nxt - pos} corrupt bytes at offset {pos} set aside; "
                "reading resumed at the next valid record"
            )
            pos = nxt

    @staticmethod
    def _valid_at(data: bytes, pos: int) -> int | None:
        if pos + HEADER.size > len(data):
            return None
        magic, length, crc = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if magic != MAGIC or length > MAX_RECORD or end > len(data):
            return None
        if zlib.crc32(data[pos + HEADER.size : end]) != crc:
            return None
        return end

    def _next_valid(self, data: bytes, start: int) -> int | None:
        pos = data.find(MAGIC, start)
        while pos != -1:
            if self._valid_at(data, pos) is not None:
                return pos
            pos = data.find(MAGIC, pos + 1)
        return None

    def _repair_tail(self, seg: int) -> None:
        path = self.folder / _segment_name(seg)
        if not path.exists():
            return
        data = path.read_bytes()
        end = 0
        for _, record_end in self._scan(seg, data, 0):
            end = record_end
        if end < len(data):
            self._keep_bad_bytes("torn", seg, data[end:])
            self.recovered_problems.append(
                f"segment {seg}: torn tail of {len(data) - end} bytes after offset {end} "
                "(a write cut short by a crash; it was never acknowledged) set aside"
            )
            with open(path, "r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())

    def _keep_bad_bytes(self, kind: str, seg: int, data: bytes) -> None:
        name = self.folder / f"{kind}-{seg:08d}-{time.time_ns()}.bin"
        name.write_bytes(data)

    def purge_applied(self) -> None:
        """Drop every segment the writer has applied, starting a fresh one (used by forget)."""
        with self._lock:
            cp = self.checkpoint()
            live = self.folder / _segment_name(self._segment)
            if cp.segment == self._segment and cp.offset >= live.stat().st_size:
                self._file.close()
                self._segment += 1
                self._file = open(self.folder / _segment_name(self._segment), "ab")  # noqa: SIM115
                self.set_checkpoint(Position(self._segment, 0))
                for bad in self.folder.glob("torn-*.bin"):  # never acknowledged
                    bad.unlink()
