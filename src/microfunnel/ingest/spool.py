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

import asyncio
import contextlib
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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
    # What the appender encoded into ``payload``, handed on in memory so the writer need not
    # decode it again; None for records read back from disk.
    carry: Any = field(default=None, compare=False, repr=False)


_TIMED_OUT = "the spool did not confirm the write in time; retry"


def _settle(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # it may have been given up on (timeout, client gone)
            future.set_result(None)


def _time_out(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _segment_name(n: int) -> str:
    return f"{n:08d}.log"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Waiter:
    """One appender waiting for its group's fsync: a thread (``done``) or, for
    :meth:`Spool.append_async`, a future of an event loop."""

    __slots__ = ("carry", "done", "end", "error", "future")

    def __init__(self, carry: Any = None, future: asyncio.Future[None] | None = None) -> None:
        self.done = threading.Event() if future is None else None
        self.future = future
        self.end: Position | None = None
        self.error: BaseException | None = None
        self.carry = carry

    def result(self) -> Position:
        if self.error is not None:
            raise Unavailable(
                f"cannot keep events right now ({self.error}); nothing was accepted, retry later",
                retry_after=5,
            )
        assert self.end is not None
        return self.end


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
        live = self.folder / _segment_name(self._segment)
        self._file: BinaryIO | None = open(live, "ab")  # noqa: SIM115
        self._good_end = live.stat().st_size  # end of the last durable record
        # Fault injection for tests: called just before each group is written; raising OSError
        # there behaves like a failed write (e.g. ENOSPC on a full disk).
        self.fault: Callable[[], None] | None = None
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

    def append(self, payload: bytes, timeout: float = 30.0, *, carry: Any = None) -> Position:
        """Write one record durably; returns once it is fsync'd (grouped with others).

        ``carry`` travels with the record to ``on_durable`` (see :class:`Record`).
        """
        waiter = self._enqueue(payload, _Waiter(carry))
        assert waiter.done is not None
        if not waiter.done.wait(timeout):
            raise Unavailable(_TIMED_OUT, retry_after=2)
        return waiter.result()

    async def append_async(
        self, payload: bytes, timeout: float = 30.0, *, carry: Any = None
    ) -> Position:
        """``append`` for an event loop: the loop serves other requests while the group is
        fsync'd, and no thread is held waiting. The spool thread wakes each loop once per
        group, however many of its requests the group holds."""
        loop = asyncio.get_running_loop()
        durable: asyncio.Future[None] = loop.create_future()
        waiter = self._enqueue(payload, _Waiter(carry, durable))
        # A timer that fails the future, not asyncio.wait_for: that costs a task per request.
        timer = loop.call_later(timeout, _time_out, durable)
        try:
            await durable
        except TimeoutError:
            raise Unavailable(_TIMED_OUT, retry_after=2) from None
        finally:
            timer.cancel()
        return waiter.result()

    def _enqueue(self, payload: bytes, waiter: _Waiter) -> _Waiter:
        with self._lock:
            if self._closed:
                raise Unavailable("the spool is closed (server shutting down); retry shortly")
            self._queue.append((payload, waiter))
            self._lock.notify()
        return waiter

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
            try:
                self._write_group(group)
            except BaseException as exc:  # never leave callers waiting on a dead thread
                self._cut_back()
                self._release(group, exc)
                if not isinstance(exc, Exception):
                    raise

    def _write_group(self, group: list[tuple[bytes, _Waiter]]) -> None:
        records: list[Record] = []
        try:
            if self._file is None:  # a previous write failed: reopen the live segment
                self._file = open(self.folder / _segment_name(self._segment), "ab")  # noqa: SIM115
            if self._good_end >= self.segment_bytes:
                self._rotate()
            offset = self._good_end
            chunks = []
            for payload, waiter in group:
                chunk = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
                chunks.append(chunk)
                offset += len(chunk)
                waiter.end = Position(self._segment, offset)
                records.append(Record(payload, waiter.end, waiter.carry))
            if self.fault is not None:
                self.fault()
            self._file.write(b"".join(chunks))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._cut_back()
            self._release(group, exc)
            return
        self._good_end = offset
        if self.on_durable is not None:
            self.on_durable(records)
        self._release(group, None)

    @staticmethod
    def _release(group: list[tuple[bytes, _Waiter]], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, waiter in group:
            if error is not None:
                waiter.error = error
            if waiter.future is not None:
                by_loop.setdefault(waiter.future.get_loop(), []).append(waiter.future)
            elif waiter.done is not None:
                waiter.done.set()
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, futures)

    def _cut_back(self) -> None:
        """After a failed write or fsync (disk full, I/O error), drop the group's bytes.

        The live segment is truncated to the end of its last durable record; nothing is written
        (the disk may be full) and the file is reopened by the next group, so the spool heals by
        itself once the fault clears. Bytes that never reached an fsync were never acknowledged.
        """
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None
        live = self.folder / _segment_name(self._segment)
        with contextlib.suppress(OSError), open(live, "r+b") as f:
            f.truncate(self._good_end)
            os.fsync(f.fileno())

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._segment += 1
        self._good_end = 0
        self._file = open(self.folder / _segment_name(self._segment), "ab")  # noqa: SIM115
        _fsync_dir(self.folder)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=30)
        if self._file is not None:
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
        try:
            name.write_bytes(data)
        except OSError as exc:  # a full disk must not stop recovery: the bytes are reported
            name.unlink(missing_ok=True)
            self.recovered_problems.append(f"could not keep {len(data)} {kind} bytes: {exc}")

    def purge_applied(self) -> None:
        """Drop every segment the writer has applied, starting a fresh one (used by forget)."""
        with self._lock:
            cp = self.checkpoint()
            live = self.folder / _segment_name(self._segment)
            if cp.segment == self._segment and cp.offset >= live.stat().st_size:
                self._rotate()
                self.set_checkpoint(Position(self._segment, 0))
                for bad in self.folder.glob("torn-*.bin"):  # never acknowledged
                    bad.unlink()
