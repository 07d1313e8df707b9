"""Benchmark: a 5-step, 24 h funnel with a device breakdown on 10M / 50M simulated events.

Ours (``microfunnel.analytics.funnel`` on DuckDB, counts only) against ClickHouse
``windowFunnel`` on a chdb MergeTree table holding the same rows, in the same run, interleaved;
counts per step per device must be identical. Each measurement runs in a fresh subprocess so its
peak memory (``ru_maxrss``) is its own; the query runs twice there (the first warms the caches)
and the second is timed (wall and CPU seconds: on a busy machine CPU time is the
steadier figure).

    python bench/funnel.py --events 10000000 --events 50000000 --runs 3 --data funnel-data

With ``--data DIR`` the loaded stores are kept in ``DIR/<events>-seed<seed>`` and reused by later
runs (loading 50M events takes about ten minutes); without it they go to a fresh temporary folder.

Events come from the simulated shop (``microfunnel.sim.iter_arrow_chunks``), grouped by person
and time-ordered, and are appended in that order with ``bulk_load`` (no dedupe: trusted rows),
so both tables are clustered by (person, time). The DuckDB store fills its integer columns
(``event_code``, ``person_key``) from its dictionaries as it loads, as it does on every insert.
A person's device never changes in the simulation, so ``windowFunnel`` grouped by (person,
device) answers the same question as our first-step device breakdown.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import cast

STEPS = ["view_item", "add_to_cart", "begin_checkout", "add_shipping_info", "add_payment_info"]
WINDOW = timedelta(hours=24)
CHUNK = 2_000_000


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def load(folder: Path, n_events: int, seed: int) -> dict[str, float]:
    from microfunnel.sim import iter_arrow_chunks
    from microfunnel.store.clickhouse import ClickHouseStore
    from microfunnel.store.duckdb import DuckDBStore

    duck, ch = DuckDBStore(folder / "events.duckdb"), ClickHouseStore(folder / "chdb")
    spent = {"generate": 0.0, "duckdb": 0.0, "clickhouse": 0.0}
    try:
        t = time.perf_counter()
        for chunk in iter_arrow_chunks(n_events, CHUNK, seed=seed):
            spent["generate"] += time.perf_counter() - t
            for name, store in (("duckdb", duck), ("clickhouse", ch)):
                t = time.perf_counter()
                store.bulk_load(chunk)
                spent[name] += time.perf_counter() - t
            t = time.perf_counter()
        t = time.perf_counter()
        duck.checkpoint()
        spent["duckdb"] += time.perf_counter() - t
    finally:
        duck.close()
        ch.close()
    return spent


def ours(folder: Path) -> tuple[dict[str, list[int]], tuple[float, float]]:
    from microfunnel.analytics.funnel import Breakdown, Step, funnel
    from microfunnel.store.duckdb import DuckDBStore

    store = DuckDBStore(folder / "events.duckdb")
    store.query("SET threads = 2")
    store.query("SET memory_limit = '1500MB'")
    steps = [Step(s) for s in STEPS]
    seconds = (0.0, 0.0)
    for _ in range(2):
        t, c = time.perf_counter(), _cpu()
        r = funnel(store, steps, window=WINDOW, breakdown=Breakdown("device"), timings=False)
        seconds = (time.perf_counter() - t, _cpu() - c)
    store.close()
    return {seg.segment: [s.count for s in seg.steps] for seg in r.segments}, seconds


def window_funnel(folder: Path) -> tuple[dict[str, list[int]], tuple[float, float]]:
    from microfunnel.store.clickhouse import ClickHouseStore

    store = ClickHouseStore(folder / "chdb")
    conds = ", ".join(f"event = '{s}'" for s in STEPS)
    names = ", ".join(f"'{s}'" for s in STEPS)
    sql = (
        f"SELECT device, level, count() AS n FROM (SELECT person_id, device, "
        f"windowFunnel({WINDOW // timedelta(microseconds=1)})"
        f"(toUInt64(toUnixTimestamp64Micro(timestamp)), {conds}) AS level FROM events "
        f"WHERE event IN ({names}) AND NOT is_bot GROUP BY person_id, device) "
        "WHERE level > 0 GROUP BY device, level"
    )
    seconds = (0.0, 0.0)
    for _ in range(2):
        t, c = time.perf_counter(), _cpu()
        rows = store.query(sql).to_pylist()
        seconds = (time.perf_counter() - t, _cpu() - c)
    store.close()
    counts: dict[str, list[int]] = {}
    for row in rows:
        per = counts.setdefault(str(row["device"]), [0] * len(STEPS))
        for k in range(int(row["level"])):
            per[k] += int(row["n"])
    return counts, seconds


def child(mode: str, folder: Path, n_events: int, seed: int) -> None:
    if mode == "load":
        out: dict[str, object] = {"seconds": load(folder, n_events, seed)}
    else:
        counts, seconds = (ours if mode == "duckdb" else window_funnel)(folder)
        out = {"counts": counts, "seconds": seconds[0], "cpu_s": seconds[1]}
    out["peak_mb"] = _peak_mb()
    sys.stdout.write(json.dumps(out) + "\n")


def _run(mode: str, folder: Path, n_events: int, seed: int) -> dict[str, object]:
    args = [sys.executable, __file__, "--child", mode, "--folder", str(folder)]
    args += ["--events", str(n_events), "--seed", str(seed)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _stores(n_events: int, seed: int, workdir: Path, data: Path | None) -> tuple[Path, object]:
    """The folder holding both loaded stores and the load's seconds (from the cache's record
    when ``data`` already holds this size and seed: only a completed load writes that record)."""
    if data is None:
        folder = Path(tempfile.mkdtemp(prefix=f"funnel-{n_events}-", dir=workdir))
    else:
        folder = data / f"{n_events}-seed{seed}"
        record = folder / "loaded.json"
        if record.exists():
            return folder, json.loads(record.read_text())["seconds"]
        if folder.exists():
            raise SystemExit(f"{folder} holds an unfinished load: delete it and run again")
        folder.mkdir(parents=True)
    loaded = _run("load", folder, n_events, seed)
    if data is not None:
        (folder / "loaded.json").write_text(json.dumps(loaded))
    return folder, loaded["seconds"]


def bench(
    n_events: int, runs: int, seed: int, workdir: Path, data: Path | None
) -> dict[str, object]:
    folder, load_s = _stores(n_events, seed, workdir, data)
    print(f"{n_events:,} events loaded: {load_s}", file=sys.stderr)
    seconds: dict[str, list[float]] = {"duckdb": [], "clickhouse": []}
    cpu: dict[str, list[float]] = {"duckdb": [], "clickhouse": []}
    peaks: dict[str, float] = {"duckdb": 0.0, "clickhouse": 0.0}
    answers = {}
    for _ in range(runs):
        for mode in ("duckdb", "clickhouse"):  # interleaved: the same noise for both
            r = _run(mode, folder, n_events, seed)
            seconds[mode].append(float(r["seconds"]))  # type: ignore[arg-type]
            cpu[mode].append(float(r["cpu_s"]))  # type: ignore[arg-type]
            peaks[mode] = max(peaks[mode], float(r["peak_mb"]))  # type: ignore[arg-type]
            answers[mode] = r["counts"]
        print(f"  {mode} runs so far: {seconds}", file=sys.stderr)
    if answers["duckdb"] != answers["clickhouse"]:
        raise SystemExit(
            f"counts differ: ours {answers['duckdb']} vs windowFunnel {answers['clickhouse']}"
        )
    return {
        "events": n_events,
        "counts": answers["duckdb"],
        "median_s": {k: statistics.median(v) for k, v in seconds.items()},
        "runs_s": seconds,
        "median_cpu_s": {k: statistics.median(v) for k, v in cpu.items()},
        "runs_cpu_s": cpu,
        "peak_mb": peaks,
        "load_s": load_s,
    }


Runs = dict[str, list[float]]


def _runs(values: list[float]) -> str:
    """The median, then each run in order: ``1.49 (1.62 / 1.49 / 1.38)``."""
    each = " / ".join(f"{v:.2f}" for v in values)
    return f"{statistics.median(values):.2f} ({each})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="row count (repeatable)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where the stores go")
    parser.add_argument("--data", type=Path, default=None, help="keep and reuse stores here")
    parser.add_argument("--child", choices=["load", "duckdb", "clickhouse"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.events or [10_000_000]
    if args.child:
        return child(args.child, args.folder, sizes[0], args.seed)
    workdir = args.workdir or Path(tempfile.gettempdir())
    print("| events | ours (DuckDB) s | windowFunnel (chdb) s | ours CPU s | chdb CPU s "
          "| ours peak MB | chdb peak MB | speed-up (wall) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        r = bench(n, args.runs, args.seed, workdir, args.data)
        print(json.dumps(r), file=sys.stderr)
        wall, cpu = cast(Runs, r["runs_s"]), cast(Runs, r["runs_cpu_s"])
        med, peak = cast(dict[str, float], r["median_s"]), cast(dict[str, float], r["peak_mb"])
        print(
            f"| {n:,} | {_runs(wall['duckdb'])} | {_runs(wall['clickhouse'])} | "
            f"{_runs(cpu['duckdb'])} | {_runs(cpu['clickhouse'])} | "
            f"{peak['duckdb']:.0f} | {peak['clickhouse']:.0f} | "
            f"{med['clickhouse'] / med['duckdb']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
