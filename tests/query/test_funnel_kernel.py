"""The funnel kernel's answer does not depend on the order the store returns rows in, nor on
how its person keys are spread: clustered by person, in time order, shuffled, sparse keys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from microfunnel.query.conditions import Match
from microfunnel.query.funnel import FunnelSpec, StepSpec
from microfunnel.query.funnel_kernel import kernel_counts
from microfunnel.query.segments import SegmentSpec

SPEC = FunnelSpec(
    tuple(StepSpec((Match(f"s{k}"),)) for k in range(4)),
    100_000_000,
    segment=SegmentSpec(prop="device", top_n=None),
    timings=False,
    event_codes={f"s{k}": k for k in range(4)},
)


def _rows(persons: int, seed: int) -> pa.Table:
    """Random step rows, clustered by person and in (time, step) order within each. A person
    never has two rows of one step at one time (which of two such chains reports its segment
    is not defined)."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 12, persons)
    u = np.repeat(np.arange(persons), per)
    ts = rng.integers(0, 400, len(u)) * 1_000_000
    o = 2 * rng.integers(0, 4, len(u))
    order = np.lexsort((o, ts, u))
    u, ts, o = u[order], ts[order], o[order]
    keep = np.r_[True, (np.diff(u) != 0) | (np.diff(ts) != 0) | (np.diff(o) != 0)]
    g = rng.choice(["desktop", "mobile", "tablet"], int(keep.sum()))
    return pa.table({"u": u[keep], "ts": ts[keep], "o": o[keep], "g": g})


@pytest.mark.parametrize(
    "read",
    ["time order", "shuffled", "sparse keys", "reversed"],
)
def test_any_read_order_gives_the_same_counts(read: str) -> None:
    table = _rows(500, seed=5)
    clustered = kernel_counts(SPEC, table)
    assert clustered.column("n1")[0].as_py() > 0
    rng = np.random.default_rng(1)
    if read == "time order":
        index = np.argsort(table.column("ts").to_numpy(), kind="stable")
    elif read == "shuffled":
        index = rng.permutation(table.num_rows)
    elif read == "reversed":
        index = np.arange(table.num_rows)[::-1]
    else:
        index = np.arange(table.num_rows)
        keys = table.column("u").to_numpy() * 1_000_003 + 7
        table = table.set_column(0, "u", pa.array(keys))
    assert kernel_counts(SPEC, table.take(index)) == clustered


def test_no_rows() -> None:
    empty = _rows(1, seed=0).slice(0, 0)
    result = kernel_counts(SPEC, empty).to_pylist()
    assert result == [{"is_all": 1, "segment": "", "n0": 0, "n1": 0, "n2": 0, "n3": 0}]
