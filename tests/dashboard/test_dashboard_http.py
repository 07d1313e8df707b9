"""The dashboard over HTTP without a browser: the login gate beyond localhost, the key cookie,
and the result cache following new data."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import msgspec
import pytest
import uvicorn
from typer.testing import CliRunner

from microfunnel.cli.report import app as report_app
from microfunnel.project import CreatedProject
from microfunnel.server.app import create_app
from microfunnel.server.dashboard.cache import ResultCache
from microfunnel.server.dashboard.routes import CACHE
from microfunnel.server.serve import ServerThread
from microfunnel.sim import simulate
from tests.helpers import new_project


@pytest.fixture
def shop(tmp_path: Path) -> CreatedProject:
    return new_project(tmp_path / "shop", name="gate shop")


@pytest.fixture
def client(shop: CreatedProject) -> Iterator[httpx.Client]:
    """A real server on loopback with local_ok off: pages behave as on a public address."""
    server = ServerThread([shop.project])
    app = create_app([shop.project], local_ok=False)
    server.server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    server.thread = threading.Thread(target=server.server.run, daemon=True)
    url = server.start()
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c
    finally:
        server.stop()


def send(client: httpx.Client, write_key: str, days: int, start: date) -> int:
    events = list(simulate(days=days, visitors_per_day=20, seed=days, start=start))
    body = msgspec.json.encode({"batch": events})
    answer = client.post(
        "/v1/events", content=body, headers={"Authorization": f"Bearer {write_key}"}
    )
    assert answer.status_code == 200
    runtime = client.app.state.hub.runtimes[0]  # type: ignore[attr-defined]
    assert runtime.writer.drain(timeout=30)
    return int(answer.json()["accepted"])


def test_pages_ask_for_a_key_beyond_localhost(client: httpx.Client, shop: CreatedProject) -> None:
    for path in ("/", "/funnel?step=view_item&step=purchase", "/data"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")
    form = client.get("/login?next=/data")
    assert form.status_code == 200 and 'name="key"' in form.text
    assert client.get("/static/app.css").status_code == 200  # assets need no key


def test_login_sets_a_strict_httponly_cookie(client: httpx.Client, shop: CreatedProject) -> None:
    wrong = client.post("/login", data={"key": "mfs_nope", "next": "/data"})
    assert wrong.status_code == 403 and "Unknown key" in wrong.text
    write = client.post("/login", data={"key": shop.write_key, "next": "/data"})
    assert write.status_code == 403 and "write key" in write.text
    ok = client.post(
        "/login", data={"key": shop.secret_key, "next": "/data"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/data"
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith("mf_key=") and "HttpOnly" in cookie
    assert re.search(r"SameSite=strict", cookie, re.I)
    page = client.get("/data")
    assert page.status_code == 200 and "No events yet" in page.text
    client.cookies.clear()
    assert client.get("/data", follow_redirects=False).status_code == 303


def test_login_only_redirects_within_the_site(client: httpx.Client, shop: CreatedProject) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        ok = client.post(
            "/login", data={"key": shop.secret_key, "next": target}, follow_redirects=False
        )
        assert ok.headers["location"] == "/"


def test_results_are_cached_then_served_stale_while_refreshing(
    client: httpx.Client, shop: CreatedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {"Authorization": f"Bearer {shop.secret_key}"}
    first = send(client, shop.write_key, days=3, start=date(2024, 5, 1))

    def shown() -> tuple[int, str]:
        page = client.get("/data", headers=headers)
        assert page.status_code == 200
        found = re.search(r'id="total-events">([\d,]+)<', page.text)
        note = re.search(r'id="freshness" data-fresh="(\w+)">\s*([^<]*)<', page.text)
        assert found is not None and note is not None
        return int(found.group(1).replace(",", "")), note.group(1) + ": " + note.group(2)

    assert shown()[0] == first
    hits = CACHE.hits
    count, note = shown()
    assert count == first and note.startswith("yes: computed")
    assert CACHE.hits > hits  # the second view came from the cache
    monkeypatch.setattr(CACHE, "grace", 0.0)
    second = send(client, shop.write_key, days=2, start=date(2024, 5, 10))
    count, note = shown()  # new data: the last result at once, capped by min_interval
    assert count == first and note.startswith("no: ") and "new events arrived" in note
    monkeypatch.setattr(CACHE, "min_interval", 0.0)
    count, note = shown()  # now the refresh starts in the background
    assert count == first and "refreshing" in note
    assert CACHE.wait(60)
    count, note = shown()
    assert count == first + second and note.startswith("yes")


def test_a_bad_question_renders_the_library_message(
    client: httpx.Client, shop: CreatedProject
) -> None:
    headers = {"Authorization": f"Bearer {shop.secret_key}"}
    send(client, shop.write_key, days=2, start=date(2024, 5, 1))
    page = client.get("/trends?event=add_to_crat", headers=headers)
    assert page.status_code == 400
    assert "add_to_cart" in page.text  # the library suggests the closest name
    assert '<form class="controls' in page.text  # and the controls stay usable


def test_a_malformed_page_address_gets_a_page_and_the_api_json(
    client: httpx.Client, shop: CreatedProject
) -> None:
    key = {"Authorization": f"Bearer {shop.secret_key}"}
    browser = {"Accept": "text/html,application/xhtml+xml", **key}
    page = client.get("/paths?depth=<b>abc</b>", headers=browser)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    shown = '<div class="error" role="alert">`query.depth`: Input should be a valid integer'
    assert shown in page.text
    assert "<b>abc</b>" not in page.text  # nothing of the address is echoed as markup
    api = client.get("/api/events/tail?limit=0", headers=browser)
    assert api.status_code == 400 and api.json()["error"]["field"] == "query.limit"
    script = client.get("/paths?depth=abc", headers=key)
    assert script.status_code == 400 and script.json()["error"]["code"] == "invalid_input"


def test_cache_computes_a_missing_result_once() -> None:
    cache, calls = ResultCache(max_entries=2, min_interval=0.0), []
    for _ in range(3):
        assert cache.get(("p", 1), "k", lambda: calls.append(1) or 7) == 7
    assert len(calls) == 1
    assert cache.get(("p", 2), "k", lambda: calls.append(1) or 8) == 8  # new data version
    for key in ("a", "b", "c"):
        cache.get(("p", 2), key, lambda: 0)
    assert cache.get(("p", 2), "k", lambda: 9) == 9  # evicted beyond max_entries


def test_cache_serves_stale_and_recomputes_one_at_a_time() -> None:
    cache = ResultCache(min_interval=0.0, grace=0.0)
    release, calls = threading.Event(), []

    def slow(value: int) -> int:
        calls.append(value)
        assert release.wait(10)
        return value

    release.set()
    assert cache.get(("p", 1), "k", lambda: slow(1)) == 1
    release.clear()
    stale = [cache.lookup(("p", 2), "k", lambda: slow(2)) for _ in range(3)]
    assert [(s.value, s.fresh, s.refreshing) for s in stale] == [(1, False, True)] * 3
    assert calls == [1, 2]  # one background computation for the key, not three
    release.set()
    assert cache.wait(10)
    fresh = cache.lookup(("p", 2), "k", lambda: slow(3))
    assert (fresh.value, fresh.fresh) == (2, True) and calls == [1, 2]


def test_cache_caps_how_often_a_key_is_recomputed() -> None:
    cache = ResultCache(min_interval=3600.0, grace=0.0)
    assert cache.get(("p", 1), "k", lambda: 1) == 1
    for version in (2, 3, 4):  # events keep arriving
        got = cache.lookup(("p", version), "k", lambda: 99)
        assert (got.value, got.fresh, got.refreshing) == (1, False, False)
    assert cache.refreshes == 0
    now = cache.lookup(("p", 5), "k", lambda: 5, wait=True)  # "?fresh=1": recompute, wait
    assert (now.value, now.fresh) == (5, True)


def test_cache_grace_serves_a_quick_recomputation_fresh() -> None:
    cache = ResultCache(min_interval=0.0, grace=5.0)
    assert cache.get(("p", 1), "k", lambda: 1) == 1
    got = cache.lookup(("p", 2), "k", lambda: 2)
    assert (got.value, got.fresh) == (2, True)


def test_a_failed_background_refresh_is_recomputed_in_the_foreground() -> None:
    cache = ResultCache(min_interval=0.0, grace=5.0)
    assert cache.get(("p", 1), "k", lambda: 1) == 1

    def broken() -> int:
        raise ValueError("no such event")

    assert cache.lookup(("p", 2), "k", broken).value == 1  # the last good result
    assert cache.wait(10)
    with pytest.raises(ValueError, match="no such event"):
        cache.get(("p", 2), "k", broken)


def test_report_command_writes_one_offline_file(shop: CreatedProject, tmp_path: Path) -> None:
    store = shop.project.open_store()
    store.insert_events(list(simulate(days=15, visitors_per_day=25, seed=5)))
    store.close()
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        report_app, ["--out", str(out), "--project", str(shop.project.path), "-s", "view_item",
                     "-s", "add_to_cart", "-s", "purchase", "--window", "48"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<script src" not in html and 'rel="stylesheet"' not in html
    assert html.count('class="chart') >= 8 and "microfunnelCharts" in html
    assert "48.0 h" in html and 'id="bottleneck"' in html
    empty = CliRunner().invoke(report_app, ["--out", str(out), "--project", str(tmp_path)])
    assert empty.exit_code == 2
