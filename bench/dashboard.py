"""Dashboard page times on a large store: first load (cold), cached, stale-while-revalidate
after new data, and while events stream in.

Builds a project whose store holds ``--events`` rows of the simulated shop (bulk generator,
appended chunk by chunk; the store is kept in --folder for reruns), serves it on 127.0.0.1 and
times every page over HTTP: the first request computes (cold), the next ``--repeats`` come from
the result cache. Then one small batch of events through the collector bumps the writer's
generation: the next request is served the last result at once while the page is recomputed in
the background ("after new events"), and the time until the page shows the new result is
measured ("refreshed after"). Last, a thread sends a small batch every second for
``--stream`` seconds while every page is requested in turn; the slowest request is reported.

    .venv/bin/python bench/dashboard.py --events 10000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from microfunnel.config import Project
from microfunnel.project import init_project
from microfunnel.server.dashboard.routes import CACHE
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


def stream_events(url: str, key: str, stop: threading.Event) -> int:
    sent, seed = 0, 1000
    while not stop.is_set():
        batch = list(simulate(days=1, visitors_per_day=3, seed=seed))
        send_events(url, key, batch, progress=False)
        sent, seed = sent + len(batch), seed + 1
        stop.wait(1.0)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--stream", type=float, default=120.0, help="seconds of streaming")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.gettempdir()) / f"mf-bench-dashboard-{args.events}"
    project = build(folder, args.events)
    server = ServerThread([project])
    url = server.start()
    rows: list[list[float]] = []
    streamed: list[float] = []
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            for path in PAGES.values():
                cold = timed(client, path)
                warm = statistics.median(timed(client, path) for _ in range(args.repeats))
                rows.append([cold, warm])
            batch = list(simulate(days=1, visitors_per_day=20, seed=99))
            send_events(url, project.keys.write[0], batch, progress=False)
            app: Any = server.server.config.app
            runtime = app.state.hub.runtimes[0]
            runtime.writer.drain()
            CACHE.min_interval = 0.0  # refresh each page on its first view after the batch
            for row, path in zip(rows, PAGES.values(), strict=True):
                stale = timed(client, path)
                t0 = time.perf_counter()
                CACHE.wait(600)
                row += [stale, time.perf_counter() - t0 + stale]
            CACHE.min_interval = 30.0
            stop = threading.Event()
            sender = threading.Thread(
                target=stream_events, args=(url, project.keys.write[0], stop), daemon=True
            )
            sender.start()
            deadline = time.perf_counter() + args.stream
            while time.perf_counter() < deadline:
                for row, path in zip(rows, PAGES.values(), strict=True):
                    took = timed(client, path)
                    row.append(took)
                    streamed.append(took)
                    time.sleep(0.2)
            stop.set()
            sender.join()
    finally:
        server.stop()
    print(f"\n{args.events:,} events; median of {args.repeats} cached loads\n")
    print(
        "| page | first load s | cached s | after new events s | refreshed after s "
        "| streaming: median s | streaming: max s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, times in zip(PAGES, rows, strict=True):
        during = times[4:] or [float("nan")]
        shown = [*times[:4], statistics.median(during), max(during)]
        print(f"| {name} | " + " | ".join(f"{t:.3f}" for t in shown) + " |")
    worst = max(max(r[1], r[2], *r[4:]) for r in rows)
    print(f"\n{len(streamed)} page loads while events streamed in for {args.stream:.0f} s")
    print(f"slowest page after its first load: {worst:.3f} s (target < 1 s)")
    sys.exit(0 if worst < 1.0 else 1)


if __name__ == "__main__":
    main()
