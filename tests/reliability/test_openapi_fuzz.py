"""Schemathesis against the app's OpenAPI schema, on a real server with a secret key: every
endpoint, a few generated requests each; no 5xx, and every 4xx is JSON that names the problem."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microfunnel.server.app import create_app
from tests.helpers import new_project
from tests.reliability.common import bearer, page_views, serve_app

EXAMPLES = 2
BUDGET_SECONDS = 12.0


def test_every_endpoint_answers_without_5xx_and_errors_are_json(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    app = create_app([created.project], local_ok=False)
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    with serve_app(app) as url:
        httpx.post(
            f"{url}/v1/events", json={"batch": page_views(20)}, headers=bearer(created.write_key)
        ).raise_for_status()

        def fuzz(operation: Any) -> None:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            @given(data=st.data())
            def run(data: st.DataObject) -> None:
                nonlocal calls
                case = data.draw(operation.as_strategy())
                key = created.secret_key if case.path.startswith("/api/") else created.write_key
                response = case.call(base_url=url, headers=bearer(key), timeout=30)
                calls += 1
                where = f"{case.method} {case.formatted_path}: {response.status_code}"
                if response.status_code >= 500:
                    failures.append(f"{where} {response.text[:200]}")
                elif response.status_code >= 400:
                    try:
                        error = response.json().get("error", {})
                    except ValueError:
                        error = {}
                    if not (error.get("code") and len(error.get("message", "")) > 5):
                        failures.append(f"{where} not a JSON error: {response.text[:200]}")

            run()

        for operation in operations:
            if time.monotonic() - started > BUDGET_SECONDS:
                break
            fuzz(operation)
    assert calls >= min(len(operations), 15)  # endpoints exercised within the budget
    assert not failures, "\n".join(failures[:20])
