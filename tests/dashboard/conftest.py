"""A small demo shop behind a real server, seeded once per test module through the collector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from microfunnel.ingest.runtime import Runtime
from microfunnel.server.serve import ServerThread, send_events
from microfunnel.sim import simulate
from microfunnel.sim.experiments import demo_experiments_yaml
from tests.helpers import new_project

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "dashboard"


@dataclass
class Site:
    url: str
    secret: str
    runtime: Runtime
    folder: Path

    def api(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60)


def _drain(site: Site, expected: int) -> None:
    deadline = time.monotonic() + 60
    while site.api("/api/events/count").json()["count"] < expected:
        if time.monotonic() > deadline:
            raise AssertionError("the writer did not store every accepted event in 60 s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("dashboard") / "shop"
    created = new_project(folder, name="test shop")
    (folder / "experiments.yaml").write_text(demo_experiments_yaml())
    server = ServerThread([created.project], host="127.0.0.1", port=0)
    url = server.start()
    try:
        runtime = server.server.config.app.state.hub.runtimes[0]
        site = Site(url, created.secret_key, runtime, folder)
        events = simulate(days=28, visitors_per_day=45, seed=11)
        sums = send_events(url, created.write_key, events, batch=1000, progress=False)
        assert sums["accepted"] > 10_000 and sums["quarantined"] > 0
        _drain(site, sums["accepted"])
        yield site
    finally:
        server.stop()
