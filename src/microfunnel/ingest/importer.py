"""``microfunnel import``: events from CSV, Parquet or JSON lines, through the collector's path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.progress import Progress

from microfunnel.errors import InputError
from microfunnel.events.formats.common import DecodedBatch, Rejected
from microfunnel.events.model import Event, correct_skew, utcnow
from microfunnel.ingest.pipeline import IngestResult
from microfunnel.ingest.runtime import Runtime

__all__ = ["import_file", "row_to_event"]

EVENT_FIELDS = {
    "event",
    "event_id",
    "anonymous_id",
    "user_id",
    "session_id",
    "timestamp",
    "sent_at",
}
CHUNK = 5_000


def row_to_event(row: dict[str, Any]) -> Event:
    """A flat row: Event fields as columns, ``properties``/``context`` as JSON or objects,
    any other column becomes a property."""
    props = row.get("properties") or {}
    ctx = row.get("context") or {}
    if isinstance(props, str):
        props = json.loads(props)
    if isinstance(ctx, str):
        ctx = json.loads(ctx)
    props = dict(props)
    for key, value in row.items():
        if key not in EVENT_FIELDS and key not in ("properties", "context") and value is not None:
            props.setdefault(key, value)
    data = {k: row[k] for k in EVENT_FIELDS if row.get(k) not in (None, "")}
    for k in ("event_id", "anonymous_id", "user_id", "session_id"):
        if k in data:
            data[k] = str(data[k])
    data["properties"] = props
    data["context"] = dict(ctx, source="import")
    return msgspec.convert(data, Event, strict=False)


def _rows(path: Path) -> Iterator[list[dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        for batch in pq.ParquetFile(path).iter_batches(CHUNK):
            yield batch.to_pylist()
    elif suffix == ".csv":
        table: pa.Table = pacsv.read_csv(path)
        for batch in table.to_batches(CHUNK):
            yield batch.to_pylist()
    elif suffix in (".jsonl", ".ndjson", ".json"):
        chunk: list[dict[str, Any]] = []
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    chunk.append(msgspec.json.decode(line))
                except msgspec.DecodeError as exc:
                    chunk.append(
                        {
                            "__unreadable__": line.decode("utf-8", "replace"),
                            "line": number,
                            "error": str(exc),
                        }
                    )
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk
    else:
        raise InputError(
            f"cannot import {path.name}: use a .csv, .parquet or .jsonl file", field="file"
        )


def _count(path: Path) -> int | None:
    if path.suffix.lower() in (".parquet", ".pq"):
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def import_file(runtime: Runtime, path: Path, *, progress: bool = True) -> IngestResult:
    """Import every row; rows that cannot become events go to quarantine with the reason."""
    if not path.exists():
        raise InputError(f"{path} does not exist", field="file")
    totals = [0, 0, 0]
    stored_before = runtime.writer.stored_events
    with Progress(disable=not progress) as bar:
        task = bar.add_task(f"importing {path.name}", total=_count(path))
        for rows in _rows(path):
            received = utcnow()
            events: list[Event] = []
            rejected: list[Rejected] = []
            for index, row in enumerate(rows):
                try:
                    if "__unreadable__" in row:
                        raise ValueError(f"line {row['line']} is not JSON: {row['error']}")
                    events.append(correct_skew(row_to_event(row), received))
                except (msgspec.ValidationError, ValueError, TypeError) as exc:
                    rejected.append(
                        Rejected(item=row, reasons=[f"row cannot be read: {exc}"], index=index)
                    )
            result = runtime.ingestor.ingest(DecodedBatch(events=events, rejected=rejected))
            totals[0] += result.accepted
            totals[1] += result.quarantined
            totals[2] += result.duplicates
            bar.advance(task, len(rows))
    runtime.writer.drain()
    stored = runtime.writer.stored_events - stored_before
    # events the store already had (an earlier import of the same file) are duplicates too
    return IngestResult(stored, totals[1], totals[2] + totals[0] - stored)
