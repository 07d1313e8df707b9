"""Keys and isolation: write keys only write, a project's keys never reach another project,
secrets are kept hashed, rate limits answer 429, CORS only on collector paths, and beyond
localhost the API and dashboard need a secret key."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest

from microfunnel.server.app import create_app
from microfunnel.server.ratelimit import RateLimited, RateLimits
from tests.helpers import new_project
from tests.reliability.common import (
    bearer,
    page_views,
    serve_app,
    stored_ids,
    until,
    with_settings,
)


def test_write_keys_cannot_read_and_secret_keys_cannot_write(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    app = create_app([created.project], local_ok=False)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        write = bearer(created.write_key)
        reads = [
            client.get("/api/events/count", headers=write),
            client.get("/api/quarantine", headers=write),
            client.get("/api/plan", headers=write),
            client.get("/api/trends", params={"event": "page_view"}, headers=write),
            client.post("/api/forget", json={"user_id": "u1"}, headers=write),
            client.post("/api/funnel", json={"steps": ["page_view"]}, headers=write),
        ]
        sent = client.post("/v1/events", json=page_views(1)[0], headers=bearer(created.secret_key))
    for r in reads:
        assert r.status_code == 403, (r.request.url, r.status_code)
        assert "secret key" in r.json()["error"]["message"]
    assert sent.status_code == 403 and "write key" in sent.json()["error"]["message"]


def test_a_project_key_never_reads_or_writes_another_project(tmp_path: Path) -> None:
    a, b = new_project(tmp_path / "a"), new_project(tmp_path / "b")
    app = create_app([a.project, b.project], local_ok=False)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        user = {"user_id": "shared-user"}
        client.post(
            "/v1/events", json={"batch": page_views(3, "a", **user)}, headers=bearer(a.write_key)
        ).raise_for_status()
        client.post(
            "/v1/events", json={"batch": page_views(5, "b", **user)}, headers=bearer(b.write_key)
        ).raise_for_status()

        def count(secret: str) -> int:
            return int(client.get("/api/events/count", headers=bearer(secret)).json()["count"])

        assert until(lambda: count(a.secret_key) == 3 and count(b.secret_key) == 5)
        counts = {"a": count(a.secret_key), "b": count(b.secret_key)}
        tail_a = client.get("/api/events/tail", headers=bearer(a.secret_key)).json()
        forgot = client.post("/api/forget", json=user, headers=bearer(a.secret_key)).json()
        after_b = client.get("/api/events/count", headers=bearer(b.secret_key)).json()["count"]
        flags_a = client.get(f"/api/features/{a.write_key}")
        no_keyless = client.get("/api/events/count")  # two projects: no keyless default
    assert counts == {"a": 3, "b": 5}
    assert {e["event_id"] for e in tail_a} == {"a0", "a1", "a2"}
    assert forgot["events_removed"] == 3 and after_b == 5
    assert flags_a.status_code == 200
    assert no_keyless.status_code == 401


def test_secret_keys_are_stored_only_as_hashes(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    text = (tmp_path / "p" / "keys.json").read_text()
    data = json.loads(text)
    assert created.secret_key not in text
    assert hashlib.sha256(created.secret_key.encode()).hexdigest() in text
    assert created.write_key in data["write"]  # write keys are public by design
    assert all(set(entry) >= {"sha256", "prefix"} for entry in data["secret"])
    assert created.project.keys.is_secret(created.secret_key)
    assert not created.project.keys.is_secret(data["secret"][0]["sha256"])  # the hash opens nothing


def test_the_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    limits = RateLimits(clock=lambda: now[0])
    for _ in range(3):
        limits.check("k", 3.0)  # a burst of one second's worth
    with pytest.raises(RateLimited) as denied:
        limits.check("k", 3.0)
    assert denied.value.status == 429 and denied.value.retry_after == 1
    limits.check("other", 3.0)  # buckets are per key
    now[0] += 0.34
    limits.check("k", 3.0)
    with pytest.raises(RateLimited):
        limits.check("k", 3.0)
    now[0] += 10
    for _ in range(3):  # refilled, but never beyond the burst
        limits.check("k", 3.0)
    with pytest.raises(RateLimited):
        limits.check("k", 3.0)
    slow = RateLimits(clock=lambda: now[0])
    slow.check("s", 0.1)
    with pytest.raises(RateLimited) as wait:
        slow.check("s", 0.1)
    assert wait.value.retry_after == 10
    for _ in range(1000):
        limits.check("free", 0.0)  # 0 is unlimited


def test_rate_limits_answer_429_with_retry_after_per_key(tmp_path: Path) -> None:
    a, b = new_project(tmp_path / "a"), new_project(tmp_path / "b")
    limited = with_settings(tmp_path / "a", rate_limit_per_second=1.0)
    app = create_app([limited, b.project], local_ok=False)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        started = time.monotonic()
        answers = [
            client.post("/v1/events", json=page_views(1, f"r{i}-")[0], headers=bearer(a.write_key))
            for i in range(6)
        ]
        reads = [client.get("/api/events/count", headers=bearer(a.secret_key)) for _ in range(4)]
        elapsed = time.monotonic() - started
        others = [
            client.post("/v1/events", json=page_views(1, f"o{i}-")[0], headers=bearer(b.write_key))
            for i in range(6)
        ]
        denied = next(r for r in answers if r.status_code == 429)
        time.sleep(int(denied.headers["retry-after"]))
        again = client.post(
            "/v1/events", json=page_views(1, "late")[0], headers=bearer(a.write_key)
        )
    ok = [r for r in answers if r.status_code == 200]
    assert {r.status_code for r in answers} == {200, 429}
    assert len(ok) <= 1 + elapsed * 1.0 + 1  # the burst plus what the rate refilled
    assert {r.status_code for r in reads} >= {429}  # the secret key has its own bucket
    assert denied.json()["error"]["code"] == "rate_limited"
    assert int(denied.headers["retry-after"]) >= 1
    assert [r.status_code for r in others] == [200] * 6  # another key is not slowed down
    assert again.status_code == 200
    stored = stored_ids(limited)
    assert len(stored) == len(ok) + 1  # refused requests were not acknowledged, nor stored


def test_cors_headers_only_on_collector_paths(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    origin = {"Origin": "https://shop.example"}
    with serve_app(create_app([created.project], local_ok=True)) as url:
        preflight = httpx.options(
            f"{url}/v1/events", headers={**origin, "Access-Control-Request-Method": "POST"}
        )
        posted = httpx.post(
            f"{url}/v1/events",
            json=page_views(1)[0],
            headers={**origin, **bearer(created.write_key)},
        )
        flags = httpx.get(f"{url}/api/features/{created.write_key}", headers=origin)
        not_collector = [
            httpx.get(f"{url}/api/events/count", headers={**origin, **bearer(created.secret_key)}),
            httpx.options(
                f"{url}/api/events/count",
                headers={**origin, "Access-Control-Request-Method": "GET"},
            ),
            httpx.get(f"{url}/", headers=origin),
            httpx.get(f"{url}/healthz", headers=origin),
        ]
    for r in (preflight, posted, flags):
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    for r in not_collector:
        assert "access-control-allow-origin" not in r.headers, r.request.url


def test_beyond_localhost_the_api_and_dashboard_need_a_secret_key(tmp_path: Path) -> None:
    created = new_project(tmp_path / "p")
    with serve_app(create_app([created.project], local_ok=False)) as url:
        api = httpx.get(f"{url}/api/events/count")
        page = httpx.get(f"{url}/", follow_redirects=False)
        wrong = httpx.get(f"{url}/api/events/count", headers=bearer("mfs_not-a-key"))
        keyed = httpx.get(f"{url}/api/events/count", headers=bearer(created.secret_key))
        cookie = httpx.get(f"{url}/", cookies={"mf_key": created.secret_key})
    with serve_app(create_app([created.project], local_ok=True)) as url:
        local_api = httpx.get(f"{url}/api/events/count")
        local_page = httpx.get(f"{url}/")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert "secret key" in api.json()["error"]["message"]
    assert page.status_code in (303, 307, 401, 403) and "overview" not in page.text.lower()
    assert wrong.status_code == 403
    assert keyed.status_code == 200 and cookie.status_code == 200
    assert local_api.status_code == 200 and local_page.status_code == 200
