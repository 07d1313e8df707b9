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

import numpy as np
import numpy.typing as npt

__all__ = ["PersonKeys"]

Hashes = npt.NDArray[np.uint64]
Keys = npt.NDArray[np.int64]


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
