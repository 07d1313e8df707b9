"""The browser snippet in headless Chromium, against a tiny loopback collector.

One local ``http.server`` serves the test shop, the snippet and a features payload, and records
the events the snippet posts; the assertions read those events as the collector would see them.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import sync_playwright
from tests.helpers import new_project, running_server

from microfunnel.experiments.features import Evaluator
from microfunnel.experiments.payload import build_payload

SNIPPET = files("microfunnel.sdk").joinpath("static/microfunnel.js").read_bytes()
SHOP = (Path(__file__).parent / "shop.html").read_bytes()
CASES = Path(__file__).parents[1] / "experiments" / "growthbook" / "cases.json"
WRITE_KEY = "wk_browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

FLAGS = [
    {"key": "checkout-popup", "type": "boolean", "default": False,
     "rules": [{"type": "experiment", "id": "popup", "experiment": "popup-test"}]},
    {"key": "free-shipping", "type": "boolean", "default": False,
     "rules": [{"type": "experiment", "id": "ship", "experiment": "shipping-test"}]},
    {"key": "banner", "type": "string", "default": "none",
     "rules": [
         {"type": "force", "id": "mobile", "condition": {"device": "mobile"}, "value": "mobile"},
         {"type": "rollout", "id": "some", "value": "rollout", "coverage": 0.3, "holdout": 0.1},
     ]},
]  # fmt: skip
EXPERIMENTS = [
    {"key": "popup-test", "weights": [0.4, 0.6],
     "variations": [{"key": "control", "value": False}, {"key": "popup", "value": True}]},
    {"key": "shipping-test", "coverage": 0.8, "namespace": {"id": "checkout", "range": [0, 0.7]},
     "variations": [{"key": "control", "value": False}, {"key": "free", "value": True}]},
]  # fmt: skip
PAYLOAD = build_payload(FLAGS, EXPERIMENTS, date_updated="2025-01-01T00:00:00.000Z")


@dataclass
class Collector:
    """What the loopback collector received."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def named(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["event"] == name]

    def wait(self, name: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(found := self.named(name)) < count:
            if time.monotonic() > deadline:
                seen = [e["event"] for e in self.events]
                raise AssertionError(f"expected {count} x {name} within {timeout} s; got {seen}")
            time.sleep(0.02)
        return found


def handler_for(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/shop.html":
                self._send(200, SHOP, "text/html")
            elif path == "/microfunnel.js":
                self._send(200, SNIPPET, "application/javascript")
            elif path == f"/api/features/{WRITE_KEY}":
                self._send(200, json.dumps(PAYLOAD).encode(), "application/json")
            else:
                self._send(404, b"{}", "application/json")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            payload = json.loads(body)
            if self.path != "/v1/events" or payload.get("write_key") != WRITE_KEY:
                collector.rejected += 1
                self._send(401, b'{"error": {"code": "auth", "message": "bad key"}}', "")
                return
            with collector.lock:
                collector.events.extend(payload["batch"])
            answer = {"accepted": len(payload["batch"]), "quarantined": 0, "duplicates": 0}
            self._send(200, json.dumps(answer).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type or "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    received = Collector()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(received))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    assert received.rejected == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    yield context.new_page()
    context.close()


def scroll_to(page: Any, fraction: float) -> None:
    page.evaluate(
        "f => window.scrollTo(0, f * (document.documentElement.scrollHeight - innerHeight))",
        fraction,
    )


def applied_events(url: str) -> int:
    projects = httpx.get(f"{url}/healthz").json()["projects"]
    return sum(p["writer_applied_events"] for p in projects)


def test_snippet_is_small() -> None:
    size = len(gzip.compress(SNIPPET, compresslevel=9))
    assert size < 10 * 1024, f"microfunnel.js is {size} bytes gzipped; the budget is 10 KB"


@pytest.mark.browser
def test_shop_events_arrive(page: Any, collector: tuple[Collector, str]) -> None:
    received, base = collector
    page.goto(f"{base}/shop.html?consent=1&utm_source=newsletter")
    [view] = received.wait("page_view")
    anonymous_id = view["anonymous_id"]
    assert anonymous_id and view["session_id"]
    assert view["context"]["utm_source"] == "newsletter"
    assert view["context"]["page_path"] == "/shop.html"
    assert view["context"]["device"] == "desktop"
    assert view["context"]["consent"] == {"analytics": True}
    assert view["context"]["library"]["name"] == "microfunnel.js"
    assert view["properties"]["page_title"] == "Trail Boots - Test Shop"
    [item] = received.wait("view_item")
    assert item["properties"]["items"][0]["item_id"] == "SKU-1"

    for fraction in (0.3, 0.6, 1.0, 0.0, 1.0):
        scroll_to(page, fraction)
        page.wait_for_timeout(60)
    received.wait("scroll_depth", 4)
    page.wait_for_timeout(300)
    assert [e["properties"]["percent"] for e in received.named("scroll_depth")] == [25, 50, 75, 90]

    scroll_to(page, 0)
    page.click("#size-guide")
    [guide] = received.wait("size_guide_open")
    assert guide["properties"] == {"item_id": "SKU-1", "item_name": "Trail Boots", "price": 30}

    page.click("#add-to-cart")
    [cart] = received.wait("add_to_cart")
    assert cart["properties"]["currency"] == "EUR"
    assert cart["properties"]["value"] == 60
    assert cart["properties"]["items"] == [
        {"item_id": "SKU-1", "item_name": "Trail Boots", "price": 30, "item_category": "shoes",
         "quantity": 2}
    ]  # fmt: skip
    page.click("#checkout")
    page.click("#card-declined")
    assert received.wait("begin_checkout")[0]["properties"]["value"] == 60
    [error] = received.wait("checkout_error")
    assert error["properties"] == {"error_type": "payment_declined", "step": "payment"}
    page.evaluate("mf.purchase({transaction_id: 'T-1', tax: 4, items: [{id: 'SKU-1', price: 30}]})")
    [order] = received.wait("purchase")
    assert order["properties"] == {
        "currency": "EUR",
        "value": 30,
        "items": [{"item_id": "SKU-1", "price": 30}],
        "transaction_id": "T-1",
        "tax": 4,
    }

    page.mouse.move(600, 300)
    page.mouse.move(600, 5)
    page.mouse.move(600, -40)
    page.mouse.move(600, 300)
    page.mouse.move(600, -40)
    [exit_intent] = received.wait("exit_intent")
    assert exit_intent["properties"] == {"page_path": "/shop.html"}

    page.goto(f"{base}/shop.html?consent=1&page=2")  # pagehide: engaged time, by beacon
    [engaged] = received.wait("engaged_time")
    assert 0 < engaged["properties"]["seconds"] < 60
    second_view = received.wait("page_view", 2)[1]
    assert second_view["anonymous_id"] == anonymous_id
    assert second_view["session_id"] == view["session_id"]
    ids = [e["event_id"] for e in received.events]
    assert len(ids) == len(set(ids))
    assert {e["anonymous_id"] for e in received.events} == {anonymous_id}
    assert len(received.named("exit_intent")) == 1


@pytest.mark.browser
def test_consent_given_late(page: Any, collector: tuple[Collector, str]) -> None:
    received, base = collector
    page.goto(f"{base}/shop.html")
    page.click("#add-to-cart")
    before = [received.wait("page_view")[0], received.wait("add_to_cart")[0]]
    for event in before:
        assert not {"anonymous_id", "user_id", "session_id"} & set(event)
        assert event["context"]["consent"] == {"analytics": False}
    assert page.evaluate("Object.keys(localStorage)") == []
    assert page.evaluate("document.cookie") == ""

    page.evaluate("mf.consent(true); mf.identify('user-42', {plan: 'pro'})")
    page.click("#size-guide")
    [identify] = received.wait("$identify")
    [after] = received.wait("size_guide_open")
    anonymous_id = after["anonymous_id"]
    assert anonymous_id and after["user_id"] == "user-42"
    assert identify["anonymous_id"] == anonymous_id and identify["user_id"] == "user-42"
    assert after["context"]["consent"] == {"analytics": True}
    assert page.evaluate("localStorage.getItem('mf_aid')") == anonymous_id
    assert page.evaluate("document.cookie") == ""

    page.goto(f"{base}/shop.html?consent=1")
    assert received.wait("page_view", 2)[1]["anonymous_id"] == anonymous_id  # kept

    page.evaluate("mf.consent(false); mf.track('newsletter_signup', {})")
    [withdrawn] = received.wait("newsletter_signup")
    assert not {"anonymous_id", "user_id", "session_id"} & set(withdrawn)
    assert page.evaluate("Object.keys(localStorage)") == []


@pytest.mark.browser
def test_a_triggered_flag_is_exposed_only_when_its_trigger_fires(
    page: Any, collector: tuple[Collector, str]
) -> None:
    received, base = collector
    page.goto(f"{base}/shop.html?consent=1")
    anonymous_id = received.wait("page_view")[0]["anonymous_id"]
    page.evaluate(
        """() => {
        window.served = {};
        mf.flag('checkout-popup', {trigger: {scrollPercent: 50}})
          .then(v => { window.served.popup = v; });
        mf.flag('free-shipping', {trigger: {cartValueAbove: 100, device: 'desktop'},
                                  onTrigger: v => { window.served.shipping = v; }});
        }"""
    )
    page.click("#add-to-cart")  # cart value 60: not above 100 yet
    received.wait("add_to_cart")
    page.wait_for_timeout(400)
    assert received.named("experiment_exposure") == []
    assert page.evaluate("window.served") == {}

    scroll_to(page, 1.0)
    [popup] = received.wait("experiment_exposure")
    expected = Evaluator.from_payload(PAYLOAD).eval_feature("checkout-popup", {"id": anonymous_id})
    assert expected.experiment_result is not None
    assert popup["properties"] == {
        "experiment_id": "popup-test",
        "variation_id": expected.experiment_result.key,
        "feature_id": "checkout-popup",
        "trigger": "scrollPercent:50",
    }
    assert popup["anonymous_id"] == anonymous_id
    assert page.evaluate("window.served") == {"popup": expected.value}

    page.click("#add-to-cart")  # cart value 120
    page.wait_for_function("window.served.shipping !== undefined", timeout=5000)
    shipping = Evaluator.from_payload(PAYLOAD).eval_feature("free-shipping", {"id": anonymous_id})
    assert page.evaluate("window.served.shipping") == shipping.value
    exposed = [e["properties"]["experiment_id"] for e in received.named("experiment_exposure")]
    if shipping.source == "experiment":
        received.wait("experiment_exposure", 2)
        assert received.named("experiment_exposure")[1]["properties"]["trigger"] == (
            "cartValueAbove:100,device:desktop"
        )
    else:  # outside the namespace or coverage: the arm is not served, nothing is exposed
        page.wait_for_timeout(300)
        assert exposed == ["popup-test"]

    page.evaluate("mf.flag('checkout-popup').then(v => { window.again = v; })")
    page.wait_for_function("window.again !== undefined", timeout=5000)
    page.wait_for_timeout(300)
    popups = [
        e for e in received.named("experiment_exposure")
        if e["properties"]["experiment_id"] == "popup-test"
    ]  # fmt: skip
    assert len(popups) == 1  # once per user and experiment


@pytest.mark.browser
def test_the_snippet_evaluates_like_the_server(page: Any, collector: tuple[Collector, str]) -> None:
    _, base = collector
    page.goto(f"{base}/shop.html?consent=1")
    page.wait_for_function("mf && mf.evaluate('banner', {id: 'x'}) !== null", timeout=5000)
    reference = Evaluator.from_payload(PAYLOAD)
    users = [{"id": f"user-{i}", "device": ("desktop", "mobile")[i % 7 == 0]} for i in range(300)]
    for key in ("checkout-popup", "free-shipping", "banner"):
        ours = page.evaluate("([key, users]) => users.map(u => mf.evaluate(key, u))", [key, users])
        theirs = [reference.eval_feature(key, user).value for user in users]
        assert ours == theirs, key
        assert len(set(map(json.dumps, theirs))) > 1  # the users really are split


@pytest.mark.browser
def test_growthbook_conformance_subset(page: Any, collector: tuple[Collector, str]) -> None:
    _, base = collector
    cases = json.loads(CASES.read_text())
    page.goto(f"{base}/shop.html")
    check = page.evaluate
    hashes = check("cs => cs.map(([s, v, ver]) => mf._internals.hash(s, v, ver))", cases["hash"])
    assert hashes == [case[3] for case in cases["hash"]]
    ranges = check(
        "cs => cs.map(([, [n, c, w]]) => mf._internals.bucketRanges(n, c, w))",
        cases["getBucketRange"],
    )
    for got, case in zip(ranges, cases["getBucketRange"], strict=True):
        flat = [bound for pair in got for bound in pair]
        assert flat == pytest.approx([bound for pair in case[2] for bound in pair]), case[0]
    supported = [c for c in cases["evalCondition"] if len(c) == 4 and _supported(c[1])]
    assert len(supported) > 60
    results = check("cs => cs.map(([, c, a]) => mf._internals.cond(a, c))", supported)
    for got, case in zip(results, supported, strict=True):
        assert got is case[3], case[0]


SUPPORTED_OPERATORS = {"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"}
SUPPORTED_OPERATORS |= {"$and", "$or", "$not"}


def _supported(condition: Any) -> bool:
    if isinstance(condition, list):
        return all(_supported(c) for c in condition)
    if isinstance(condition, dict):
        return all(
            (not k.startswith("$") or k in SUPPORTED_OPERATORS) and _supported(v)
            for k, v in condition.items()
        )
    return True


@pytest.mark.browser
def test_the_snippet_feeds_the_real_collector_from_another_origin(
    page: Any, collector: tuple[Collector, str], tmp_path: Path
) -> None:
    _, shop = collector  # the shop's origin; the collector below is another one
    created = new_project(tmp_path / "project")
    with running_server(created.project) as url:
        query = {"consent": "1", "host": url, "key": created.write_key}
        page.goto(f"{shop}/shop.html?{urlencode(query)}")
        scroll_to(page, 1.0)
        page.click("#add-to-cart")
        page.wait_for_timeout(300)
        page.goto(f"{shop}/shop.html?{urlencode({**query, 'page': 2})}")  # a beacon on pagehide
        deadline = time.monotonic() + 10
        while applied_events(url) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    with created.project.open_store() as store:
        counts = {name: store.count_events(name) for name in store.event_names()}
        assert store.quarantine_rows() == []  # every snippet event passes the default plan
        anonymous = store.query("SELECT DISTINCT anonymous_id FROM events").to_pylist()
    assert counts == {
        "page_view": 2,
        "view_item": 2,
        "scroll_depth": 4,
        "add_to_cart": 1,
        "engaged_time": 1,
    }
    assert len(anonymous) == 1 and anonymous[0]["anonymous_id"]


@pytest.mark.browser
def test_calls_queued_before_the_snippet_loads_are_replayed(
    page: Any, collector: tuple[Collector, str]
) -> None:
    received, base = collector
    page.add_init_script("window.mf = [['track', 'newsletter_signup', {location: 'footer'}]]")
    page.goto(f"{base}/shop.html")
    [signup] = received.wait("newsletter_signup")
    assert signup["properties"] == {"location": "footer"}
