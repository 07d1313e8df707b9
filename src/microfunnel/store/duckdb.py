"""The embedded default engine: one DuckDB file per project.

One connection owns writes (the single writer); each reading thread gets its own cursor on the
same database instance, so reads never wait on a second process lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import numpy as np
import pyarrow as pa

from microfunnel.errors import StoreError
from microfunnel.events.model import Event, utcnow
from microfunnel.store.base import (
    EVENT_COLUMNS,
    EventCodes,
    InsertResult,
    QuarantineRecord,
    Store,
    events_to_arrow,
    quarantine_to_arrow,
)
from microfunnel.store.ddl import (
    DERIVED_COLUMNS,
    dictionary_insert_sql,
    duckdb_ddl,
    duckdb_migrations,
)
from microfunnel.store.idfilter import IdFilter, recent_guard
from microfunnel.store.jsonrows import ROWS_SQL
from microfunnel.store.personkeys import Persons

__all__ = ["DuckDBStore"]

_CHECKPOINT_THRESHOLD = "64MiB"

_COLS = ", ".join(EVENT_COLUMNS)
_ALL_COLS = ", ".join([*EVENT_COLUMNS, *DERIVED_COLUMNS])
# The person an incoming row ``b`` belongs to: its user, else the user its device merged into.
_RESOLVED = "coalesce(b.user_id, i.user_id, b.person_id)"
_IDENTITY_JOIN = "LEFT JOIN identities i ON i.anonymous_id = b.anonymous_id"
# ``_people`` is the batch's persons with their keys (see ``Persons.register``).
_CODES = (
    "JOIN event_names n ON n.name = b.event JOIN _people p ON p.person_id = {person}",
    "n.code AS event_code, p.person_key AS person_key",
)


_SELECTED = ", ".join(
    "b." + c if c != "person_id" else f"{_RESOLVED} AS person_id" for c in EVENT_COLUMNS
)
# A batch repeating an id keeps its earliest received row. A window over string ids costs more
# than the rest of the insert, so it runs only when the id hashes say an id repeats.
_FIRST_OF_EACH_ID = (
    "(SELECT * FROM _batch "
    "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at) = 1)"
)
_NOT_STORED = "NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = b.event_id)"
# One row per new event_id of ``{rows}``, its person resolved through identity merges, its codes
# from the dictionaries; ``{guard}`` says which ids are stored already.
_INSERT_SQL = f"""
INSERT INTO events ({_ALL_COLS})
SELECT {_SELECTED}, {_CODES[1]}
FROM {{rows}} b
{_IDENTITY_JOIN}
{_CODES[0].format(person=_RESOLVED)}
WHERE {{guard}}
"""


def _add_names(con: duckdb.DuckDBPyConnection, batch: str) -> None:
    """New event names of ``batch`` join their dictionary (inside the caller's transaction, so
    codes and rows commit together)."""
    con.execute(dictionary_insert_sql("event_names", "code", "name", f"SELECT event FROM {batch}"))


def _unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    with contextlib.suppress(duckdb.Error):
        con.unregister(name)


class DuckDBStore(Store, EventCodes):
    """Events in a DuckDB file (``":memory:"`` for a throwaway store).

    ``dedupe_window`` bounds the event_id check on ingest to events received that recently (the
    table is appended in receipt order, so zone maps skip older row groups); ``None`` checks the
    whole table. Bulk import and quarantine replay always check the whole table.
    """

    engine: ClassVar[str] = "duckdb"

    def __init__(self, path: str | Path, *, dedupe_window: timedelta | None = timedelta(days=7)):
        self.path = str(path)
        self.dedupe_window = dedupe_window
        try:
            self._con = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open the store {self.path}: {exc}. If a microfunnel server is running on "
                "this project, stop it or ask it over HTTP instead."
            ) from exc
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._ids = IdFilter()
        self._persons = Persons()
        # Times without an offset are UTC everywhere in the store, whatever the machine's zone.
        self._con.execute("SET TimeZone = 'UTC'")
        # Every commit still syncs its WAL. A checkpoint (the WAL's rows compressed into the
        # file) comes after 64 MiB of WAL, about 170k events, instead of DuckDB's 16 MiB: each
        # one recompresses the table's last row groups, and at 16 MiB they cost the writer
        # about 5 µs per event against 2. Replaying 64 MiB of WAL on open takes under a second.
        self._con.execute(f"SET checkpoint_threshold = '{_CHECKPOINT_THRESHOLD}'")
        threads = self._con.execute("SELECT current_setting('threads')").fetchone()
        self._threads = int(threads[0]) if threads else 1
        self._threads_lock = threading.Lock()
        self._parallel = True  # ``threads`` is ``_threads`` (DuckDB's default: the cores)
        self._readers = 0
        self._migrate()

    def _lower_threads(self) -> None:
        """DuckDB's worker threads off for the writer's inserts (under the write lock): on a
        batch of thousands of events they only add CPU (35% more at 2 threads), spinning for
        tasks. ``threads`` is the database's, so the writer lowers it only while no read is
        running, and leaves it low: reads raise it again (see :meth:`_reading`). Switching it
        back after every insert cost the writer more than its statements show (about 1.5 µs
        per event at 2 threads): each switch ends and starts DuckDB's threads, and their
        allocator returns its pages, which the next insert faults in again."""
        with self._threads_lock:
            if self._parallel and self._readers == 0:
                self._set_threads(self._con, 1)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A read runs with the database's threads, raising them again after an insert."""
        with self._threads_lock:
            if not self._parallel:
                self._set_threads(self._cursor(), self._threads)
            self._readers += 1
        try:
            yield
        finally:
            with self._threads_lock:
                self._readers -= 1

    def _set_threads(self, con: duckdb.DuckDBPyConnection, count: int) -> None:
        """(Under ``_threads_lock``, on the calling thread's connection: the writer's, under
        the write lock, or a reader's cursor; the setting is the database's either way.)"""
        con.execute(f"SET threads = {count}")
        self._parallel = count == self._threads

    def _migrate(self) -> None:
        """Create the tables; give a store made before the derived columns its codes."""
        con = self._con
        con.execute("BEGIN")
        try:
            for statement in duckdb_ddl():
                con.execute(statement)
            present = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() "
                    "WHERE table_name = 'events' AND schema_name = current_schema()"
                ).fetchall()
            }
            if not set(DERIVED_COLUMNS) <= present or con.execute(
                "SELECT count(*) FROM events WHERE "
                + " OR ".join(f"{c} IS NULL" for c in DERIVED_COLUMNS)
            ).fetchone() != (0,):
                for statement in duckdb_migrations():
                    con.execute(statement)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise StoreError(f"cannot prepare the store {self.path}: {exc}") from exc

    @property
    def dialect(self) -> Any:
        from microfunnel.query.dialect import DUCKDB

        return DUCKDB

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
        return cursor

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        try:
            with self._reading():
                relation = self._cursor().sql(sql, params=list(params or []))
                if relation is None:
                    return pa.table({})
                return relation.to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"query failed on DuckDB: {exc}") from exc

    def event_codes(self, names: Iterable[str]) -> dict[str, int]:
        table = self.query(
            "SELECT name, code FROM event_names WHERE list_contains(?, name)", [list(names)]
        )
        return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))

    def event_names(self) -> list[str]:
        # The dictionary holds the stored names (``forget`` prunes it): no scan of every event.
        table = self.query("SELECT name FROM event_names ORDER BY name")
        return [str(v) for v in table.column(0).to_pylist()]

    def insert_events(self, events: Sequence[Event]) -> InsertResult:
        if not events:
            return InsertResult(0, 0)
        return self._insert(events_to_arrow(events), self.dedupe_window)

    def insert_json(self, arrays: Sequence[bytes]) -> InsertResult:
        """JSON arrays of events (the spool's form) parsed by DuckDB straight into a temporary
        table, then inserted like :meth:`insert_events`; see :mod:`microfunnel.store.jsonrows`.
        No Python object per event, and no Arrow copy of the rows."""
        if not arrays:
            return InsertResult(0, 0)
        source = pa.table({"j": pa.array(arrays, pa.binary()).cast(pa.string())})
        with self._write_lock:
            self._lower_threads()
            con = self._con
            con.register("_json", source)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _batch AS {ROWS_SQL}")
            except duckdb.Error as exc:
                raise StoreError(f"DuckDB could not read spooled events: {exc}") from exc
            finally:
                con.unregister("_json")
            try:
                return self._insert_batch(con, self.dedupe_window)
            finally:
                con.execute("DROP TABLE IF EXISTS _batch")

    def insert_arrow(self, table: pa.Table) -> InsertResult:
        return self._insert(table, None)

    def _insert(self, batch: pa.Table, window: timedelta | None) -> InsertResult:
        if batch.num_rows == 0:
            return InsertResult(0, 0)
        with self._write_lock:
            con = self._con
            con.register("_batch", batch)
            try:
                return self._insert_batch(con, window)
            finally:
                con.unregister("_batch")

    def _insert_batch(
        self, con: duckdb.DuckDBPyConnection, window: timedelta | None
    ) -> InsertResult:
        """Insert the rows of ``_batch`` whose event_id is not stored yet (under the lock).

        With a ``window``, ids are looked up in the in-memory :class:`IdFilter` and only its
        "maybe" answers (retries, and the rare hash collision) are checked in the table, among
        events received within ``window`` before the batch; without one the whole table is
        checked (bulk import, quarantine replay). Every insert feeds the filter.
        """
        try:
            con.execute("BEGIN")
            hashes, first, last = self._batch_hashes(con)
            if window is None or first is None:  # (rows without a receipt time: tests)
                guard, params = _NOT_STORED, list[Any]()
            else:
                guard, params = recent_guard(con, self._ids, hashes, first - window)
            _add_names(con, "_batch")
            added = self._persons.register(con, "_batch", _RESOLVED, _IDENTITY_JOIN)
            repeats = len(np.unique(hashes)) < len(hashes)
            rows = _FIRST_OF_EACH_ID if repeats else "_batch"
            con.execute(_INSERT_SQL.format(rows=rows, guard=guard), params)
            inserted = con.fetchone()
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):  # the failure may have ended it already
                con.execute("ROLLBACK")
            raise StoreError(f"insert into DuckDB failed: {exc}") from exc
        finally:
            _unregister(con, "_people")
        self._persons.added(added)
        if self._ids.loaded and last is not None:
            self._ids.add(hashes, last)
            if self.dedupe_window is not None:
                self._ids.expire(last - self.dedupe_window)
        count = int(inserted[0]) if inserted else 0
        return InsertResult(count, len(hashes) - count)

    @staticmethod
    def _batch_hashes(
        con: duckdb.DuckDBPyConnection,
    ) -> tuple[Any, datetime | None, datetime | None]:
        """The batch's id hashes and its first and last receipt times."""
        table = con.sql(
            "SELECT hash(event_id) AS h, min(received_at) OVER () AS lo, "
            "max(received_at) OVER () AS hi FROM _batch"
        ).to_arrow_table()
        hashes = table.column("h").to_numpy()
        return hashes, table.column("lo")[0].as_py(), table.column("hi")[0].as_py()

    def bulk_load(self, table: pa.Table) -> int:
        """Append rows in the ``events`` layout as they are: no dedupe, no identity lookup,
        in the order given (rows grouped by person and time stay clustered that way; the
        funnel reads fastest from rows sorted by person and time). For trusted bulk loads
        (benchmarks, a store being rebuilt); use :meth:`insert_arrow` for anything that may
        repeat events."""
        if table.num_rows == 0:
            return 0
        order = pa.array(range(table.num_rows), pa.int64())
        bulk = table.select(list(EVENT_COLUMNS)).append_column("_rn", order)
        cols = ", ".join("b." + c for c in EVENT_COLUMNS)
        with self._write_lock:
            con = self._con
            con.register("_bulk", bulk)
            try:
                con.execute("BEGIN")
                _add_names(con, "_bulk")
                added = self._persons.register(con, "_bulk", "b.person_id")
                con.execute(
                    f"INSERT INTO events ({_ALL_COLS}) SELECT {cols}, {_CODES[1]} FROM _bulk b "
                    f"{_CODES[0].format(person='b.person_id')} ORDER BY b._rn"
                )
                con.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise StoreError(f"bulk load into DuckDB failed: {exc}") from exc
            finally:
                con.unregister("_bulk")
                _unregister(con, "_people")
            self._persons.added(added)
            self._ids = IdFilter(self._ids.capacity)  # reloaded, with these ids, when next used
        return table.num_rows

    def insert_quarantine(self, records: Sequence[QuarantineRecord]) -> int:
        if not records:
            return 0
        batch = quarantine_to_arrow(records)
        with self._write_lock:
            self._con.register("_qbatch", batch)
            try:
                self._con.execute(
                    """
                    INSERT INTO quarantine
                    SELECT * FROM _qbatch b
                    WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.event_id = b.event_id)
                    QUALIFY row_number() OVER (PARTITION BY b.event_id) = 1
                    """
                )
                row = self._con.fetchone()
            finally:
                self._con.unregister("_qbatch")
        return int(row[0]) if row else 0

    def merge_identity(self, anonymous_id: str, user_id: str) -> int:
        return self.merge_identities([(anonymous_id, user_id)])

    def merge_identities(self, pairs: Sequence[tuple[str, str]]) -> int:
        """All of a batch's merges in one transaction and one pass over ``events`` (each merge
        re-points an anonymous id's past events, and a pass per merge cost a scan of the
        table each). The first merge of an anonymous id wins, here and in the table."""
        first: dict[str, str] = {}
        for anonymous_id, user_id in pairs:
            first.setdefault(anonymous_id, user_id)
        if not first:
            return 0
        with self._write_lock:
            con = self._con
            known = dict(
                con.execute(
                    "SELECT anonymous_id, user_id FROM identities "
                    "WHERE list_contains(?, anonymous_id)",
                    [list(first)],
                ).fetchall()
            )
            merges = {a: u for a, u in first.items() if known.get(a, u) == u}
            if not merges:
                return 0
            now = utcnow().replace(tzinfo=None)
            table = pa.table(
                {
                    "anonymous_id": pa.array(list(merges), pa.string()),
                    "user_id": pa.array(list(merges.values()), pa.string()),
                    "new": pa.array([a not in known for a in merges]),
                }
            )
            con.register("_merges", table)
            try:
                con.execute("BEGIN")
                con.execute(
                    "INSERT INTO identities SELECT anonymous_id, user_id, ? FROM _merges WHERE new",
                    [now],
                )
                added = self._persons.register(con, "_merges", "b.user_id")
                row = self._repoint(con)
                con.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise StoreError(f"identity merge in DuckDB failed: {exc}") from exc
            finally:
                for name in ("_merges", "_people", "_anonymous"):
                    _unregister(con, name)
            self._persons.added(added)
        return int(row[0]) if row else 0

    def _repoint(self, con: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
        """Move the events of each anonymous id of ``_merges`` to its user (``_people`` holds
        the users' keys). Until then an anonymous id's events carry its own person key, and
        keys grow with time, so row groups older than its key are skipped by their zone maps:
        a merge reads the events since the id first came, not the whole table."""
        ids, _, _, keys = self._persons.known(con, "_merges", "b.anonymous_id")
        seen = keys > 0
        if not seen.any():  # no events of these anonymous ids yet
            return (0,)
        con.register(
            "_anonymous",
            pa.table({"anonymous_id": ids.filter(pa.array(seen)), "key": pa.array(keys[seen])}),
        )
        con.execute(
            "UPDATE events SET person_id = m.user_id, person_key = p.person_key "
            "FROM _merges m, _people p, _anonymous a WHERE p.person_id = m.user_id "
            "AND a.anonymous_id = m.anonymous_id AND events.person_key = a.key "
            "AND events.person_key >= ? AND events.anonymous_id = m.anonymous_id "
            "AND events.user_id IS NULL AND events.person_id <> m.user_id",
            [int(keys[seen].min())],
        )
        return con.fetchone()

    def forget(self, user_id: str) -> int:
        """Also drops the person's rows of the ``persons`` dictionary (they name people) and
        the event names no stored event uses any more (so ``event_names`` stays exact; a name
        seen again later gets a new code)."""
        with self._write_lock:
            con = self._con
            anon = [
                r[0]
                for r in con.execute(
                    "SELECT anonymous_id FROM identities WHERE user_id = ? UNION "
                    "SELECT DISTINCT anonymous_id FROM events WHERE user_id = ? "
                    "AND anonymous_id IS NOT NULL",
                    [user_id, user_id],
                ).fetchall()
            ]
            where = "user_id = ? OR person_id = ? OR list_contains(?, anonymous_id)"
            # Their person keys go with them: the dictionary names people too.
            people = [user_id, *anon] + [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT person_id FROM events WHERE {where}", [user_id, user_id, anon]
                ).fetchall()
            ]
            con.execute(f"DELETE FROM events WHERE {where}", [user_id, user_id, anon])
            row = con.fetchone()
            con.execute(
                "DELETE FROM persons WHERE list_contains(?, person_id) AND NOT EXISTS "
                "(SELECT 1 FROM events e WHERE e.person_id = persons.person_id)",
                [people],
            )
            con.execute(
                "DELETE FROM event_names WHERE code NOT IN (SELECT DISTINCT event_code FROM events)"
            )
            con.execute(
                "DELETE FROM quarantine WHERE user_id = ? OR list_contains(?, anonymous_id) "
                "OR contains(raw, ?)",
                [user_id, anon, f'"{user_id}"'],
            )
            con.execute("DELETE FROM identities WHERE user_id = ?", [user_id])
            con.execute("CHECKPOINT")
            self._persons.reset()  # its keys may be free again: read the table anew
        return int(row[0]) if row else 0

    def mark_replayed(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        with self._write_lock:
            self._con.execute(
                "UPDATE quarantine SET replayed_at = ? WHERE list_contains(?, event_id)",
                [utcnow().replace(tzinfo=None), list(event_ids)],
            )

    def checkpoint(self) -> None:
        with self._write_lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.close()
