"""Does the collector hold its rate? Step the offered load up until it does not (the knee).

    .venv/bin/python bench/load.py [--step-seconds 5] [--batches 1,10,100] [--minutes 5]

For each batch size a fresh project and server (``microfunnel serve``, one process, on
127.0.0.1) are driven by generator processes at a rising schedule of offered rates (doubling
from a starting rate). Each step reports the rate sustained (events accepted per second),
latency p50/p99 from each request's scheduled send time, statuses and the server's CPU use.
Requests still unsent when a step ends count as offered, not sustained. The first step that
completes less than 90 % of the events it offered, or sees a 5xx, is the knee;
the ladder stops there. With ``--minutes``, the batch-100 server then runs for that long at
``--sustain-rate`` events/s (default: 80 % of the highest rate it sustained). Every server is
stopped at the end and its store checked: accepted == stored, no 5xx anywhere. Bounded: at
most ``--max-steps`` steps per batch size, each ``--step-seconds`` long.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import LoadResult, Server, pct, run_in_processes

from microfunnel.config import Project
from microfunnel.project import init_project

# Offered events/s of the first step per batch size (doubling from there).
START_RATE = {1: 250, 10: 1_000, 100: 2_000}
SUSTAINED = 0.9  # a step holds when it sustains this share of its offered rate


def step(
    server: Server, key: str, *, batch: int, rate: float, seconds: float, args: argparse.Namespace
) -> tuple[dict[str, Any], LoadResult]:
    """One step at ``rate`` offered events/s."""
    cpu0 = server.cpu_seconds()
    result = run_in_processes(
        server.port,
        key,
        processes=args.generators,
        connections=args.connections,
        batch=batch,
        seconds=seconds,
        rate=rate / batch,
        tag=f"r{round(rate)}",
    )
    cpu = server.cpu_seconds() - cpu0
    sustained = result.accepted / result.seconds
    due = result.scheduled * batch  # events the schedule offered in the step
    row = {
        "batch": batch,
        "offered_events_per_s": round(due / seconds),
        "sustained_events_per_s": round(sustained),
        "p50_ms": round(statistics.median(result.latencies_ms), 1) if result.requests else None,
        "p99_ms": round(pct(result.latencies_ms, 0.99), 1) if result.requests else None,
        "requests": result.requests,
        "statuses": result.statuses,
        "server_cpu_cores": round(cpu / result.seconds, 2),
        "holds": result.accepted >= SUSTAINED * due and not result.five_xx,
    }
    print(json.dumps(row), flush=True)
    return row, result


def ladder(folder: Path, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    created = init_project(folder / f"batch-{batch}")
    server = Server(created.project.path, args.port)
    rows: list[dict[str, Any]] = []
    total = LoadResult()
    try:
        rate = float(START_RATE.get(batch, 1_000 * batch))
        for _ in range(args.max_steps):
            row, result = step(
                server, created.write_key, batch=batch, rate=rate, seconds=args.step_seconds,
                args=args,
            )  # fmt: skip
            rows.append(row)
            total.merge(result)
            if not row["holds"]:
                break
            rate *= 2
        held = [r["sustained_events_per_s"] for r in rows if r["holds"]]
        best = max(held, default=0)
        sustained_run = None
        if args.minutes and batch == 100 and best:
            row, result = step(
                server, created.write_key, batch=batch, rate=args.sustain_rate or 0.8 * best,
                seconds=args.minutes * 60, args=args,
            )  # fmt: skip
            sustained_run = row
            total.merge(result)
    finally:
        server.stop()
    with Project(created.project.path).open_store() as store:
        stored = store.count_events()
    knee = next((r for r in rows if not r["holds"]), None)
    return {
        "batch": batch,
        "highest_rate_held": best,
        "knee_offered_events_per_s": knee["offered_events_per_s"] if knee else None,
        "sustained_run": sustained_run,
        "accepted": total.accepted,
        "stored": stored,
        "five_xx": total.five_xx,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--batches", default="1,10,100", help="comma-separated batch sizes")
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=0.0, help="sustained run (batch 100)")
    parser.add_argument(
        "--sustain-rate", type=float, default=0.0,
        help="events/s of the sustained run (default: 80 %% of the highest rate held)",
    )  # fmt: skip
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--port", type=int, default=8678)
    args = parser.parse_args()
    summaries = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (int(b) for b in args.batches.split(",")):
            summaries.append(ladder(Path(tmp), batch, args))
    print(json.dumps({"cpus": os.cpu_count(), "summary": summaries}, indent=2))
    bad = [s["batch"] for s in summaries if s["accepted"] != s["stored"] or s["five_xx"]]
    if bad:
        raise SystemExit(f"FAILED: accepted != stored or 5xx for batch sizes {bad}")


if __name__ == "__main__":
    main()
