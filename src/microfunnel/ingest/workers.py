"""Preparation workers: decoding, privacy, validation and encoding in other processes.

One Python process runs one thread of Python at a time, and the collector's event loop spent
most of that time preparing events (decode, privacy, plan, sessions, encode), so a server used
little more than one core. With workers, the event loop reads the request, hands the raw body to
a worker process and awaits the prepared spool record; it then appends that record to the spool
(fsync'd before the answer, as ever) and answers. The worker keeps the project's plan (re-read
when the file changes), privacy settings and sessionizer.

Requests go to a worker chosen by the client's connection, so one client's batches meet one
sessionizer (sessions derived from inactivity need every event of a person in one place; with
more than one worker, a person whose events arrive over several connections at once may see
derived sessions split). Each worker has one socket pair; frames are ``u32 length + msgpack``.

A worker that dies fails its pending requests with 503 and Retry-After (nothing is answered 200
that is not in the spool) and is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import io
import logging
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from microfunnel.errors import MicrofunnelError, PayloadTooLarge, Unavailable
from microfunnel.events.privacy import truncate_ip

__all__ = [
    "PrepareReply",
    "PrepareRequest",
    "Workers",
    "decoder_name",
    "fill_request_context",
    "tune_gc",
]

log = logging.getLogger("microfunnel.workers")

_FRAME = struct.Struct("<I")
# An event time this far after receipt is a broken client clock (with no ``sent_at`` to correct
# it): the event is kept at its receipt time, with the time as sent in context.
FUTURE_LIMIT = timedelta(days=1)
_REPLY_TIMEOUT = 30.0
_PLAN_CHECK_SECONDS = 1.0
_TOO_DEEP = "the body nests arrays or objects too deeply to decode: flatten the payload"
_UNEXPECTED = "unexpected server error; it has been logged"


class PrepareRequest(msgspec.Struct, array_like=True):
    id: int
    decoder: str  # "module:function" of a wire-format decoder
    body: bytes
    encoding: str | None
    content_type: str | None
    query: dict[str, str]
    received_us: int
    ip: str | None


class PrepareReply(msgspec.Struct, array_like=True):
    id: int
    payload: bytes | None = None  # the spool record (None: nothing to spool)
    ids: list[str] = []  # accepted events, in order
    quarantined: list[str] = []  # ids of the quarantined items
    duplicates: int = 0
    key: str | None = None  # a write key found in the body
    error: tuple[str, int, str, str | None] | None = None  # class, status, message, field


def decoder_name(decoder: Callable[..., Any]) -> str | None:
    """How a worker finds ``decoder`` (None for closures, which only the server can run)."""
    qualname = getattr(decoder, "__qualname__", "")
    if "<locals>" in qualname or not getattr(decoder, "__module__", None):
        return None
    return f"{decoder.__module__}:{qualname}"


def fill_request_context(events: list[Any], ip: str | None, received: datetime) -> None:
    """Where a client sent no IP, take the request's (before privacy truncates); clamp times
    more than ``FUTURE_LIMIT`` after receipt to the receipt time, keeping the time as sent."""
    latest = received + FUTURE_LIMIT
    for event in events:
        ctx = event.context
        if "ip" not in ctx and ip:
            ctx["ip"] = ip
        if event.timestamp is not None and event.timestamp > latest:
            ctx["timestamp_as_sent"] = event.timestamp.isoformat()
            event.timestamp = received


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _from_micros(us: int) -> datetime:
    return _EPOCH + us * _MICROSECOND


# --- the worker process -------------------------------------------------------------------------


def _read_exact(stream: io.BufferedReader[socket.SocketIO], size: int) -> bytes | None:
    """``size`` bytes, or None once the server has closed the socket."""
    data = stream.read(size)
    return data if len(data) == size else None


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a collector process (the server and each
    preparation worker).

    Ingestion allocates a dozen container objects per event and frees them by reference count
    (events hold no cycles), yet each allocation burst makes the cyclic collector walk the
    young objects, and now and then every object alive, the imported code included.
    Everything alive at start-up is moved out of its sight once, and young collections run
    every 50,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _serve(sock: socket.socket, project_path: str) -> None:
    """The worker's loop: one request at a time until the server closes the socket."""
    from microfunnel.config import Project
    from microfunnel.events.formats.common import decompress
    from microfunnel.events.plan import TrackingPlan
    from microfunnel.ingest.pipeline import Ingestor, RecentIds
    from microfunnel.ingest.runtime import make_privacy, make_sessionizer

    project = Project(project_path)
    settings = project.settings
    plan_path = project.plan_path
    plan_stamp = plan_path.stat().st_mtime_ns
    checked = time.monotonic()
    # Only repeats inside one request are duplicates here; the server remembers accepted ids.
    ingestor = Ingestor(
        TrackingPlan.load(plan_path),
        make_privacy(project),
        spool=None,  # prepare() only: the server spools
        sessionize=make_sessionizer(project),
        recent=RecentIds(capacity=0),
    )
    decoders: dict[str, Callable[..., Any]] = {}
    request_decoder = msgspec.msgpack.Decoder(PrepareRequest)
    encode = msgspec.msgpack.Encoder().encode
    # Buffered: one receive usually brings a frame's length and body (and any frames queued
    # behind it), where reading them apart took a system call each.
    stream = io.BufferedReader(socket.SocketIO(sock, "rb"), buffer_size=1 << 20)
    tune_gc()
    while True:
        head = _read_exact(stream, _FRAME.size)
        if head is None:
            return
        frame = _read_exact(stream, _FRAME.unpack(head)[0])
        if frame is None:
            return
        request = request_decoder.decode(frame)
        if time.monotonic() - checked > _PLAN_CHECK_SECONDS:
            checked = time.monotonic()
            stamp = plan_path.stat().st_mtime_ns
            if stamp != plan_stamp:
                plan_stamp = stamp
                ingestor.plan = TrackingPlan.load(plan_path)
        try:
            decoder = decoders.get(request.decoder)
            if decoder is None:
                module, _, name = request.decoder.partition(":")
                decoder = decoders[request.decoder] = getattr(importlib.import_module(module), name)
            reply = _prepare(request, decoder, ingestor, settings, decompress)
        except MicrofunnelError as exc:
            reply = PrepareReply(
                request.id, error=(type(exc).__name__, exc.status, exc.message, exc.field)
            )
        except RecursionError:  # only hostile input nests this deep (as the server answers it)
            reply = PrepareReply(request.id, error=("DecodeError", 400, _TOO_DEEP, None))
        except Exception:
            log.exception("unexpected error preparing a batch")
            reply = PrepareReply(request.id, error=("MicrofunnelError", 500, _UNEXPECTED, None))
        out = encode(reply)
        sock.sendall(_FRAME.pack(len(out)) + out)


def _prepare(
    request: PrepareRequest,
    decoder: Callable[..., Any],
    ingestor: Any,
    settings: Any,
    decompress: Callable[..., bytes],
) -> PrepareReply:
    received = _from_micros(request.received_us)
    body = decompress(request.body, request.encoding, limit=settings.max_body_bytes)
    decoded = decoder(
        body, content_type=request.content_type, query=request.query, received_at=received
    )
    size = len(decoded.events) + len(decoded.rejected)
    if size > settings.max_batch_events:
        raise PayloadTooLarge(
            f"batch of {size} events is over the limit of {settings.max_batch_events}: "
            "split it into smaller batches",
            field="batch",
        )
    ip = request.ip
    if ip and ingestor.privacy.truncate_ip:
        # What privacy would leave of it, once per request: it then finds every event's IP
        # already truncated, and copies no context to change it.
        ip = truncate_ip(ip)
    fill_request_context(decoded.events, ip, received)
    work = ingestor.prepare(decoded)
    batch = work.batch
    return PrepareReply(
        request.id,
        payload=work.payload,
        ids=[e.event_id for e in batch.events],
        quarantined=[q.event_id for q in batch.quarantine],
        duplicates=work.duplicates,
        key=decoded.key,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m microfunnel.ingest.workers FD PROJECT``: serve the socket inherited as FD."""
    fd, project_path = (argv if argv is not None else sys.argv[1:])[:2]
    sock = socket.socket(fileno=int(fd))
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        _serve(sock, project_path)


# --- the server side ----------------------------------------------------------------------------


class _Worker:
    """One worker process and the server's end of its socket pair.

    The process is a fresh interpreter (not a fork of a server that runs threads) that imports
    only what preparing needs, so it starts in well under a second.
    """

    def __init__(self, project_path: Path):
        self.project_path = project_path
        mine, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "microfunnel.ingest.workers",
                str(theirs.fileno()),
                str(project_path),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.sock = mine
        self.pending: dict[int, asyncio.Future[PrepareReply]] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def connect(self) -> None:
        reader, self.writer = await asyncio.open_connection(sock=self.sock)
        self.reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = msgspec.msgpack.Decoder(PrepareReply)
        try:
            while True:
                head = await reader.readexactly(_FRAME.size)
                reply = decoder.decode(await reader.readexactly(_FRAME.unpack(head)[0]))
                future = self.pending.pop(reply.id, None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.fail_pending()

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(
                    Unavailable("the event preparation worker stopped; retry in a moment")
                )
        self.pending.clear()

    @property
    def alive(self) -> bool:
        """Its reader still runs: a worker's death closes its socket, which ends the reader
        (asked per request, so no ``waitpid`` system call here)."""
        task = self.reader_task
        return task is not None and not task.done()

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.process.wait(timeout=5)  # it ends when its socket closes
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class Workers:
    """``count`` preparation workers for one project, each started by the first request it
    gets (a server that is only read from starts none)."""

    def __init__(self, project_path: Path, count: int):
        self.project_path = project_path
        self.count = count
        self._workers: list[_Worker | None] = [None] * count
        self._next_id = 0
        self._encode = msgspec.msgpack.Encoder().encode

    async def _worker(self, slot: int) -> _Worker:
        """The worker of ``slot``, connected to this event loop; a dead one is replaced."""
        worker = self._workers[slot]
        if worker is not None and worker.reader_task is not None and not worker.alive:
            log.warning("preparation worker %d stopped; starting a new one", slot)
            worker.close()
            worker = None
        if worker is None:
            worker = self._workers[slot] = _Worker(self.project_path)
        async with worker.lock:
            if worker.reader_task is None:
                await worker.connect()
        return worker

    async def prepare(
        self,
        *,
        route: int,
        decoder: str,
        body: bytes,
        encoding: str | None,
        content_type: str | None,
        query: dict[str, str],
        received: datetime,
        ip: str | None,
    ) -> PrepareReply:
        """Prepare one request in the worker ``route`` picks; errors come back raised."""
        worker = await self._worker(route % self.count)
        self._next_id += 1
        request = PrepareRequest(
            self._next_id, decoder, body, encoding, content_type, query, _micros(received), ip
        )
        frame = self._encode(request)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PrepareReply] = loop.create_future()
        worker.pending[request.id] = future
        assert worker.writer is not None
        timer = None
        try:
            worker.writer.write(_FRAME.pack(len(frame)) + frame)
            await worker.writer.drain()
            # A timer that fails the future, not asyncio.wait_for: that costs a task per request.
            timer = loop.call_later(_REPLY_TIMEOUT, _time_out, future)
            reply = await future
        except TimeoutError:  # before OSError, of which it is a subclass
            worker.pending.pop(request.id, None)
            raise Unavailable("event preparation took too long; retry in a moment") from None
        except (ConnectionError, OSError):
            worker.pending.pop(request.id, None)
            raise Unavailable("the event preparation worker is not answering; retry") from None
        finally:
            if timer is not None:
                timer.cancel()
        if reply.error is not None:
            raise _error(reply.error)
        return reply

    def close(self) -> None:
        for worker in self._workers:
            if worker is not None:
                worker.close()
        self._workers = [None] * self.count


def _time_out(future: asyncio.Future[PrepareReply]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _error(error: tuple[str, int, str, str | None]) -> MicrofunnelError:
    """The worker's error as the same class, status, message and field."""
    import microfunnel.errors as errors

    name, status, message, field = error
    kind = getattr(errors, name, None)
    if not (isinstance(kind, type) and issubclass(kind, MicrofunnelError)):
        kind = MicrofunnelError
    return kind(message, field=field, status=status)


if __name__ == "__main__":
    main()
