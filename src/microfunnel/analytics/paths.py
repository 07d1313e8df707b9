"""Paths: what shoppers do around a step, between two steps, and where they go in circles.

Every result carries ``nodes`` and ``links`` ready for a Sankey chart: a node is an event at a
position (``"+1:view_cart"`` is one step after the anchor, ``"-2:view_item"`` two before), a link
counts the paths passing from one node to the next. Paths are per session; navigation events
(:data:`DEFAULT_EXCLUDE`) are left out unless ``exclude=()`` is passed.

Example::

    around = paths_around(store, "add_shipping_info", depth=2)
    loops = find_loops(store)  # add_shipping_info > view_cart > add_shipping_info, ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from microfunnel.analytics.scope import check_events, check_where, utc_range
from microfunnel.errors import QueryError
from microfunnel.query.paths import (
    END,
    START,
    around_sql,
    between_sql,
    loops_sql,
    sessions_by_event_sql,
)
from microfunnel.query.scope import EventScope

__all__ = [
    "DEFAULT_EXCLUDE",
    "Loop",
    "Loops",
    "PathCount",
    "PathsAround",
    "PathsBetween",
    "SankeyLink",
    "SankeyNode",
    "find_loops",
    "paths_around",
    "paths_between",
]

DEFAULT_EXCLUDE = ("page_view", "$identify", "experiment_exposure")
"""Events that mark navigation or bookkeeping, not a shopper's choice."""
OTHER = "(other)"


@dataclass(frozen=True)
class SankeyNode:
    id: str
    name: str
    level: int
    count: int


@dataclass(frozen=True)
class SankeyLink:
    source: str
    target: str
    value: int


@dataclass(frozen=True)
class PathCount:
    steps: tuple[str, ...]
    sessions: int
    share: float


@dataclass(frozen=True)
class PathsAround:
    anchor: str
    direction: Literal["next", "previous"]
    depth: int
    occurrences: int
    top: tuple[PathCount, ...]
    nodes: tuple[SankeyNode, ...]
    links: tuple[SankeyLink, ...]
    excluded: tuple[str, ...]


@dataclass(frozen=True)
class PathsBetween:
    start: str
    end: str
    sessions_with_start: int
    sessions_reaching_end: int
    longer_than_max: int
    max_steps: int
    paths: tuple[PathCount, ...]
    nodes: tuple[SankeyNode, ...]
    links: tuple[SankeyLink, ...]
    excluded: tuple[str, ...]


@dataclass(frozen=True)
class Loop:
    """``steps`` start and end on the same event: a shopper went back to redo it."""

    steps: tuple[str, ...]
    occurrences: int
    sessions: int
    share_of_sessions: float


@dataclass(frozen=True)
class Loops:
    loops: tuple[Loop, ...]
    excluded: tuple[str, ...]


def _node_id(level: int, name: str) -> str:
    return f"{level:+d}:{name}" if level else f"0:{name}"


def _sankey(
    paths: Sequence[tuple[tuple[str, ...], int, int]], max_nodes: int
) -> tuple[tuple[SankeyNode, ...], tuple[SankeyLink, ...]]:
    """Nodes and links of weighted paths ``(steps, first level, count)``.

    Each level keeps its ``max_nodes`` busiest events; the rest merge into ``(other)``.
    """
    per_level: dict[int, Counter[str]] = {}
    for steps, first, n in paths:
        for i, name in enumerate(steps):
            per_level.setdefault(first + i, Counter())[name] += n
    keep = {lvl: {name for name, _ in c.most_common(max_nodes)} for lvl, c in per_level.items()}
    nodes: Counter[tuple[int, str]] = Counter()
    links: Counter[tuple[str, str]] = Counter()
    for steps, first, n in paths:
        names = [s if s in keep[first + i] else OTHER for i, s in enumerate(steps)]
        for i, name in enumerate(names):
            nodes[(first + i, name)] += n
            if i:
                links[(_node_id(first + i - 1, names[i - 1]), _node_id(first + i, name))] += n
    node_list = tuple(
        SankeyNode(_node_id(lvl, name), name, lvl, n)
        for (lvl, name), n in sorted(nodes.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    )
    link_list = tuple(
        SankeyLink(src, dst, n)
        for (src, dst), n in sorted(links.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return node_list, link_list


def _truncate(steps: tuple[str, ...], pad: str) -> tuple[str, ...]:
    """Cut a path after its first padding marker (the session ended or began)."""
    return steps[: steps.index(pad) + 1] if pad in steps else steps


def _scope(
    store: Any,
    events: Sequence[str],
    start: date | None,
    end: date | None,
    tz: str,
    where: Mapping[str, str] | None,
    include_bots: bool,
    exclude: Sequence[str],
) -> EventScope:
    check_events(store, events)
    since, until = utc_range(start, end, tz)
    return EventScope(since, until, check_where(where), include_bots, tuple(exclude))


def paths_around(
    store: Any,
    anchor: str,
    *,
    direction: Literal["next", "previous"] = "next",
    depth: int = 3,
    top: int = 10,
    max_nodes: int = 8,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> PathsAround:
    """The ``depth`` events after (or before) every occurrence of ``anchor`` in a session."""
    if direction not in ("next", "previous"):
        raise QueryError("direction must be `next` or `previous`.", field="direction")
    if not 1 <= depth <= 6:
        raise QueryError("depth must be between 1 and 6.", field="depth")
    if anchor in exclude:
        raise QueryError(f"`{anchor}` is excluded: pass exclude=() to keep it.", field="anchor")
    scope = _scope(store, [anchor], start, end, tz, where, include_bots, exclude)
    sql, params = around_sql(anchor, direction, depth, scope)
    pad = END if direction == "next" else START
    counts: Counter[tuple[str, ...]] = Counter()
    for row in store.query(sql, params).to_pylist():
        counts[_truncate(tuple(row[f"e{k}"] for k in range(1, depth + 1)), pad)] += row["n"]
    total = sum(counts.values())
    top_paths = tuple(
        PathCount(steps, n, n / total)
        for steps, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    )
    if direction == "next":
        chains = [((anchor, *steps), 0, n) for steps, n in counts.items()]
    else:
        chains = [((*reversed(steps), anchor), -len(steps), n) for steps, n in counts.items()]
    nodes, links = _sankey(chains, max_nodes)
    return PathsAround(anchor, direction, depth, total, top_paths, nodes, links, tuple(exclude))


def paths_between(
    store: Any,
    start_event: str,
    end_event: str,
    *,
    max_steps: int = 8,
    top: int = 10,
    max_nodes: int = 8,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> PathsBetween:
    """The most common event sequences from a session's first ``start_event`` to the next
    ``end_event`` (both included), for spans of at most ``max_steps`` events."""
    if max_steps < 1:
        raise QueryError("max_steps must be at least 1.", field="max_steps")
    scope = _scope(store, [start_event, end_event], start, end, tz, where, include_bots, exclude)
    sql, params = between_sql(store.dialect, start_event, end_event, max_steps, scope)
    counts: dict[str, int] = {}
    for row in store.query(sql, params).to_pylist():
        counts[row["path"]] = counts.get(row["path"], 0) + int(row["sessions"])
    with_start, longer = counts.pop(START, 0), counts.pop("$longer", 0)
    ranked = sorted(((tuple(p.split(" > ")), n) for p, n in counts.items()), key=_rank)
    reached = sum(counts.values()) + longer
    paths = tuple(PathCount(steps, n, n / with_start) for steps, n in ranked[:top])
    nodes, links = _sankey([(steps, 0, n) for steps, n in ranked], max_nodes)
    return PathsBetween(
        start_event, end_event, with_start, reached, longer, max_steps, paths, nodes, links,
        tuple(exclude),
    )  # fmt: skip


def _rank(item: tuple[tuple[str, ...], int]) -> tuple[int, tuple[str, ...]]:
    return -item[1], item[0]


def find_loops(
    store: Any,
    *,
    min_sessions: int = 5,
    top: int = 20,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    where: Mapping[str, str] | None = None,
    include_bots: bool = False,
) -> Loops:
    """Detours that return to the same event: ``a > b > a`` and ``a > b > c > a``.

    ``share_of_sessions`` is the share of sessions holding ``a`` that made the loop; a large
    share on a checkout step (shipping form, back to the cart, shipping form again) often marks
    friction such as a price surprise.
    """
    scope = _scope(store, [], start, end, tz, where, include_bots, exclude)
    sql, params = sessions_by_event_sql(scope)
    holding = {r["event"]: int(r["sessions"]) for r in store.query(sql, params).to_pylist()}
    sql, params = loops_sql(scope)
    loops = []
    for r in store.query(sql, params).to_pylist():
        if r["sessions"] < min_sessions:
            continue
        steps = (r["a"], r["b"], r["c"], r["a"]) if r["c"] else (r["a"], r["b"], r["a"])
        loops.append(
            Loop(steps, int(r["occurrences"]), int(r["sessions"]), r["sessions"] / holding[r["a"]])
        )
    return Loops(tuple(loops[:top]), tuple(exclude))
