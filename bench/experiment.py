"""Benchmark: a full experiment analysis on 10M simulated events, on DuckDB and on chdb.

The simulated shop (``microfunnel.sim.iter_arrow_chunks``) is loaded chunk by chunk into each
engine (``bulk_load``: the generated rows are unique, so no dedupe lookups); then
``microfunnel.experiments.analyze`` runs the planted experiment of the demo definitions
(8 metrics: conversion, revenue with a 99th-percentile cap, a ratio, a 3-step funnel, a
guardrail; segments by device and traffic source; CUPED covariates; velocity guard). Times are
split into the engine's sufficient-statistics query and the whole analysis (SQL, statistics,
pooled segments, health, decision); the result must be the same on both engines.

    python bench/experiment.py --events 10000000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from microfunnel.experiments import analyze, experiment_stats, parse_definitions
from microfunnel.sim import iter_arrow_chunks
from microfunnel.sim.experiments import demo_experiments_yaml
from microfunnel.store.base import Store
from microfunnel.store.clickhouse import ClickHouseStore
from microfunnel.store.duckdb import DuckDBStore


def _load(store: Store, events: int, seed: int) -> float:
    start = time.perf_counter()
    for chunk in iter_arrow_chunks(events, seed=seed):
        store.bulk_load(chunk)  # type: ignore[attr-defined]  # trusted rows: no dedupe lookups
    return time.perf_counter() - start


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,clickhouse")
    args = parser.parse_args()
    exp = parse_definitions(yaml.safe_load(demo_experiments_yaml())).experiment(
        "free_shipping_banner"
    )
    out: dict[str, Any] = {"events": args.events, "metrics": len(exp.metrics)}
    decisions = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            folder = Path(tmp) / engine
            folder.mkdir()
            store: Store = (
                DuckDBStore(folder / "events.duckdb")
                if engine == "duckdb"
                else ClickHouseStore(folder / "chdb")
            )
            load = _load(store, args.events, args.seed)
            sql_s, table = _best(
                lambda s=store: experiment_stats(
                    s, exp, since=datetime(1970, 1, 1), until=datetime(2100, 1, 1)
                ),
                args.repeat,
            )
            full_s, report = _best(lambda s=store: analyze(s, exp), args.repeat)
            print(f"{engine}: loaded in {load:.1f} s, analysis {full_s:.2f} s", file=sys.stderr)
            stats_s = full_s - sql_s
            primary = report.metric("add_to_cart")
            decisions[engine] = (report.decision.outcome, round(primary.relative_effect, 12))
            out[engine] = {
                "load_s": round(load, 2),
                "stats_rows": len(table),
                "units": report.health.units,
                "sufficient_stats_sql_s": round(sql_s, 3),
                "full_analysis_s": round(full_s, 3),
                "rest_of_analysis_s": round(stats_s, 3),
                "segments": len(report.segments),
                "primary_lift": round(primary.relative_effect, 4),
                "decision": report.decision.outcome,
            }
            store.close()
    if len(set(decisions.values())) > 1:
        raise SystemExit(f"engines disagree: {decisions}")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
