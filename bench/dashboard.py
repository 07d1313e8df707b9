"""Dashboard page times on a large store: first load (cold), cached load, and after new data.

Builds a project whose store holds ``--events`` rows of the simulated shop (bulk generator,
appended chunk by chunk; the store is kept in --folder for reruns), serves it on 127.0.0.1 and
times every page over HTTP: the first request computes (cold), the next ``--repeats`` come from
the result cache, then one small batch of events through the collector bumps the writer's
generation and the page is timed again (recomputed), then cached again.

    .venv/bin/python bench/dashboard.py --events 10000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from microfunnel.config import Project
from microfunnel.project import init_project
from microfunnel.server.serve import ServerThread, send_events
from microfunnel.sim import iter_arrow_chunks, simulate
from microfunnel.sim.experiments import demo_experiments_yaml

PAGES = {
    "Overview": "/",
    "Funnel (6 steps, 24 h, by device)": "/funnel",
    "Trends": "/trends?event=add_to_cart",
    "Paths": "/paths",
    "Retention": "/retention",
    "Drivers": "/drivers",
    "Forecast (what-if)": "/forecast?add_to_cart=0.2",
    "Experiments": "/experiments",
    "Experiment report": "/experiments/free_shipping_banner",
    "Data": "/data",
}


def build(folder: Path, n_events: int) -> Project:
    if (folder / "microfunnel.toml").exists():
        return Project(folder)
    init_project(folder, name="bench shop")
    (folder / "experiments.yaml").write_text(demo_experiments_yaml())
    project = Project(folder)
    store = project.open_store()
    t0 = time.perf_counter()
    for chunk in iter_arrow_chunks(n_events, seed=1):
        store.insert_arrow(chunk)
    print(f"built {store.count_events():,} events in {time.perf_counter() - t0:.0f} s", flush=True)
    store.close()
    return project


def timed(client: httpx.Client, path: str) -> float:
    t0 = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - t0
    if answer.status_code != 200:
        raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.gettempdir()) / f"mf-bench-dashboard-{args.events}"
    project = build(folder, args.events)
    server = ServerThread([project])
    url = server.start()
    rows = []
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            for name, path in PAGES.items():
                cold = timed(client, path)
                warm = statistics.median(timed(client, path) for _ in range(args.repeats))
                rows.append([name, cold, warm])
            batch = list(simulate(days=1, visitors_per_day=20, seed=99))
            send_events(url, project.keys.write[0], batch, progress=False)
            runtime = server.server.config.app.state.hub.runtimes[0]
            runtime.writer.drain()
            for row, path in zip(rows, PAGES.values(), strict=True):
                fresh = timed(client, path)
                warm = statistics.median(timed(client, path) for _ in range(args.repeats))
                row += [fresh, warm]
    finally:
        server.stop()
    print(f"\n{args.events:,} events; median of {args.repeats} cached loads\n")
    print("| page | first load s | cached s | after new events s | cached again s |")
    print("|---|---:|---:|---:|---:|")
    for name, *times in rows:
        print(f"| {name} | " + " | ".join(f"{t:.3f}" for t in times) + " |")
    worst = max(max(r[2], r[4]) for r in rows)
    print(f"\nslowest cached page: {worst:.3f} s (target < 1 s)")
    sys.exit(0 if worst < 1.0 else 1)


if __name__ == "__main__":
    main()
