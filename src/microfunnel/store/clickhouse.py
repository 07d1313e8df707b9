"""The scale-out engine: ClickHouse, on a server (clickhouse-connect) or in-process (chdb).

Both speak the same SQL; :class:`ClickHouseStore` only needs something that runs a statement with
named parameters and returns Arrow. Positional ``?`` parameters from the shared query builders are
rewritten to ClickHouse's typed ``{pN:Type}`` placeholders.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa
import pyarrow.compute

from microfunnel.errors import ConfigError, StoreError
from microfunnel.events.model import Event, utcnow
from microfunnel.store.base import (
    EVENT_COLUMNS,
    InsertResult,
    QuarantineRecord,
    Store,
    events_to_arrow,
    quarantine_to_arrow,
)
from microfunnel.store.ddl import clickhouse_ddl

__all__ = ["ClickHouseStore", "bind_params"]


class _Backend(Protocol):
    def run(self, sql: str, params: dict[str, Any]) -> pa.Table: ...
    def insert(self, table_name: str, data: pa.Table) -> None: ...
    def close(self) -> None: ...


def _ch_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, (list, tuple)):
        inner = _ch_type(value[0]) if value else "String"
        return f"Array({inner})"
    return "String"


def bind_params(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Rewrite ``?`` placeholders (outside quoted text) into ``{pN:Type}``."""
    out: list[str] = []
    named: dict[str, Any] = {}
    quote: str | None = None
    index = 0
    i = 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(sql):
                out.append(sql[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            out.append(ch)
        elif ch == "?":
            if index >= len(params):
                raise StoreError("query has more ? placeholders than parameters")
            value = params[index]
            if isinstance(value, datetime):
                value = value.replace(tzinfo=None)
            name = f"p{index}"
            named[name] = list(value) if isinstance(value, tuple) else value
            out.append(f"{{{name}:{_ch_type(value)}}}")
            index += 1
        else:
            out.append(ch)
        i += 1
    if index != len(params):
        raise StoreError("query has fewer ? placeholders than parameters")
    return "".join(out), named


def _ch_text(value: Any, nested: bool = False) -> str:
    """A parameter in ClickHouse's text form (chdb takes parameters as text)."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_ch_text(v, True) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = value.replace(tzinfo=None).isoformat(sep=" ")
    elif isinstance(value, (int, float)):
        return repr(value)
    else:
        text = str(value)
    if nested:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


class _Embedded:
    """chdb runs one embedded ClickHouse per process, at one folder. Every chdb store of the
    process shares it, each in its own database; the first store opened picks the folder."""

    lock = threading.RLock()
    session: Any = None
    path: str | None = None
    users = 0

    @classmethod
    def acquire(cls, path: str) -> Any:
        try:
            from chdb import session
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ConfigError(
                "the ClickHouse engine needs chdb: pip install 'microfunnel[clickhouse]'"
            ) from exc
        with cls.lock:
            if cls.session is None:
                cls.session = session.Session(path)
                cls.path = path
            cls.users += 1
            return cls.session

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if cls.users == 0 and cls.session is not None:
                cls.session.close()
                cls.session = None
                cls.path = None


class _ChdbBackend:
    """chdb: ClickHouse in-process. The store's tables live in a database named after its
    folder, so several stores can be open in one process."""

    def __init__(self, path: str):
        self._session = _Embedded.acquire(path)
        resolved = str(Path(path).resolve())
        self.database = "mf_" + hashlib.sha1(resolved.encode()).hexdigest()[:16]
        with _Embedded.lock:
            self._session.query(f"CREATE DATABASE IF NOT EXISTS {self.database}")

    def run(self, sql: str, params: dict[str, Any], data: pa.Table | None = None) -> pa.Table:
        """Run ``sql``; ``data``, if given, is readable in it as ``Python(_arrow_batch)``."""
        text = {k: _ch_text(v) for k, v in params.items()}
        with _Embedded.lock:
            self._session.query(f"USE {self.database}")
            _arrow_batch = data  # chdb's Python() table function reads it by name
            result = self._session.query(sql, "ArrowStream", params=text or None)
            del _arrow_batch
        data = result.bytes()
        if not data:
            return pa.table({})
        return pa.ipc.open_stream(io.BytesIO(data)).read_all()

    def insert(self, table_name: str, data: pa.Table) -> None:
        with _Embedded.lock:
            self._session.query(f"USE {self.database}")
            _arrow_batch = data  # chdb's Python() table function reads it by name
            self._session.query(f"INSERT INTO {table_name} SELECT * FROM Python(_arrow_batch)")

    def close(self) -> None:
        _Embedded.release()


class _ServerBackend:
    """A ClickHouse server through clickhouse-connect."""

    def __init__(self, url: str):
        try:
            import clickhouse_connect
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ConfigError(
                "the ClickHouse engine needs clickhouse-connect: "
                "pip install 'microfunnel[clickhouse]'"
            ) from exc
        self._client = clickhouse_connect.get_client(dsn=url)

    def run(self, sql: str, params: dict[str, Any]) -> pa.Table:
        return self._client.query_arrow(sql, parameters=params)

    def insert(self, table_name: str, data: pa.Table) -> None:
        self._client.insert_arrow(table_name, data)

    def close(self) -> None:
        self._client.close()


IMPORT_SLICE = 100_000


class ClickHouseStore(Store):
    """Events in ClickHouse: ``target`` is a folder (chdb, in-process) or a server URL."""

    engine: ClassVar[str] = "clickhouse"

    def __init__(self, target: str | Path, *, dedupe_window: timedelta | None = timedelta(days=7)):
        target = str(target)
        self.dedupe_window = dedupe_window
        self._backend: _Backend = (
            _ServerBackend(target)
            if target.startswith(("clickhouse://", "http://", "https://"))
            else _ChdbBackend(target)
        )
        self._write_lock = threading.Lock()
        for statement in clickhouse_ddl():
            self._run(statement)

    @property
    def dialect(self) -> Any:
        from microfunnel.query.dialect import CLICKHOUSE

        return CLICKHOUSE

    def _run(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        text, named = bind_params(sql, list(params or []))
        try:
            return self._backend.run(text, named)
        except Exception as exc:  # chdb raises RuntimeError, the client its own types
            raise StoreError(f"query failed on ClickHouse: {exc}") from exc

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self._run(sql, params)

    def _existing(
        self, table: str, ids: list[str], window: timedelta | None, since: datetime | None = None
    ) -> set[str]:
        if not ids:
            return set()
        recent = ""
        params: list[Any] = []
        if window is not None and since is not None:
            recent = " AND received_at >= ?"
            params.append(since - window)
        if isinstance(self._backend, _ChdbBackend):
            # A set-based semi-join against the ids as a table: linear, where `IN [array]`
            # is checked element by element.
            text, named = bind_params(
                f"SELECT DISTINCT event_id FROM {table} "
                f"WHERE event_id IN (SELECT event_id FROM Python(_arrow_batch)){recent}",
                params,
            )
            found = self._backend.run(text, named, pa.table({"event_id": ids}))
        else:
            found = self._run(
                f"SELECT DISTINCT event_id FROM {table} WHERE event_id IN ?{recent}", [ids, *params]
            )
        return set(found.column(0).to_pylist()) if found.num_rows else set()

    def _insert(self, batch: pa.Table, window: timedelta | None) -> InsertResult:
        total = batch.num_rows
        if total == 0:
            return InsertResult(0, 0)
        with self._write_lock:
            ids = batch.column("event_id").to_pylist()
            since = pa.compute.min(batch.column("received_at")).as_py()
            seen = self._existing("events", list(set(ids)), window, since)
            keep = []
            for i, eid in enumerate(ids):
                if eid not in seen:
                    seen.add(eid)
                    keep.append(i)
            if not keep:
                return InsertResult(0, total)
            fresh = batch.take(pa.array(keep))
            anon = [a for a in set(fresh.column("anonymous_id").to_pylist()) if a]
            if anon:
                mapping = self._identity_map(anon)
                if mapping:
                    person = [
                        u if u else mapping.get(a, p) if a else p
                        for u, a, p in zip(
                            fresh.column("user_id").to_pylist(),
                            fresh.column("anonymous_id").to_pylist(),
                            fresh.column("person_id").to_pylist(),
                            strict=True,
                        )
                    ]
                    fresh = fresh.set_column(
                        fresh.schema.get_field_index("person_id"), "person_id", pa.array(person)
                    )
            self._backend.insert("events", fresh.select(list(EVENT_COLUMNS)))
        return InsertResult(len(keep), total - len(keep))

    def _identity_map(self, anon: list[str]) -> dict[str, str]:
        rows = self._run(
            "SELECT anonymous_id, argMin(user_id, created_at) FROM identities "
            "WHERE anonymous_id IN ? GROUP BY anonymous_id",
            [anon],
        )
        return dict(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True))

    def insert_events(self, events: Sequence[Event]) -> InsertResult:
        if not events:
            return InsertResult(0, 0)
        return self._insert(events_to_arrow(events), self.dedupe_window)

    def insert_arrow(self, table: pa.Table) -> InsertResult:
        # The dedupe lookup sends the batch's ids as one parameter: keep it well under
        # ClickHouse's limits by importing in slices.
        inserted = duplicates = 0
        for start in range(0, table.num_rows, IMPORT_SLICE):
            part = self._insert(table.slice(start, IMPORT_SLICE), None)
            inserted += part.inserted
            duplicates += part.duplicates
        return InsertResult(inserted, duplicates)

    def bulk_load(self, table: pa.Table) -> int:
        """Append rows in the ``events`` layout as they are: no dedupe, no identity lookup.
        For trusted bulk loads (benchmarks, a store being rebuilt); use :meth:`insert_arrow`
        for anything that may repeat events."""
        with self._write_lock:
            self._backend.insert("events", table.select(list(EVENT_COLUMNS)))
        return table.num_rows

    def insert_quarantine(self, records: Sequence[QuarantineRecord]) -> int:
        if not records:
            return 0
        batch = quarantine_to_arrow(records)
        with self._write_lock:
            ids = batch.column("event_id").to_pylist()
            seen = self._existing("quarantine", list(set(ids)), None)
            keep = []
            for i, eid in enumerate(ids):
                if eid not in seen:
                    seen.add(eid)
                    keep.append(i)
            if keep:
                self._backend.insert("quarantine", batch.take(pa.array(keep)))
        return len(keep)

    def _mutate(self, sql: str, params: Sequence[Any]) -> None:
        self._run(sql + " SETTINGS mutations_sync = 2", params)

    def merge_identity(self, anonymous_id: str, user_id: str) -> int:
        with self._write_lock:
            known = self._identity_map([anonymous_id])
            if anonymous_id in known and known[anonymous_id] != user_id:
                return 0
            if anonymous_id not in known:
                self._backend.insert(
                    "identities",
                    pa.table(
                        {
                            "anonymous_id": [anonymous_id],
                            "user_id": [user_id],
                            "created_at": pa.array(
                                [utcnow().replace(tzinfo=None)], pa.timestamp("us")
                            ),
                        }
                    ),
                )
            where = "anonymous_id = ? AND user_id IS NULL AND person_id != ?"
            changed = int(
                self._run(f"SELECT count() FROM events WHERE {where}", [anonymous_id, user_id])
                .column(0)[0]
                .as_py()
            )
            if changed:
                # Devices are the sorting key, so a person merge is an in-place update.
                self._mutate(
                    f"ALTER TABLE events UPDATE person_id = ? WHERE {where}",
                    [user_id, anonymous_id, user_id],
                )
        return changed

    def forget(self, user_id: str) -> int:
        with self._write_lock:
            anon_rows = self._run(
                "SELECT anonymous_id FROM identities WHERE user_id = ? UNION DISTINCT "
                "SELECT DISTINCT assumeNotNull(anonymous_id) FROM events WHERE user_id = ? "
                "AND anonymous_id IS NOT NULL",
                [user_id, user_id],
            )
            anon = [a for a in anon_rows.column(0).to_pylist() if a] if anon_rows.num_rows else []
            where = "user_id = ? OR person_id = ? OR has(?, anonymous_id)"
            params: list[Any] = [user_id, user_id, anon]
            n = int(
                self._run(f"SELECT count() FROM events WHERE {where}", params).column(0)[0].as_py()
            )
            self._mutate(f"ALTER TABLE events DELETE WHERE {where}", params)
            self._mutate(
                "ALTER TABLE quarantine DELETE WHERE user_id = ? OR has(?, anonymous_id) "
                "OR position(raw, ?) > 0",
                [user_id, anon, f'"{user_id}"'],
            )
            self._mutate("ALTER TABLE identities DELETE WHERE user_id = ?", [user_id])
        return n

    def mark_replayed(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            with self._write_lock:
                self._mutate(
                    "ALTER TABLE quarantine UPDATE replayed_at = ? WHERE has(?, event_id)",
                    [utcnow(), list(event_ids)],
                )

    def close(self) -> None:
        self._backend.close()
