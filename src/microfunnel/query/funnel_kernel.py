"""The counts-only fast path for ordered funnels: one plain read, then whole-array numpy.

It answers what the level chain (``microfunnel.query.funnel``) answers when only counts are
asked of an ordered funnel with one window, no hold and no per-step windows, per person, on a
store with integer codes. The chain sorts the rows it carries once per level, and finding in the
engine who has a second step (a join, then an aggregate per person for the others) costs as much
again; here the engine only scans the funnel's step rows (no join, no sort, no aggregate) and
numpy does the rest, never looping over events in Python:

1. Persons with a step-1 event are flagged (``person_key`` is a dense dictionary code, so
   per-person state is an array indexed by it). Everyone else stops at the first step, in the
   segment of their first step-0 event (a minimum per person).
2. The flagged persons' rows (a third of the step rows in the simulated shop) are put in
   ``(person, time, step)`` order. A store clustered by person and time (DESIGN.md) returns them
   so already; rows read in time order need a stable sort by person; only persons whose rows
   still disagree are sorted on all three keys.
3. Level by level, a step-``k`` row extends the latest level ``k - 1`` row of its person
   before it if that chain started within the window. Starts only grow along a person's
   timeline, so the latest predecessor is the best one, exactly as in ClickHouse
   ``windowFunnel`` and in the chain. A person counts at the furthest level, in the segment of
   the first chain to get there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from microfunnel.query.conditions import Params
from microfunnel.query.dialect import Dialect
from microfunnel.query.funnel import NONE_SEGMENT, FunnelSpec, events_cte
from microfunnel.query.segments import OTHER

__all__ = ["kernel_counts", "kernel_sql"]

Ints = npt.NDArray[np.signedinteger[Any]]
Levels = npt.NDArray[np.int8]
Mask = npt.NDArray[np.bool_]


def kernel_sql(spec: FunnelSpec, d: Dialect) -> tuple[str, list[object]]:
    """The funnel's step rows (``u, ts, o, g``), in whatever order the store keeps them."""
    p = Params()
    ev = events_cte(spec, d, p, all_events=False)
    return f"SELECT u, ts, CAST(o AS TINYINT) AS o, g FROM ({ev}) ev", p.values


@dataclass(frozen=True)
class _Rows:
    """Step rows as arrays: person, time (us), ``o = 2k`` for step ``k``, segment code."""

    u: Ints
    ts: Ints
    o: Ints
    g: Ints

    def take(self, index: Ints) -> _Rows:
        return _Rows(self.u[index], self.ts[index], self.o[index], self.g[index])


def kernel_counts(spec: FunnelSpec, table: pa.Table) -> pa.Table:
    """The funnel's rows from :func:`kernel_sql`'s answer, shaped as ``compile_funnel``'s:
    ``is_all, segment, n0..n{n-1}``, the whole funnel first, then each segment, largest first."""
    coded = pc.dictionary_encode(table.column("g")).combine_chunks()
    names: list[str] = [*coded.dictionary.to_pylist(), NONE_SEGMENT]
    u, ts, o = (_array(table.column(c)) for c in ("u", "ts", "o"))
    rows = _Rows(u, ts, o, coded.indices.to_numpy())
    per_level = np.zeros((len(names), spec.n + 1), dtype=np.int64)  # persons by furthest level
    if len(rows.u):
        keys, size = _dense(rows.u)
        rows = _Rows(keys, rows.ts, rows.o, rows.g)
        onward = _onward(rows, size)
        stopped = np.flatnonzero((rows.o == 0) & ~onward)
        per_level[:, 1] = _stopped(spec, rows, stopped, size, len(names))
        chains = rows.take(np.flatnonzero(onward))
        order = _order(chains)
        if order is not None:
            chains = chains.take(order)
        lvl, seg = _best(chains.u, *_levels(spec, chains, len(names) - 1))
        per_level += np.bincount(seg * (spec.n + 1) + lvl, minlength=per_level.size).reshape(
            per_level.shape
        )
    reached = np.cumsum(per_level[:, :0:-1], axis=1)[:, ::-1]  # at level k + 1 or further
    counts: dict[str, Ints] = {}
    for code, name in enumerate(names):
        if reached[code, 0]:
            counts[name] = counts.get(name, 0) + reached[code]
    return _result(spec, counts)


def _array(column: pa.ChunkedArray) -> Ints:
    # One buffer first: converting chunk by chunk is several times slower.
    return column.combine_chunks().to_numpy()


def _dense(u: Ints) -> tuple[Ints, int]:
    """Person keys as indexes into per-person arrays: the store's codes themselves when they
    are dense enough, else their ranks (which keep their order); 32 bits halve the traffic."""
    low, high = int(u.min()), int(u.max())
    if low >= 0 and high < 2 * len(u) + 1_000_000:
        return u.astype(np.int32), high + 1
    keys, ranks = np.unique(u, return_inverse=True)
    return ranks.astype(np.int32), len(keys)


def _onward(rows: _Rows, size: int) -> Mask:
    """Rows of persons with a step-1 event: only they can go past the first step."""
    flagged = np.zeros(size, dtype=bool)
    flagged[rows.u[rows.o == 2]] = True
    return flagged[rows.u]


def _first_step_segment(spec: FunnelSpec) -> bool:
    """Whether a chain reports the segment of its step-0 event from the start (as the chain's
    ``seg_at(0)``: first and last touch, or attribution to step 0), else ``(none)`` until the
    attributed step."""
    attr = spec.segment.attribution if spec.segment else "first"
    return attr in ("first", "last", 0)


def _stopped(spec: FunnelSpec, rows: _Rows, entered: Ints, size: int, n_codes: int) -> Ints:
    """Per segment code, the persons whose step-0 rows are ``entered`` (none of them has a
    step-1 event): they stop at the first step, in the segment of their first step-0 event."""
    u, ts = rows.u[entered], rows.ts[entered]
    first = np.full(size, np.iinfo(np.int64).max)
    np.minimum.at(first, u, ts)
    at_first = np.flatnonzero(ts == first[u])
    seg = np.full(size, -1, dtype=np.int64)
    seg[u[at_first]] = rows.g[entered[at_first]]
    seg = seg[seg >= 0]
    if not _first_step_segment(spec):
        seg = np.full(len(seg), n_codes - 1)  # (none): the segment is read at a later step
    return np.bincount(seg, minlength=n_codes)


def _order(rows: _Rows) -> Ints | None:
    """Indexes that put ``rows`` in (person, time, step) order, or None if they are already.

    A stable sort by person keeps each person's rows in read order, which is time order when
    the store was written in time order; the persons still out of order are sorted fully."""
    if not _disordered(rows).any():
        return None
    order = np.argsort(rows.u, kind="stable")
    moved = rows.take(order)
    late = _disordered(moved)
    if late.any():
        redo = np.flatnonzero(np.isin(moved.u, np.unique(moved.u[1:][late])))
        part = moved.take(redo)
        order[redo] = order[redo][np.lexsort((part.o, part.ts, part.u))]
    return order


def _disordered(rows: _Rows) -> Mask:
    """For each row but the last: whether the next row should come before it."""
    du, dt, do = np.diff(rows.u), np.diff(rows.ts), np.diff(rows.o)
    return (du < 0) | ((du == 0) & ((dt < 0) | ((dt == 0) & (do < 0))))


def _levels(spec: FunnelSpec, rows: _Rows, none: int) -> tuple[Levels, Ints]:
    """Per row (in person, time, step order): the level its chain reaches (``k + 1`` for a
    step-``k`` row that extends a chain, else 0) and the segment that chain reports."""
    attr = spec.segment.attribution if spec.segment else "first"
    lvl = np.zeros(len(rows.u), dtype=np.int8)
    seg = np.full(len(rows.u), none)
    prev = np.flatnonzero(rows.o == 0)  # positions of the rows at the level below
    start = rows.ts[prev]  # ... the start of each one's chain
    chain_seg = rows.g[prev] if _first_step_segment(spec) else np.full(len(prev), none)
    lvl[prev], seg[prev] = 1, chain_seg
    for k in range(1, spec.n):
        here = np.flatnonzero(rows.o == 2 * k)
        before = np.searchsorted(prev, here) - 1  # the latest row at step k - 1 before each
        at = np.maximum(before, 0)
        ok = (before >= 0) & (rows.u[prev[at]] == rows.u[here])
        ok &= rows.ts[here] - start[at] <= spec.window_us
        here, at = here[ok], at[ok]
        chain_seg = rows.g[here] if attr == "last" or attr == k else chain_seg[at]
        prev, start = here, start[at]
        lvl[here], seg[here] = k + 1, chain_seg
    return lvl, seg


def _best(u: Ints, lvl: Levels, seg: Ints) -> tuple[Levels, Ints]:
    """Per person who entered: the furthest level and the segment of the first row there."""
    if not len(u):
        return lvl, seg
    new = np.r_[True, u[1:] != u[:-1]]
    person = np.cumsum(new) - 1
    top = np.maximum.reduceat(lvl, np.flatnonzero(new))
    hit = np.flatnonzero((lvl == top[person]) & (lvl > 0))
    owner = person[hit]
    first = hit[np.r_[True, owner[1:] != owner[:-1]]] if len(hit) else hit
    return lvl[first], seg[first]


def _result(spec: FunnelSpec, counts: dict[str, Ints]) -> pa.Table:
    """Rows as the SQL aggregate orders them; with a top-n breakdown, smaller segments are
    folded into Other (ranked by units, then name, as ``microfunnel.query.segments`` does)."""
    total = sum(counts.values(), np.zeros(spec.n, dtype=np.int64))
    rows: list[tuple[int, str, Ints]] = [(1, "", total)]
    if spec.segment is not None:
        top_n = spec.segment.top_n
        ranked = sorted(counts, key=lambda name: (-int(counts[name][0]), name))
        folded: dict[str, Ints] = {}
        for rank, name in enumerate(ranked, start=1):
            label = name if top_n is None or rank <= top_n else OTHER
            folded[label] = folded.get(label, 0) + counts[name]
        segments = [(0, name, c) for name, c in folded.items()]
        rows += sorted(segments, key=lambda r: (-int(r[2][0]), r[1]))
    columns: dict[str, list[object]] = {
        "is_all": [r[0] for r in rows],
        "segment": [r[1] for r in rows],
    }
    for k in range(spec.n):
        columns[f"n{k}"] = [int(r[2][k]) for r in rows]
    return pa.table(columns)
