"""The general funnel strategy: a left fold over each unit's events, sorted by (time, step).

The state record holds, per level ``k``, the live chain that reached step ``k`` (``a{k}`` its
start, ``e{k}`` its last time, ``c{k}_{j}`` the times of its earlier steps, ``g{k}`` its
segment) and the recorded best chain (``lvl``, ``b{j}``, ``bg``, ``rt`` when it was recorded).
Every level is updated from the previous state at once, so one event advances a chain by one
step at most (a repeated step needs a second event). ``-1`` stands for "none" on both engines.

- ordered: a later first step restarts level 0 (latest start wins, as in ``windowFunnel``);
  a chain extends from the live chain one level down, or past optional steps from the one
  with the latest start.
- strict: an event that does not extend a chain ends it (every event of the unit is folded).
- any: per step the latest time; level ``r`` is reached when steps ``0..r-1`` all happened
  within the window of each other.
- exclusions end live chains between their ``after`` and ``before`` steps.
- total: chains are consumed as they move on, and every step reached is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from microfunnel.query.conditions import Params
from microfunnel.query.dialect import Dialect

if TYPE_CHECKING:
    from microfunnel.query.funnel import FunnelSpec

__all__ = ["fold_units"]

ITEM = ["ts", "o", "m", "x", "g"]


class _Fold:
    def __init__(self, spec: FunnelSpec, d: Dialect):
        self.spec, self.d, self.n = spec, d, spec.n
        self.attr = spec.segment.attribution if spec.segment else "first"
        self.names: list[str] = []
        self.text: set[str] = set()

    def F(self, name: str) -> str:
        return self.d.field("acc", self.names, name)

    def X(self, name: str) -> str:
        return self.d.field("it", ITEM, name)

    def i(self, expr: str) -> str:
        return self.d.cast_int(expr)

    # ---- ordered and strict ----------------------------------------------------------------

    def _candidates(self, k: int) -> list[int]:
        out = [k - 1]
        j = k - 1
        while j > 0 and self.spec.steps[j].optional:
            j -= 1
            out.append(j)
        return out

    def pick(self, k: int, value: Callable[[int], str], default: str = "-1") -> str:
        """``value(i)`` of the predecessor chain chosen for level ``k`` (-1 if none alive)."""
        cands = self._candidates(k)
        if len(cands) == 1:
            return value(cands[0])
        whens = []
        for idx, c in enumerate(cands):
            conds = [f"{self.F(f'a{c}')} >= 0"]
            conds += [f"{self.F(f'a{c}')} >= {self.F(f'a{o}')}" for o in cands[idx + 1 :]]
            whens.append(f"WHEN {' AND '.join(conds)} THEN {value(c)}")
        return f"(CASE {' '.join(whens)} ELSE {default} END)"

    def chain_time(self, k: int, j: int) -> str:
        """Time of step ``j`` in the chain that extends to level ``k`` now."""

        def of(i: int) -> str:
            if j < i:
                return self.F(f"c{i}_{j}")
            if j == i:
                return self.F(f"e{i}")
            return "-1"

        return self.pick(k, of)

    def ext(self, k: int) -> str:
        spec, d = self.spec, self.d
        conds = [d.bit_set(self.X("m"), k)]
        if spec.unit != "total":
            conds.append(f"{self.F('lvl')} < {self.n}")
        if k > 0:
            start = self.pick(k, lambda i: self.F(f"a{i}"))
            conds += [f"{start} >= 0", f"{self.X('ts')} - {start} <= {spec.window_us}"]
            step_window = spec.steps[k].window_us
            if step_window is not None:
                last = self.pick(k, lambda i: self.F(f"e{i}"))
                conds.append(f"{self.X('ts')} - {last} <= {int(step_window)}")
        return "(" + " AND ".join(conds) + ")"

    def seg(self, k: int) -> str:
        if k == 0:
            return self.X("g") if self.attr in ("first", "last", 0) else "''"
        if self.attr == "last" or self.attr == k:
            return self.X("g")
        return self.pick(k, lambda i: self.F(f"g{i}"), "''")

    def ordered(self) -> tuple[dict[str, str], dict[str, str]]:
        n, spec, d = self.n, self.spec, self.d
        strict, total = spec.mode == "strict", spec.unit == "total"
        ints = {}
        texts = {}
        for k in range(n):
            ints[f"a{k}"] = ints[f"e{k}"] = "-1"
            for j in range(k):
                ints[f"c{k}_{j}"] = "-1"
            texts[f"g{k}"] = "''"
        if total:
            for k in range(n):
                ints[f"n{k}"] = "0"
            texts["bg"] = "''"
        else:
            ints["lvl"] = "0"
            ints["rt"] = "-1"
            for j in range(n):
                ints[f"b{j}"] = "-1"
            texts["bg"] = "''"
        self.names = list(ints) + list(texts)
        ext = [self.ext(k) for k in range(n)]
        body: dict[str, str] = {}
        for k in range(n):
            start = self.X("ts") if k == 0 else self.pick(k, lambda i: self.F(f"a{i}"))
            kills = [d.bit_set(self.X("x"), k)]
            if total and k + 1 < n:
                kills.append(ext[k + 1])
            if total and k == n - 1:
                kills.append("1 = 1")
            keep = (
                "-1"
                if strict
                else f"CASE WHEN {' OR '.join(kills)} THEN -1 ELSE {self.F(f'a{k}')} END"
            )
            body[f"a{k}"] = f"CASE WHEN {ext[k]} THEN {start} ELSE {keep} END"
            body[f"e{k}"] = f"CASE WHEN {ext[k]} THEN {self.X('ts')} ELSE {self.F(f'e{k}')} END"
            for j in range(k):
                body[f"c{k}_{j}"] = (
                    f"CASE WHEN {ext[k]} THEN {self.chain_time(k, j)} "
                    f"ELSE {self.F(f'c{k}_{j}')} END"
                )
            body[f"g{k}"] = f"CASE WHEN {ext[k]} THEN {self.seg(k)} ELSE {self.F(f'g{k}')} END"
        if total:
            for k in range(n):
                body[f"n{k}"] = f"{self.F(f'n{k}')} + CASE WHEN {ext[k]} THEN 1 ELSE 0 END"
            body["bg"] = (
                f"CASE WHEN {self.F('bg')} = '' AND {ext[0]} THEN {self.seg(0)} "
                f"ELSE {self.F('bg')} END"
            )
        else:
            reach = "CASE " + " ".join(f"WHEN {ext[k]} THEN {k + 1}" for k in range(n - 1, -1, -1))
            reach += " ELSE 0 END"
            better = f"({reach}) > {self.F('lvl')}"
            body["lvl"] = f"CASE WHEN {better} THEN {reach} ELSE {self.F('lvl')} END"
            body["rt"] = f"CASE WHEN {better} THEN {self.X('ts')} ELSE {self.F('rt')} END"
            for j in range(n):
                whens = [
                    f"WHEN {ext[r]} THEN {self.X('ts') if j == r else self.chain_time(r, j)}"
                    for r in range(n - 1, j - 1, -1)
                ]
                new_b = "CASE " + " ".join(whens) + " ELSE -1 END"
                body[f"b{j}"] = f"CASE WHEN {better} THEN {new_b} ELSE {self.F(f'b{j}')} END"
            bgs = " ".join(f"WHEN {ext[r]} THEN {self.seg(r)}" for r in range(n - 1, -1, -1))
            body["bg"] = f"CASE WHEN {better} THEN CASE {bgs} ELSE '' END ELSE {self.F('bg')} END"
        return self._typed(ints, texts, body)

    # ---- any order -------------------------------------------------------------------------

    def any_order(self) -> tuple[dict[str, str], dict[str, str]]:
        n, spec, d = self.n, self.spec, self.d
        ints = {f"l{j}": "-1" for j in range(n)}
        ints["lvl"] = "0"
        ints["rt"] = "-1"
        ints.update({f"b{j}": "-1" for j in range(n)})
        texts = {"gl": "''", "bg": "''"}
        self.names = list(ints) + list(texts)
        new_l = [
            f"(CASE WHEN {d.bit_set(self.X('m'), j)} THEN {self.X('ts')} "
            f"ELSE {self.F(f'l{j}')} END)"
            for j in range(n)
        ]
        new_gl = (
            f"(CASE WHEN {d.bit_set(self.X('m'), 0)} THEN {self.X('g')} ELSE {self.F('gl')} END)"
        )

        def ok(r: int) -> str:
            conds = [f"{v} >= 0" for v in new_l[:r]]
            if r > 1:
                conds.append(
                    f"greatest({', '.join(new_l[:r])}) - least({', '.join(new_l[:r])}) "
                    f"<= {spec.window_us}"
                )
            return "(" + " AND ".join(conds) + ")"

        reach = (
            "CASE " + " ".join(f"WHEN {ok(r)} THEN {r}" for r in range(n, 0, -1)) + " ELSE 0 END"
        )
        better = f"{self.F('lvl')} < {n} AND ({reach}) > {self.F('lvl')}"
        body = {f"l{j}": new_l[j] for j in range(n)}
        body["lvl"] = f"CASE WHEN {better} THEN {reach} ELSE {self.F('lvl')} END"
        body["rt"] = f"CASE WHEN {better} THEN {self.X('ts')} ELSE {self.F('rt')} END"
        for j in range(n):
            body[f"b{j}"] = (
                f"CASE WHEN {better} THEN (CASE WHEN ({reach}) > {j} THEN {new_l[j]} ELSE -1 END) "
                f"ELSE {self.F(f'b{j}')} END"
            )
        body["gl"] = new_gl
        body["bg"] = f"CASE WHEN {better} THEN {new_gl} ELSE {self.F('bg')} END"
        return self._typed(ints, texts, body)

    def _typed(
        self, ints: dict[str, str], texts: dict[str, str], body: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        init = {k: self.i(v) for k, v in ints.items()} | texts
        typed = {k: (self.i(body[k]) if k in ints else body[k]) for k in self.names}
        return init, typed


def _seg(expr: str) -> str:
    return f"CASE WHEN {expr} = '' THEN '(none)' ELSE {expr} END"


def fold_units(spec: FunnelSpec, d: Dialect, p: Params, *, events_cte: Callable[..., str]) -> str:
    """CTEs ending in ``units`` (``u, lvl, b0.., g`` or, for totals, ``u, n0.., g``)."""
    fold = _Fold(spec, d)
    init, body = fold.any_order() if spec.mode == "any" else fold.ordered()
    ev = events_cte(spec, d, p, all_events=spec.mode == "strict")
    items = d.ordered_list({k: k for k in ITEM}, 2)
    folded = d.fold(items, "acc", "it", d.record(body), d.record(init))
    n = spec.n
    f = lambda name: d.field("r", fold.names, name)  # noqa: E731
    if spec.unit == "total":
        cols = ", ".join(f"{f(f'n{k}')} AS n{k}" for k in range(n))
        return (
            f"ev AS ({ev}),\nfolded AS (SELECT u, h, {folded} AS r FROM ev GROUP BY u, h),\n"
            f"units AS (SELECT u, {cols}, {_seg(f('bg'))} AS g FROM folded WHERE {f('n0')} > 0)"
        )
    cols = ", ".join(f"{f(f'b{j}')} AS b{j}" for j in range(n))
    return (
        f"ev AS ({ev}),\nfolded AS (SELECT u, h, {folded} AS r FROM ev GROUP BY u, h),\n"
        f"flat AS (SELECT u, h, {f('lvl')} AS lvl, {f('rt')} AS rt, {cols}, {_seg(f('bg'))} AS g "
        f"FROM folded),\n"
        f"units AS (SELECT * FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY u ORDER BY lvl DESC, rt, h) AS rn FROM flat WHERE lvl > 0) WHERE rn = 1)"
    )
