"""The ``persons`` dictionary (person id -> dense ``person_key``) in memory, for the writer.

Each insert used to find its persons' keys by joining its batch against the whole ``persons``
table, twice (once to add the new persons, once to take the keys): at 2M persons that was about
0.5 s of CPU per batch, so a shop's writer slowed with every new visitor it ever had.
:class:`PersonKeys` keeps two 64-bit hashes of every person id (DuckDB's ``hash`` of the id and
of the id reversed, so that the two do not share a collision) with its key, as sorted numpy runs
(a log-structured merge, like :class:`~microfunnel.store.idfilter.IdFilter`), so a batch's
persons are looked up with a binary search per run, whatever the table holds. Reading the map
when the first insert needs it takes about 0.2 s of CPU per 2M persons.

A person whose first hash is absent is new, certainly (every stored person is here). A person
whose two hashes both match has that key: two different ids agreeing on both is far less likely
than a memory fault. When only the first matches, the store asks the table. 24 bytes per
person: 2M persons take 48 MB.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["PersonKeys", "Persons"]

Hashes = npt.NDArray[np.uint64]
Keys = npt.NDArray[np.int64]
# Persons a transaction added to ``persons``: their two hashes and keys.
Added = tuple[Hashes, Hashes, Keys]

# The distinct persons of ``{rows}``, in order of first appearance, with two hashes each.
_PEOPLE_SQL = (
    "SELECT v, hash(v) AS h, hash(reverse(v)) AS h2 FROM (SELECT v, min(f) AS f FROM "
    "(SELECT {person} AS v, row_number() OVER () AS f FROM {rows} b {join}) "
    "WHERE v IS NOT NULL GROUP BY v) ORDER BY f"
)


class Persons:
    """A DuckDB store's ``persons`` dictionary as its writer uses it, under the store's write
    lock: the map is read from the table when first needed, and learns what each committed
    transaction added."""

    def __init__(self) -> None:
        self._map: PersonKeys | None = None

    def reset(self) -> None:
        """Read the table again when next needed (after persons were deleted)."""
        self._map = None

    def register(
        self, con: duckdb.DuckDBPyConnection, rows: str, person: str, join: str = ""
    ) -> Added:
        """Register ``_people``: each person of ``rows`` (the SQL ``person`` of row ``b``)
        with its key, adding the new ones to ``persons`` (in the caller's transaction) with
        keys numbered on in order of first appearance. The caller hands what was added to
        :meth:`added` once it has committed."""
        ids, hashes, seconds, keys = self.known(con, rows, person, join)
        known = self._keys(con)
        new = keys == 0
        keys[new] = np.arange(known.next_key, known.next_key + int(new.sum()), dtype=np.int64)
        people = pa.table({"person_id": ids, "person_key": pa.array(keys)})
        if new.any():
            con.register("_new_people", people.filter(pa.array(new)))
            try:
                con.execute(
                    "INSERT INTO persons (person_key, person_id) "
                    "SELECT person_key, person_id FROM _new_people"
                )
            finally:
                con.unregister("_new_people")
        con.register("_people", people)
        return hashes[new], seconds[new], keys[new]

    def known(
        self, con: duckdb.DuckDBPyConnection, rows: str, person: str, join: str = ""
    ) -> tuple[pa.ChunkedArray, Hashes, Hashes, Keys]:
        """The distinct persons of ``rows`` in order of first appearance, their two hashes,
        and their keys (0 for persons not in ``persons``)."""
        found = con.sql(_PEOPLE_SQL.format(person=person, rows=rows, join=join)).to_arrow_table()
        ids = found.column("v")
        hashes = found.column("h").to_numpy()
        seconds = found.column("h2").to_numpy()
        keys, unsure = self._keys(con).lookup(hashes, seconds)
        if unsure.any():  # a first-hash match with another second hash: the table tells
            asked = ids.filter(pa.array(unsure)).to_pylist()
            stored: dict[str, Any] = dict(
                con.execute(
                    "SELECT person_id, person_key FROM persons WHERE list_contains(?, person_id)",
                    [asked],
                ).fetchall()
            )
            for at in np.flatnonzero(unsure):
                keys[at] = stored.get(ids[int(at)].as_py(), 0)
        return ids, hashes, seconds, keys

    def added(self, added: Added) -> None:
        """What a transaction added, now that it is committed."""
        if self._map is not None:
            self._map.add(*added)

    def _keys(self, con: duckdb.DuckDBPyConnection) -> PersonKeys:
        if self._map is None:
            table = con.sql(
                "SELECT hash(person_id) AS h, hash(reverse(person_id)) AS h2, person_key "
                "FROM persons"
            ).to_arrow_table()
            self._map = PersonKeys(
                table.column("h").to_numpy(),
                table.column("h2").to_numpy(),
                table.column("person_key").to_numpy().astype(np.int64),
            )
        return self._map


class PersonKeys:
    """Sorted runs of ``(hash, second hash, key)``; ``next_key`` is the next free key."""

    def __init__(self, hashes: Hashes, seconds: Hashes, keys: Keys):
        self.next_key = int(keys.max()) + 1 if len(keys) else 1
        self._runs: list[_Run] = [_Run(hashes, seconds, keys)] if len(keys) else []

    def __len__(self) -> int:
        return sum(len(run.hashes) for run in self._runs)

    def lookup(self, hashes: Hashes, seconds: Hashes) -> tuple[Keys, npt.NDArray[np.bool_]]:
        """Each person's key (0 where absent), and where the first hash matched a different
        second one (the caller must ask the table about those)."""
        keys = np.zeros(len(hashes), dtype=np.int64)
        unsure = np.zeros(len(hashes), dtype=bool)
        for run in self._runs:
            at = np.searchsorted(run.hashes, hashes)
            at[at == len(run.hashes)] = max(len(run.hashes) - 1, 0)
            first = run.hashes[at] == hashes
            both = first & (run.seconds[at] == seconds)
            keys[both] = run.keys[at[both]]
            unsure |= first & ~both
        unsure &= keys == 0
        return keys, unsure

    def add(self, hashes: Hashes, seconds: Hashes, keys: Keys) -> None:
        """Remember persons that are now in the table (after their commit)."""
        if not len(keys):
            return
        self.next_key = max(self.next_key, int(keys.max()) + 1)
        runs = self._runs
        runs.append(_Run(hashes, seconds, keys))
        while len(runs) > 1 and len(runs[-2].hashes) <= 2 * len(runs[-1].hashes):
            late, early = runs.pop(), runs.pop()
            runs.append(early.merged(late))


class _Run:
    __slots__ = ("hashes", "keys", "seconds")

    def __init__(self, hashes: Hashes, seconds: Hashes, keys: Keys):
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.seconds = seconds[order]
        self.keys = keys[order]

    def merged(self, later: _Run) -> _Run:
        return _Run(
            np.concatenate((self.hashes, later.hashes)),
            np.concatenate((self.seconds, later.seconds)),
            np.concatenate((self.keys, later.keys)),
        )
