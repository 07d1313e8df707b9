"""The counts-only fast path for ordered funnels: one read, then levels as whole arrays.

It answers what the level chain (``microfunnel.query.funnel``) answers when only counts are
asked of an ordered funnel with one window, no hold and no per-step windows, per person, on a
store with integer codes. The chain sorts the rows it carries once per level; here the engine
sorts once, and only the rows that can matter:

- the step rows of the persons with a step-1 event, by ``(unit, time, step)``: only they can go
  past the first step, and they are a small share of the rows (a sixth of the step rows in the
  simulated shop);
- for everyone else, one row per segment of their first step-0 event, saying how many stopped
  at the first step there (``o = -1``, the count in ``ts``).

numpy then walks the levels over those rows, never looping over events in Python: a step-``k``
row extends the latest level ``k - 1`` row of its unit before it if that chain started within
the window. Starts only grow along a unit's timeline, so the latest predecessor is the best one,
exactly as in ClickHouse ``windowFunnel`` and in the chain. A unit counts at its furthest level,
in the segment of the first chain to get there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from microfunnel.query.conditions import Params
from microfunnel.query.dialect import Dialect
from microfunnel.query.funnel import NONE_SEGMENT, FunnelSpec, events_cte
from microfunnel.query.segments import OTHER

__all__ = ["kernel_counts", "kernel_sql"]

Ints = npt.NDArray[np.int64]


def kernel_sql(spec: FunnelSpec, d: Dialect) -> tuple[str, list[object]]:
    """The one read the kernel needs (rows ``u, ts, o, g``, see the module docstring)."""
    p = Params()
    ev = events_cte(spec, d, p, all_events=False)
    sql = (
        f"WITH ev AS ({ev}),\n"
        f"s1 AS {d.materialized}(SELECT DISTINCT u FROM ev WHERE o = 2)\n"
        "SELECT u, ts, o, g FROM ev WHERE u IN (SELECT u FROM s1)\n"
        f"UNION ALL SELECT {d.null_int()} AS u, count(*) AS ts, -1 AS o, g FROM "
        f"(SELECT {d.arg_min('g', 'ts')} AS g FROM ev WHERE o = 0 "
        "AND u NOT IN (SELECT u FROM s1) GROUP BY u) firsts GROUP BY g\n"
        "ORDER BY u, ts, o"
    )
    return sql, p.values


def kernel_counts(spec: FunnelSpec, table: pa.Table) -> pa.Table:
    """The funnel's rows from :func:`kernel_sql`'s answer, shaped as ``compile_funnel``'s:
    ``is_all, segment, n0..n{n-1}``, the whole funnel first, then each segment, largest first."""
    coded = pc.dictionary_encode(table.column("g")).combine_chunks()
    names: list[str] = [*coded.dictionary.to_pylist(), NONE_SEGMENT]
    g = coded.indices.to_numpy().astype(np.int64)
    o = table.column("o").to_numpy()
    rows = o >= 0
    u = table.column("u").filter(pa.array(rows)).to_numpy().astype(np.int64)
    ts = table.column("ts").to_numpy()
    none = len(names) - 1
    lvl, seg = _levels(spec, u, ts[rows], o[rows], g[rows], none)
    lvl, seg = _best(u, lvl, seg)
    per_level = np.zeros((len(names), spec.n + 1), dtype=np.int64)
    np.add.at(per_level, (seg, lvl), 1)
    stopped = ~rows  # one row per segment: units that stopped at the first step
    stopped_seg = g[stopped] if _first_step_segment(spec) else np.full(stopped.sum(), none)
    np.add.at(per_level[:, 1], stopped_seg, ts[stopped])
    reached = np.cumsum(per_level[:, :0:-1], axis=1)[:, ::-1]  # units at level k + 1 or more
    counts: dict[str, Ints] = {}
    for code, name in enumerate(names):
        if reached[code, 0]:
            counts[name] = counts.get(name, 0) + reached[code]
    return _result(spec, counts)


def _first_step_segment(spec: FunnelSpec) -> bool:
    """Whether a chain reports the segment of its step-0 event from the start (as the chain's
    ``seg_at(0)``: first and last touch, or attribution to step 0), else ``(none)`` until the
    attributed step."""
    attr = spec.segment.attribution if spec.segment else "first"
    return attr in ("first", "last", 0)


def _levels(
    spec: FunnelSpec, u: Ints, ts: Ints, o: Ints, g: Ints, none: int
) -> tuple[npt.NDArray[np.int8], Ints]:
    """Per row (sorted by unit, time, step): the level its chain reaches (``k + 1`` for a
    step-``k`` row that extends a chain, else 0) and the segment that chain reports."""
    attr = spec.segment.attribution if spec.segment else "first"
    index = np.arange(len(u))
    at = o == 0  # the rows at the previous level
    lvl = at.astype(np.int8)
    start = np.where(at, ts, 0)
    seg = np.where(at, g, none) if _first_step_segment(spec) else np.full(len(u), none)
    for k in range(1, spec.n):
        latest = np.maximum.accumulate(np.where(at, index, -1))
        here = np.flatnonzero(o == 2 * k)
        prev = latest[here]
        known = np.maximum(prev, 0)
        ok = (prev >= 0) & (u[known] == u[here]) & (ts[here] - start[known] <= spec.window_us)
        here, prev = here[ok], prev[ok]
        start[here] = start[prev]
        seg[here] = g[here] if attr == "last" or attr == k else seg[prev]
        lvl[here] = k + 1
        at = np.zeros(len(u), dtype=bool)
        at[here] = True
    return lvl, seg


def _best(u: Ints, lvl: npt.NDArray[np.int8], seg: Ints) -> tuple[npt.NDArray[np.int8], Ints]:
    """Per unit that entered: its furthest level and the segment of the first row reaching it."""
    if not len(u):
        return lvl, seg
    new = np.r_[True, u[1:] != u[:-1]]
    unit = np.cumsum(new) - 1
    top = np.maximum.reduceat(lvl, np.flatnonzero(new))
    hit = np.flatnonzero((lvl == top[unit]) & (lvl > 0))
    owner = unit[hit]
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
