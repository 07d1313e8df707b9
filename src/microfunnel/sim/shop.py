"""Event-by-event simulation of the shop: realistic journeys as :class:`~microfunnel.events.Event`.

Each day ``visitors_per_day`` new visitors arrive (device, traffic source, a diurnal start
time); about a third come back on later days with the same ``anonymous_id``, and some of those
log in (a ``$identify`` event, then ``user_id`` on every event). A session walks the funnel
``page_view -> view_item_list -> view_item (+ micro-conversions) -> add_to_cart -> view_cart ->
begin_checkout -> add_shipping_info -> add_payment_info -> purchase`` with the rates of
:data:`microfunnel.sim.catalog.BASE` and the effects of :class:`~microfunnel.sim.Planted`.
Gaps between events are log-normal (seconds to minutes, always inside the 30-minute session
window). Bots fire page views a fraction of a second apart with a crawler user agent.

The stream is deterministic for a seed and ordered by timestamp.

Examples:
    >>> from microfunnel.sim import simulate
    >>> events = list(simulate(days=2, visitors_per_day=20, seed=1))
    >>> events[0].event
    'page_view'
    >>> all(a.timestamp <= b.timestamp for a, b in zip(events, events[1:]))
    True
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from microfunnel.events.model import Event
from microfunnel.sim.catalog import (
    BASE,
    BOT_USER_AGENTS,
    CATALOG,
    CATEGORIES,
    CURRENCY,
    DEVICE_WEIGHTS,
    DIRECT,
    ERROR_TYPE_WEIGHTS,
    ERROR_TYPES,
    HOUR_WEIGHTS,
    PAYMENT_TYPE_WEIGHTS,
    PAYMENT_TYPES,
    SHIPPING_TIER_WEIGHTS,
    SHIPPING_TIERS,
    SHOP_URL,
    SOURCES,
    USER_AGENTS,
    Item,
    Source,
    atc_probability,
)
from microfunnel.sim.planted import Planted

__all__ = ["DEFAULT_START", "simulate"]

DEFAULT_START = date(2024, 4, 1)
LIBRARY = {"name": "microfunnel-sim", "version": "1"}
MAX_GAP_SECONDS = 20 * 60  # keeps every session inside the 30-minute inactivity window
SESSION_GAP = timedelta(minutes=31)
ARMS = ("control", "treatment")
_DEVICES = tuple(DEVICE_WEIGHTS)
_DEVICE_W = tuple(DEVICE_WEIGHTS.values())
_SOURCE_W = tuple(s.weight for s in SOURCES)
_RETURN_SOURCE_W = tuple(w * (3 if i == DIRECT else 1) for i, w in enumerate(_SOURCE_W))


def _uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``, so ids repeat with the seed."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _geometric(rng: random.Random, p: float) -> int:
    """Failures before the first success (0, 1, 2, ...)."""
    return int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


@dataclass
class _Visitor:
    anonymous_id: str
    device: str
    user_agent: str
    ip: str
    is_bot: bool
    arms: dict[str, str]
    user_id: str | None = None
    sessions: int = 0
    last_seen: datetime | None = None


@dataclass
class _Session:
    """Emits the events of one session, advancing its clock by log-normal gaps."""

    rng: random.Random
    visitor: _Visitor
    planted: Planted
    day: int
    t: datetime
    source: Source
    session_id: str
    out: list[Event] = field(default_factory=list)
    path: str = "/"
    referrer: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)  # context keys that hold all session

    def __post_init__(self) -> None:
        v, src = self.visitor, self.source
        self.referrer = src.referrer
        self.fixed = {"device": v.device, "user_agent": v.user_agent, "ip": v.ip}
        if src.utm_source:
            self.fixed.update(
                utm_source=src.utm_source, utm_medium=src.utm_medium, utm_campaign=src.utm_campaign
            )
        if v.is_bot:
            self.fixed["is_bot"] = True

    def emit(
        self, name: str, properties: dict[str, Any] | None = None, *, dwell: float = 12.0
    ) -> None:
        """Add one event ``dwell`` seconds (median) after the previous one."""
        if self.out:
            if self.visitor.is_bot:
                gap = self.rng.expovariate(1.0 / self.planted.bot_gap_seconds)
            else:
                gap = min(self.rng.lognormvariate(math.log(dwell), 0.8), MAX_GAP_SECONDS)
            self.t += timedelta(seconds=gap)
        if self.planted.tracking_broken(name, self.visitor.device, self.day):
            return
        v = self.visitor
        context: dict[str, Any] = {
            "page_path": self.path,
            "page_url": SHOP_URL + self.path,
            **self.fixed,
            "library": dict(LIBRARY),
            "consent": {"analytics": True},
        }
        if self.referrer:
            context["referrer"] = self.referrer
        latency = timedelta(seconds=0.04 + 1.5 * self.rng.random())
        self.out.append(
            Event(
                event=name,
                event_id=_uuid(self.rng),
                anonymous_id=v.anonymous_id,
                user_id=v.user_id,
                session_id=self.session_id,
                timestamp=self.t,
                received_at=self.t + latency,
                properties=properties or {},
                context=context,
            )
        )

    def navigate(self, path: str, *, dwell: float = 15.0) -> None:
        if self.out:
            self.referrer = SHOP_URL + self.path
        self.path = path
        self.emit("page_view", dwell=dwell)

    def view_item(self, item: Item) -> None:
        self.navigate(item.path)
        self.emit("view_item", _money([(item, 1)]), dwell=2.0)


def _money(cart: list[tuple[Item, int]], **extra: Any) -> dict[str, Any]:
    value = round(sum(item.price * qty for item, qty in cart), 2)
    items = [item.as_ga4(qty) for item, qty in cart]
    return {**extra, "currency": CURRENCY, "value": value, "items": items}


def _landing(rng: random.Random, s: _Session, first_item: Item | None, lists: bool) -> str:
    if first_item is not None and rng.random() < s.source.lands_on_product:
        return first_item.path
    if lists or s.source.utm_source is not None:
        return f"/c/{rng.choice(CATEGORIES)}"
    return "/"


def _list_props(category: str) -> dict[str, Any]:
    """A category listing as GA4 sends it: the list and the first products shown."""
    shown = [item.as_ga4() for item in CATALOG if item.item_category == category][:4]
    return {"item_list_id": category, "item_list_name": category, "items": shown}


def _bot_session(rng: random.Random, s: _Session) -> None:
    s.navigate("/")
    for _ in range(rng.randint(BASE.bot_min_events, BASE.bot_max_events)):
        if rng.random() < 0.5:
            category = rng.choice(CATEGORIES)
            s.navigate(f"/c/{category}")
            s.emit("view_item_list", _list_props(category))
        else:
            s.view_item(rng.choice(CATALOG))


def _human_session(rng: random.Random, s: _Session, *, first: bool, experiments: list[str]) -> None:
    v, p = s.visitor, s.planted
    lists = rng.random() < BASE.view_item_list
    n_items = 0
    if rng.random() < BASE.view_item:
        n_items = 1
        while n_items < BASE.max_items and rng.random() < BASE.more_items:
            n_items += 1
    viewed = [rng.choice(CATALOG) for _ in range(n_items)]
    landing = _landing(rng, s, viewed[0] if viewed else None, lists)

    s.navigate(landing)
    if first:
        for experiment_id in experiments:
            s.emit(
                "experiment_exposure",
                {"experiment_id": experiment_id, "variation_id": v.arms[experiment_id]},
                dwell=0.5,
            )
    if not first and v.user_id is None and rng.random() < BASE.login:
        v.user_id = "u_" + v.anonymous_id[:12]
        s.emit("$identify", {"user_id": v.user_id}, dwell=20.0)
    if lists:
        category = viewed[0].item_category if viewed else rng.choice(CATEGORIES)
        if landing != f"/c/{category}":
            s.navigate(f"/c/{category}")
        s.emit("view_item_list", _list_props(category), dwell=1.0)

    micro = {
        name: rng.random() < rate
        for name, rate in (
            ("image_zoom", BASE.image_zoom),
            ("size_guide_open", BASE.size_guide_open),
            ("video_play", BASE.video_play),
            ("review_read", BASE.review_read),
            ("wishlist_add", BASE.wishlist_add),
        )
    }
    at = {name: rng.randrange(n_items) for name in micro} if n_items else {}
    for i, item in enumerate(viewed):
        if i > 0 or landing != item.path:
            s.view_item(item)
        else:
            s.emit("view_item", _money([(item, 1)]), dwell=2.0)
        for name, happened in micro.items():
            if happened and at[name] == i:
                s.emit(name, {"item_id": item.item_id}, dwell=25.0)

    treatment = v.arms.get(p.experiment_id) == "treatment"
    p_atc = atc_probability(
        p,
        mobile=v.device == "mobile",
        returning=v.sessions > 1,
        size_guide=micro["size_guide_open"],
        review=micro["review_read"],
        video=micro["video_play"],
        treatment=treatment,
    )
    if viewed and rng.random() < p_atc:
        _checkout(rng, s, viewed[-1], treatment)
    if rng.random() < BASE.newsletter_signup:
        s.emit("newsletter_signup", {"method": "footer"}, dwell=30.0)


def _checkout(rng: random.Random, s: _Session, item: Item, treatment: bool) -> None:
    p = s.planted
    qty = 2 if rng.random() < BASE.second_quantity else 1
    cart = [(item, qty)]
    s.emit("add_to_cart", _money(cart), dwell=30.0)
    extra_rate = p.experiment_extra_item_rate if treatment else p.cart_extra_item_rate
    if rng.random() < extra_rate:
        extra = rng.choice(CATALOG)
        s.view_item(extra)
        cart.append((extra, 2 if rng.random() < BASE.second_quantity else 1))
        s.emit("add_to_cart", _money(cart[-1:]), dwell=30.0)
    if rng.random() < BASE.view_cart:
        s.navigate("/cart")
        s.emit("view_cart", _money(cart), dwell=1.0)
    if rng.random() >= BASE.begin_checkout:
        return
    s.navigate("/checkout")
    s.emit("begin_checkout", _money(cart), dwell=1.0)
    if rng.random() >= BASE.add_shipping_info:
        return
    tier = rng.choices(SHIPPING_TIERS, SHIPPING_TIER_WEIGHTS)[0]
    s.path = "/checkout/shipping"
    s.emit("add_shipping_info", _money(cart, shipping_tier=tier), dwell=45.0)
    if rng.random() < p.shipping_loop_rate:
        s.navigate("/cart")
        s.emit("view_cart", _money(cart), dwell=1.0)
        s.navigate("/checkout/shipping")
        s.emit("add_shipping_info", _money(cart, shipping_tier=tier), dwell=30.0)
    if rng.random() >= p.shipping_to_payment(s.visitor.device):
        return
    s.path = "/checkout/payment"
    payment = rng.choices(PAYMENT_TYPES, PAYMENT_TYPE_WEIGHTS)[0]
    s.emit("add_payment_info", _money(cart, payment_type=payment), dwell=60.0)
    buy = BASE.purchase
    if rng.random() < BASE.checkout_error:
        error = rng.choices(ERROR_TYPES, ERROR_TYPE_WEIGHTS)[0]
        s.emit("checkout_error", {"error_type": error}, dwell=10.0)
        buy = BASE.purchase_after_error
    if rng.random() >= buy:
        return
    s.navigate("/checkout/confirmation", dwell=20.0)
    s.emit("purchase", _money(cart, transaction_id="T-" + _uuid(rng)[:13]), dwell=0.5)


def _new_visitor(rng: random.Random, planted: Planted, experiments: list[str]) -> _Visitor:
    is_bot = rng.random() < planted.bot_share
    device = "desktop" if is_bot else rng.choices(_DEVICES, _DEVICE_W)[0]
    agent = rng.choice(BOT_USER_AGENTS if is_bot else USER_AGENTS[device])
    arms = {}
    for experiment_id in experiments:
        share = planted.srm_control_share if experiment_id == planted.srm_experiment_id else 0.5
        arms[experiment_id] = ARMS[0] if rng.random() < share else ARMS[1]
    ip = f"{rng.choice((192, 198, 203))}.{rng.randrange(256)}.{rng.randrange(256)}.0"
    return _Visitor(_uuid(rng), device, agent, ip, is_bot, arms)


def _return_days(rng: random.Random, day: int, days: int) -> list[int]:
    if rng.random() >= BASE.returns:
        return []
    out = [day + 1 + _geometric(rng, BASE.return_gap_days)]
    while len(out) < BASE.max_sessions - 1 and rng.random() < BASE.more_returns:
        out.append(out[-1] + 1 + _geometric(rng, BASE.return_gap_days))
    return [d for d in out if d < days]


def simulate(
    days: int = 28,
    visitors_per_day: int = 500,
    seed: int = 0,
    start: date = DEFAULT_START,
    planted: Planted | None = None,
) -> Iterator[Event]:
    """Yield the shop's events over ``days`` days from ``start`` (UTC), in timestamp order.

    ``visitors_per_day`` new visitors arrive each day; returning visitors come on top. The same
    ``seed`` gives the same events, ids included.
    """
    planted = planted or Planted()
    rng = random.Random(seed)
    experiments = [planted.experiment_id, planted.aa_experiment_id]
    if planted.srm_experiment_id:
        experiments.append(planted.srm_experiment_id)
    origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    returns: dict[int, list[_Visitor]] = defaultdict(list)
    pending: list[tuple[datetime, int, Event]] = []
    seq = 0
    for day in range(days):
        day_start = origin + timedelta(days=day)
        arrivals = [_new_visitor(rng, planted, experiments) for _ in range(visitors_per_day)]
        for visitor in arrivals + returns.pop(day, []):
            visitor.sessions += 1
            first = visitor.sessions == 1
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            t = day_start + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
            if visitor.last_seen is not None:  # a new session needs 30 minutes of quiet
                t = max(t, visitor.last_seen + SESSION_GAP)
            weights = _SOURCE_W if first else _RETURN_SOURCE_W
            source = rng.choices(SOURCES, weights)[0]
            s = _Session(rng, visitor, planted, day, t, source, _uuid(rng))
            if visitor.is_bot:
                _bot_session(rng, s)
            else:
                _human_session(rng, s, first=first, experiments=experiments)
                if first:
                    for later in _return_days(rng, day, days):
                        returns[later].append(visitor)
            visitor.last_seen = s.t
            for event in s.out:
                heapq.heappush(pending, (event.timestamp or t, seq, event))
                seq += 1
        next_day = day_start + timedelta(days=1)
        while pending and pending[0][0] < next_day:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]
