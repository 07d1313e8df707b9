"""Running the server: ``microfunnel serve`` and the ``make run`` demo."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from microfunnel.config import Project
from microfunnel.events.model import Event
from microfunnel.ingest.workers import tune_gc
from microfunnel.server.app import create_app

__all__ = ["ServerThread", "run_demo", "send_events", "serve_forever"]

console = Console()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config(projects: Sequence[Project], host: str, port: int) -> uvicorn.Config:
    app = create_app(projects, local_ok=is_loopback(host))
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)


def serve_forever(projects: Sequence[Project], *, host: str, port: int) -> None:
    console.print(f"microfunnel on [bold]http://{host}:{port}/[/bold]  (Ctrl-C stops)")
    if not is_loopback(host):
        console.print("bound beyond localhost: the dashboard and API ask for a secret key")
    tune_gc()
    uvicorn.Server(_config(projects, host, port)).run()


class ServerThread:
    """A real uvicorn server on its own thread (the demo and the tests use it)."""

    def __init__(self, projects: Sequence[Project], *, host: str = "127.0.0.1", port: int = 0):
        self.server = uvicorn.Server(_config(projects, host, port))
        self.thread = threading.Thread(target=self.server.run, name="microfunnel-http", daemon=True)
        self.host = host

    def start(self, timeout: float = 30.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    def drain(self, timeout: float = 120.0) -> None:
        """Wait until every project's writer has stored what the server accepted."""
        app = self.server.config.app
        assert isinstance(app, FastAPI)
        for runtime in app.state.hub.runtimes:
            runtime.writer.drain(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def send_events(
    base_url: str,
    write_key: str,
    events: Iterable[Event],
    *,
    batch: int = 500,
    total: int | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Send events to a collector in batches (with a progress bar); returns the summed answers."""
    sums = {"accepted": 0, "quarantined": 0, "duplicates": 0}
    headers = {"Authorization": f"Bearer {write_key}", "Content-Type": "application/json"}
    columns: list[Any] = [
        TextColumn("sending demo events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=60) as client,
        Progress(*columns, console=console, disable=not progress) as bar,
    ):
        task = bar.add_task("send", total=total)
        chunk: list[Event] = []

        def flush() -> None:
            body = msgspec.json.encode({"batch": chunk})
            response = client.post("/v1/events", content=body)
            response.raise_for_status()
            for k, v in response.json().items():
                sums[k] += v
            bar.advance(task, len(chunk))
            chunk.clear()

        for event in events:
            chunk.append(event)
            if len(chunk) >= batch:
                flush()
        if chunk:
            flush()
    return sums


def run_demo(
    folder: Path, *, host: str, port: int, days: int = 28, visitors_per_day: int = 400
) -> None:
    """Create (once) a demo project, seed it through the collector, then keep serving."""
    from microfunnel.project import init_project
    from microfunnel.sim import simulate

    fresh = not (folder / "microfunnel.toml").exists()
    secret = None
    if fresh:
        created = init_project(folder, name="demo shop")
        secret = created.secret_key
        _write_demo_experiments(folder)
    project = Project(folder)
    server = ServerThread([project], host=host, port=port)
    url = server.start()
    write_key = project.keys.write[0]
    if fresh:
        start = date.today() - timedelta(days=days)  # the last `days` days, ending today
        events = list(simulate(days=days, visitors_per_day=visitors_per_day, seed=7, start=start))
        sums = send_events(url, write_key, events, total=len(events))
        with console.status("storing the events…"):
            server.drain()  # the dashboard opens on every seeded event
        console.print(
            f"seeded {sums['accepted']} events; {sums['quarantined']} failed the tracking plan "
            "(the shop's checkout sends error types the plan does not know: see Data > Quarantine)"
        )
    console.print(f"\n[bold green]microfunnel is running:[/bold green] [bold]{url}/[/bold]")
    console.print(f"  project folder: {folder}")
    console.print(f"  write key:  {write_key}")
    if secret:
        console.print(
            f"  secret key: {secret}  (shown once; the dashboard on localhost needs none)"
        )
    console.print("  Ctrl-C stops the server.")
    try:
        while server.thread.is_alive():
            server.thread.join(0.5)
    except KeyboardInterrupt:
        console.print("stopping…")
        server.stop()


def _write_demo_experiments(folder: Path) -> None:
    from microfunnel.sim.experiments import demo_experiments_yaml, demo_hypotheses_yaml

    (folder / "experiments.yaml").write_text(demo_experiments_yaml())
    (folder / "hypotheses.yaml").write_text(demo_hypotheses_yaml())
