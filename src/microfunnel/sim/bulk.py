"""Vectorized shop: tens of millions of rows in the ``events`` layout, for benchmarks.

The journey model is the one of :mod:`microfunnel.sim.shop` (same catalog, base rates and
:class:`~microfunnel.sim.Planted` effects), drawn with numpy for all sessions at once: a session
is a row of a boolean matrix over the journey's slots (landing page view, exposures, product
views with their micro-conversions, cart, checkout steps, the shipping loop, purchase), and the
present slots become the events. Bots are generated apart and appended as their own persons.

Rows come out grouped by person and in time order within each person; sessions of a person are
at least 30 minutes apart. Ids are short and readable (``a<seed>-<n>`` anonymous ids,
``u<seed>-<n>`` user ids, ``s<seed>-<n>`` sessions, ``e<seed>-<n>`` events). ``person_id`` is the
resolved person: the user id for a person who ever logs in, else the anonymous id. To keep
tables small, ``context`` holds the keys lifted into columns (plus ``user_agent`` and ``is_bot``
for bots), not the full browser context of :func:`~microfunnel.sim.simulate`.

Examples:
    >>> from microfunnel.sim import simulate_arrow
    >>> table = simulate_arrow(10_000, seed=1)
    >>> table.num_rows
    10000
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    SOURCES,
    atc_probability,
)
from microfunnel.sim.planted import Planted
from microfunnel.sim.shop import ARMS, DEFAULT_START, MAX_GAP_SECONDS
from microfunnel.store.base import EVENT_COLUMNS, arrow_schema

__all__ = ["DEFAULT_CHUNK_SIZE", "iter_arrow_chunks", "simulate_arrow"]

DEFAULT_CHUNK_SIZE = 2_000_000
EVENTS_PER_PERSON = 11.0  # measured; only sizes the first draw of persons
US = 1_000_000
SESSION_GAP_US = 31 * 60 * US
N_ITEMS = len(CATALOG)
DEVICES = tuple(DEVICE_WEIGHTS)  # mobile, desktop, tablet; index 3 is "a bot on desktop"
BOT = len(DEVICES)
MICRO = ("image_zoom", "size_guide_open", "video_play", "review_read", "wishlist_add")

# Page paths by code: home, categories, products, then the fixed shop pages.
PATHS: tuple[str, ...] = (
    "/",
    *(f"/c/{c}" for c in CATEGORIES),
    *(item.path for item in CATALOG),
    *("/cart", "/checkout", "/checkout/shipping", "/checkout/payment", "/checkout/confirmation"),
)
CAT0, ITEM0 = 1, 1 + len(CATEGORIES)
CART_PAGE, CHECKOUT, SHIPPING_PAGE, PAYMENT_PAGE, CONFIRMATION = range(ITEM0 + N_ITEMS, len(PATHS))

# Carts: a first line (item, quantity 1 or 2) and maybe a second; NO_CART marks other events.
LINES = 2 * N_ITEMS
NO_CART = LINES * (LINES + 1)


def _line(item: np.ndarray, qty: np.ndarray) -> np.ndarray:
    return item.astype(np.int32) * 2 + (qty.astype(np.int32) - 1)


@cache
def _carts() -> tuple[pa.Array, np.ndarray]:
    """JSON of every cart (``"currency":...,"value":...,"items":[...]}``) and its value."""
    lines = [(CATALOG[code // 2], code % 2 + 1) for code in range(LINES)]
    texts = [json.dumps(item.as_ga4(qty), separators=(",", ":")) for item, qty in lines]
    values = np.array([item.price * qty for item, qty in lines])
    json_parts, cart_values = [], np.full(NO_CART + 1, np.nan)
    for first in range(LINES):
        for second in range(LINES + 1):
            code = first * (LINES + 1) + second
            items = texts[first] if second == 0 else texts[first] + "," + texts[second - 1]
            value = round(float(values[first] + (values[second - 1] if second else 0.0)), 2)
            cart_values[code] = value
            json_parts.append(f'"currency":"{CURRENCY}","value":{value!r},"items":[{items}]}}')
    json_parts.append("")
    return pa.array(json_parts, pa.string()), cart_values


@dataclass
class _Rows:
    """Events as parallel numpy arrays, before they become strings."""

    person: np.ndarray  # int64, local to the chunk
    session: np.ndarray  # int64, local to the chunk
    offset: np.ndarray  # int64 microseconds since the session start
    start: np.ndarray  # int64 microseconds since the epoch, the session start
    name: np.ndarray  # int16 index into NAMES
    path: np.ndarray  # int16 index into PATHS
    source: np.ndarray  # int8 index into SOURCES
    device: np.ndarray  # int8 index into DEVICES, or BOT
    kind: np.ndarray  # int16 index into the properties kinds
    cart: np.ndarray  # int32 cart code or NO_CART
    logged_in: np.ndarray  # bool: the event carries the user id
    person_known: np.ndarray  # bool: the person logs in at some point


NAMES: tuple[str, ...] = (
    "page_view",
    "experiment_exposure",
    "$identify",
    "view_item_list",
    "view_item",
    *MICRO,
    "add_to_cart",
    "view_cart",
    "begin_checkout",
    "add_shipping_info",
    "add_payment_info",
    "checkout_error",
    "purchase",
    "newsletter_signup",
)
_NAME = {name: i for i, name in enumerate(NAMES)}


def _js(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Kinds:
    """Property shapes: JSON head, a per-row number (ids), JSON middle, then the cart JSON."""

    def __init__(self, seed: int, experiments: list[str]) -> None:
        self.heads: list[str] = []
        self.mids: list[str] = []
        self.empty = self.add("{}")
        self.cart = self.add("{")
        self.exposure = [
            [self.add(_js({"experiment_id": e, "variation_id": arm})) for arm in ARMS]
            for e in experiments
        ]
        self.identify = self.add(f'{{"user_id":"u{seed}-', '"}')
        self.lists = [self.add(_js({"item_list_id": c, "item_list_name": c})) for c in CATEGORIES]
        self.micro = [self.add(_js({"item_id": item.item_id})) for item in CATALOG]
        self.shipping = [self.add(f'{{"shipping_tier":"{t}",') for t in SHIPPING_TIERS]
        self.payment = [self.add(f'{{"payment_type":"{t}",') for t in PAYMENT_TYPES]
        self.error = [self.add(_js({"error_type": t})) for t in ERROR_TYPES]
        self.purchase = self.add(f'{{"transaction_id":"T{seed}-', '",')
        self.newsletter = self.add(_js({"method": "footer"}))

    def add(self, head: str, mid: str = "") -> int:
        self.heads.append(head)
        self.mids.append(mid)
        return len(self.heads) - 1


def _segment_cumsum(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Cumulative sums that restart where ``first`` is true (the first element must be)."""
    total = np.cumsum(values)
    before = total - values
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(values)))
    return total - np.repeat(before[starts], counts)


def _choice(rng: np.random.Generator, weights: tuple[float, ...], size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int8)


class _Slots:
    """The journey's slots in order; each keeps the sessions it appears in and its values."""

    COLUMNS = (("name", np.int16), ("path", np.int16), ("kind", np.int16), ("cart", np.int32))

    def __init__(self, n: int, broken: np.ndarray, broken_event: str) -> None:
        self.n = n
        self.broken = broken  # sessions that lose ``broken_event`` to the tracking break
        self.broken_event = broken_event
        self.slots: list[tuple[np.ndarray, dict[str, np.ndarray | int], float]] = []

    def add(
        self,
        name: str,
        present: np.ndarray | bool,
        path: np.ndarray | int,
        *,
        kind: np.ndarray | int = 0,
        cart: np.ndarray | int = NO_CART,
        dwell: float = 12.0,
    ) -> None:
        mask = np.broadcast_to(present, self.n)
        if name == self.broken_event:
            mask = mask & ~self.broken
        where = np.flatnonzero(mask)
        values = {"name": _NAME[name], "path": path, "kind": kind, "cart": cart}
        picked = {k: v if isinstance(v, int) else v[where] for k, v in values.items()}
        self.slots.append((where, picked, dwell))

    def rows(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Session of each row, the columns, and each row's median gap, sorted by session."""
        counts = np.zeros(self.n, dtype=np.int64)
        for where, _, _ in self.slots:
            counts[where] += 1
        total = int(counts.sum())
        cursor = np.cumsum(counts) - counts
        session = np.empty(total, dtype=np.int64)
        dwell = np.empty(total)
        columns = {key: np.empty(total, dtype=dtype) for key, dtype in self.COLUMNS}
        for where, values, median in self.slots:
            pos = cursor[where]
            cursor[where] += 1
            session[pos] = where
            dwell[pos] = median
            for key, value in values.items():
                columns[key][pos] = value
        return session, columns, dwell


def _human_sessions(
    rng: np.random.Generator, n: int, days: int, planted: Planted, n_experiments: int
) -> dict[str, np.ndarray]:
    """Persons and their sessions: who, which day, which device, arms, login."""
    extra = np.where(
        rng.random(n) < BASE.returns,
        np.minimum(rng.geometric(1 - BASE.more_returns, n), BASE.max_sessions - 1),
        0,
    )
    person = np.repeat(np.arange(n), 1 + extra)
    first = np.r_[True, person[1:] != person[:-1]]
    gap = rng.geometric(BASE.return_gap_days, len(person))
    step = np.where(first, rng.integers(0, days, len(person)), gap)
    day = _segment_cumsum(step, first)
    k = _segment_cumsum(np.ones(len(person), dtype=np.int64), first) - 1
    keep = day < days
    person, day, k = person[keep], day[keep], k[keep]
    login_at = rng.geometric(BASE.login, n)
    last_k = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_k, person, k)
    shares = [0.5] * n_experiments
    if planted.srm_experiment_id:
        shares[-1] = planted.srm_control_share
    arms = np.stack([rng.random(n) >= s for s in shares], axis=1)  # True = treatment
    device = _choice(rng, tuple(DEVICE_WEIGHTS.values()), n)
    return {
        "person": person,
        "day": day,
        "k": k,
        "device": device[person],
        "arms": arms[person],
        "login_at": login_at[person],
        "known": (login_at <= last_k)[person],
    }


def _human_rows(
    rng: np.random.Generator, n: int, days: int, planted: Planted, kinds: _Kinds
) -> _Rows:
    """Rows of ``n`` human visitors."""
    n_exp = len(kinds.exposure)
    s = _human_sessions(rng, n, days, planted, n_exp)
    S, k, dev = len(s["person"]), s["k"], s["device"]
    first, returning = k == 0, k > 0
    source_first = _choice(rng, tuple(x.weight for x in SOURCES), S)
    back_w = tuple(x.weight * (3 if i == DIRECT else 1) for i, x in enumerate(SOURCES))
    source = np.where(first, source_first, _choice(rng, back_w, S))

    def chance(p: float | np.ndarray) -> np.ndarray:
        return rng.random(S) < p

    lists = chance(BASE.view_item_list)
    n_items = np.where(
        chance(BASE.view_item),
        np.minimum(rng.geometric(1 - BASE.more_items, S), BASE.max_items),
        0,
    )
    items = rng.integers(0, N_ITEMS, (S, BASE.max_items)).astype(np.int16)
    item_cat = np.array([CATEGORIES.index(i.item_category) for i in CATALOG], dtype=np.int16)
    category = np.where(n_items > 0, item_cat[items[:, 0]], rng.integers(0, len(CATEGORIES), S))
    lands_product = (n_items > 0) & chance(np.array([x.lands_on_product for x in SOURCES])[source])
    lands_category = ~lands_product & (lists | (source != DIRECT))
    landing = np.select([lands_product, lands_category], [ITEM0 + items[:, 0], CAT0 + category], 0)

    rates = {
        "image_zoom": BASE.image_zoom,
        "size_guide_open": BASE.size_guide_open,
        "video_play": BASE.video_play,
        "review_read": BASE.review_read,
        "wishlist_add": BASE.wishlist_add,
    }
    micro = {m: chance(rates[m]) & (n_items > 0) for m in MICRO}
    micro_at = {m: (rng.random(S) * np.maximum(n_items, 1)).astype(np.int64) for m in MICRO}
    treatment = s["arms"][:, 0]
    p_atc = atc_probability(
        planted,
        mobile=dev == DEVICES.index("mobile"),
        returning=returning,
        size_guide=micro["size_guide_open"],
        review=micro["review_read"],
        video=micro["video_play"],
        treatment=treatment,
    )
    atc = (n_items > 0) & chance(p_atc)
    broken = np.zeros(S, dtype=bool)
    if planted.tracking_break_day is not None:
        broken = (s["day"] >= planted.tracking_break_day) & (
            dev == DEVICES.index(planted.tracking_break_device)
        )
    last_item = items[np.arange(S), np.maximum(n_items - 1, 0)]
    qty = np.where(chance(BASE.second_quantity), 2, 1)
    extra_rate = np.where(
        treatment, planted.experiment_extra_item_rate, planted.cart_extra_item_rate
    )
    extra = atc & chance(extra_rate)
    extra_item = rng.integers(0, N_ITEMS, S).astype(np.int16)
    extra_qty = np.where(chance(BASE.second_quantity), 2, 1)
    line1 = _line(last_item, qty)
    cart = line1 * (LINES + 1) + np.where(extra, 1 + _line(extra_item, extra_qty), 0)
    view_cart = atc & chance(BASE.view_cart)
    checkout = atc & chance(BASE.begin_checkout)
    shipping = checkout & chance(BASE.add_shipping_info)
    loop = shipping & chance(planted.shipping_loop_rate)
    to_payment = np.array([planted.shipping_to_payment(d) for d in DEVICES])[dev]
    payment = shipping & chance(to_payment)
    error = payment & chance(BASE.checkout_error)
    buy = payment & chance(np.where(error, BASE.purchase_after_error, BASE.purchase))
    tier = _choice(rng, SHIPPING_TIER_WEIGHTS, S)
    pay_type = _choice(rng, PAYMENT_TYPE_WEIGHTS, S)
    error_type = _choice(rng, ERROR_TYPE_WEIGHTS, S)

    slots = _Slots(S, broken, planted.tracking_break_event)
    slots.add("page_view", True, landing)
    for e in range(n_exp):
        exposure = np.array(kinds.exposure[e])[s["arms"][:, e].astype(np.int64)]
        slots.add("experiment_exposure", first, landing, kind=exposure, dwell=0.5)
    slots.add("$identify", k == s["login_at"], landing, kind=kinds.identify, dwell=20.0)
    list_kind = np.array(kinds.lists)[category]
    slots.add("page_view", lists & (landing != CAT0 + category), CAT0 + category, dwell=15.0)
    slots.add("view_item_list", lists, CAT0 + category, kind=list_kind, dwell=1.0)
    for i in range(BASE.max_items):
        path = ITEM0 + items[:, i]
        seen = n_items > i
        slots.add("page_view", seen & ((i > 0) | (landing != path)), path, dwell=15.0)
        one = _line(items[:, i], np.ones(S)) * (LINES + 1)
        slots.add("view_item", seen, path, kind=kinds.cart, cart=one, dwell=2.0)
        micro_kind = np.array(kinds.micro)[items[:, i]]
        for m in MICRO:
            slots.add(m, micro[m] & (micro_at[m] == i), path, kind=micro_kind, dwell=25.0)
    atc_path = ITEM0 + last_item
    slots.add("add_to_cart", atc, atc_path, kind=kinds.cart, cart=line1 * (LINES + 1), dwell=30)
    extra_path = ITEM0 + extra_item
    extra_one = _line(extra_item, np.ones(S)) * (LINES + 1)
    extra_line = _line(extra_item, extra_qty) * (LINES + 1)
    slots.add("page_view", extra, extra_path, dwell=15.0)
    slots.add("view_item", extra, extra_path, kind=kinds.cart, cart=extra_one, dwell=2.0)
    slots.add("add_to_cart", extra, extra_path, kind=kinds.cart, cart=extra_line, dwell=30)
    slots.add("page_view", view_cart, CART_PAGE, dwell=15.0)
    slots.add("view_cart", view_cart, CART_PAGE, kind=kinds.cart, cart=cart, dwell=1.0)
    slots.add("page_view", checkout, CHECKOUT, dwell=15.0)
    slots.add("begin_checkout", checkout, CHECKOUT, kind=kinds.cart, cart=cart, dwell=1.0)
    ship_kind = np.array(kinds.shipping)[tier]
    slots.add("add_shipping_info", shipping, SHIPPING_PAGE, kind=ship_kind, cart=cart, dwell=45)
    slots.add("page_view", loop, CART_PAGE, dwell=15.0)
    slots.add("view_cart", loop, CART_PAGE, kind=kinds.cart, cart=cart, dwell=1.0)
    slots.add("page_view", loop, SHIPPING_PAGE, dwell=15.0)
    slots.add("add_shipping_info", loop, SHIPPING_PAGE, kind=ship_kind, cart=cart, dwell=30)
    pay_kind = np.array(kinds.payment)[pay_type]
    slots.add("add_payment_info", payment, PAYMENT_PAGE, kind=pay_kind, cart=cart, dwell=60.0)
    err_kind = np.array(kinds.error)[error_type]
    slots.add("checkout_error", error, PAYMENT_PAGE, kind=err_kind, dwell=10.0)
    slots.add("page_view", buy, CONFIRMATION, dwell=20.0)
    slots.add("purchase", buy, CONFIRMATION, kind=kinds.purchase, cart=cart, dwell=0.5)
    slots.add("newsletter_signup", chance(BASE.newsletter_signup), landing, kind=kinds.newsletter)
    return _slots_to_rows(rng, slots, s, source)


def _session_starts(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """Microseconds from the first simulated midnight: the day, a diurnal hour, a moment in it."""
    hour = _choice(rng, HOUR_WEIGHTS, len(day)).astype(np.int64)
    return (day * 24 + hour) * 3600 * US + rng.integers(0, 3600 * US, len(day))


def _offsets(gap_us: np.ndarray, session: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's time since its session start, and each session's duration."""
    first = np.r_[True, session[1:] != session[:-1]]
    gap_us[first] = 0
    offset = _segment_cumsum(gap_us, first)
    last = np.r_[session[1:] != session[:-1], True]
    return offset, offset[last]


def _slots_to_rows(
    rng: np.random.Generator, slots: _Slots, s: dict[str, np.ndarray], source: np.ndarray
) -> _Rows:
    si, col, dwell = slots.rows()
    gap = np.minimum(rng.lognormal(np.log(dwell), 0.8), MAX_GAP_SECONDS)
    offset, duration = _offsets((gap * US).astype(np.int64), si)
    start = _session_starts(rng, s["day"])
    person = s["person"]
    same = person[1:] == person[:-1]
    while True:  # a person's next session starts after 30 minutes of quiet
        need = start[:-1] + duration[:-1] + SESSION_GAP_US
        late = same & (start[1:] < need)
        if not late.any():
            break
        start[1:][late] = need[late]
    return _Rows(
        person=person[si],
        session=si.astype(np.int64),
        offset=offset,
        start=start[si],
        name=col["name"],
        path=col["path"],
        source=source[si],
        device=s["device"][si],
        kind=col["kind"],
        cart=col["cart"],
        logged_in=(s["k"] >= s["login_at"])[si],
        person_known=s["known"][si],
    )


def _bot_rows(
    rng: np.random.Generator, n: int, days: int, planted: Planted, kinds: _Kinds
) -> _Rows:
    """Crawlers: one session each, a landing page then page/list or page/product pairs."""
    pairs = rng.integers(BASE.bot_min_events, BASE.bot_max_events + 1, n)
    session = np.repeat(np.arange(n), 1 + 2 * pairs)
    first = np.r_[True, session[1:] != session[:-1]][: len(session)]
    pos = _segment_cumsum(np.ones(len(session), dtype=np.int64), first) - 1
    pair = (np.cumsum(pairs) - pairs)[session] + np.maximum(pos - 1, 0) // 2
    is_list = rng.random(int(pairs.sum())) < 0.5
    item = rng.integers(0, N_ITEMS, len(is_list))
    cat = rng.integers(0, len(CATEGORIES), len(is_list))
    page = np.where(is_list, CAT0 + cat, ITEM0 + item)[pair]
    viewing = (pos > 0) & (pos % 2 == 0)
    view_name = np.where(is_list[pair], _NAME["view_item_list"], _NAME["view_item"])
    view_kind = np.where(is_list, np.array(kinds.lists)[cat], kinds.cart)[pair]
    view_cart = np.where(is_list, NO_CART, _line(item, np.ones(len(item))) * (LINES + 1))[pair]
    gap = rng.exponential(planted.bot_gap_seconds * US, len(session)).astype(np.int64)
    offset, _ = _offsets(gap, session)
    zeros = np.zeros(len(session), dtype=bool)
    return _Rows(
        person=session.astype(np.int64),
        session=session.astype(np.int64),
        offset=offset,
        start=_session_starts(rng, rng.integers(0, days, n))[session],
        name=np.where(viewing, view_name, _NAME["page_view"]).astype(np.int16),
        path=np.where(pos == 0, 0, page).astype(np.int16),
        source=_choice(rng, tuple(x.weight for x in SOURCES), n)[session],
        device=np.full(len(session), BOT, dtype=np.int8),
        kind=np.where(viewing, view_kind, kinds.empty).astype(np.int16),
        cart=np.where(viewing, view_cart, NO_CART).astype(np.int32),
        logged_in=zeros,
        person_known=zeros,
    )


def _concat(parts: list[_Rows]) -> _Rows:
    """Stack row sets, renumbering persons and sessions so they stay distinct and ordered."""
    person_base = session_base = 0
    shifted = []
    for part in parts:
        n_person = int(part.person.max()) + 1 if len(part.person) else 0
        n_session = int(part.session.max()) + 1 if len(part.session) else 0
        part.person = part.person + person_base
        part.session = part.session + session_base
        person_base += n_person
        session_base += n_session
        shifted.append(part)
    return _Rows(
        **{f.name: np.concatenate([getattr(p, f.name) for p in shifted]) for f in fields(_Rows)}
    )


def _batch(
    rng: np.random.Generator, n_persons: int, days: int, planted: Planted, kinds: _Kinds
) -> _Rows:
    n_bots = int(rng.binomial(n_persons, planted.bot_share))
    humans = _human_rows(rng, n_persons - n_bots, days, planted, kinds)
    return _concat([humans, _bot_rows(rng, n_bots, days, planted, kinds)])


def _strings(values: list[str] | tuple[str | None, ...] | pa.Array, codes: np.ndarray) -> pa.Array:
    """``values[codes]`` as a plain string array (decoding a dictionary beats ``take``)."""
    dictionary = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    indices = pa.array(codes.astype(np.int32))
    return pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()


def _ids(
    prefix: str,
    numbers: np.ndarray,
    width: int,
    *,
    valid: np.ndarray | None = None,
    lead: np.ndarray | None = None,
) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as strings, written straight into Arrow buffers.

    ``lead`` replaces the first character row by row; rows where ``valid`` is false are null.
    """
    n, head = len(numbers), len(prefix)
    size = head + width
    text = np.empty((n, size), dtype=np.uint8)
    text[:, :head] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    if lead is not None:
        text[:, 0] = lead
    rest = numbers.astype(np.uint64)
    digit = np.empty(n, dtype=np.uint64)
    for i in range(size - 1, head - 1, -1):
        np.remainder(rest, 10, out=digit)
        digit += 48
        text[:, i] = digit
        rest //= 10
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    buffers = [bitmap, pa.py_buffer(offsets), pa.py_buffer(text)]
    return pa.Array.from_buffers(pa.string(), n, buffers, null_count=-1)


def _properties(
    rows: _Rows, kinds: _Kinds, numbers: np.ndarray, numbered: np.ndarray, width: int
) -> pa.Array:
    """Each row's JSON properties: one string per (kind, cart) pair that occurs, decoded.

    Kinds with a per-row number (transaction and user ids) are rare; they are joined apart
    and swapped in.
    """
    carts, _ = _carts()
    code = rows.kind.astype(np.int64) * (NO_CART + 1) + rows.cart
    seen = np.zeros(len(kinds.heads) * (NO_CART + 1), dtype=bool)
    seen[code] = True
    used = np.flatnonzero(seen)
    index = np.zeros(len(seen), dtype=np.int32)
    index[used] = np.arange(len(used), dtype=np.int32)
    cart_text = carts.to_pylist()
    heads, mids = kinds.heads, kinds.mids
    texts = [
        heads[k] + mids[k] + cart_text[c]
        for k, c in zip(*np.divmod(used, NO_CART + 1), strict=True)
    ]
    out = _strings(texts, index[code])
    if not numbered.any():
        return out
    k_sub, c_sub = rows.kind[numbered], rows.cart[numbered]
    joined = pc.binary_join_element_wise(
        _strings(heads, k_sub),
        _ids("", numbers[numbered], width),
        _strings(mids, k_sub),
        _strings(carts, c_sub),
        "",
    )
    return pc.replace_with_mask(out, pa.array(numbered), joined)


@cache
def _contexts() -> list[str]:
    """The JSON ``context`` of every (page, source, device) combination, by code."""
    out = []
    for path in PATHS:
        for source in SOURCES:
            for device in range(BOT + 1):
                ctx: dict[str, object] = {"page_path": path}
                ctx["device"] = "desktop" if device == BOT else DEVICES[device]
                if source.utm_source:
                    ctx.update(
                        utm_source=source.utm_source,
                        utm_medium=source.utm_medium,
                        utm_campaign=source.utm_campaign,
                    )
                if device == BOT:
                    ctx.update(user_agent=BOT_USER_AGENTS[0], is_bot=True)
                out.append(_js(ctx))
    return out


def _table(
    rows: _Rows, seed: int, base: dict[str, int], width: int, origin_us: int, kinds: _Kinds
) -> pa.Table:
    """Turn numeric rows into the ``events`` layout; ``base`` offsets keep ids unique."""
    n = len(rows.person)
    person = rows.person + base["person"]
    session = rows.session + base["session"]
    ts = origin_us + rows.start + rows.offset
    latency = np.random.default_rng([seed, base["row"]]).integers(40_000, 1_540_000, n)
    purchase = rows.name == _NAME["purchase"]
    identify = rows.name == _NAME["$identify"]
    has_cart = rows.cart != NO_CART
    context_code = (rows.path.astype(np.int32) * len(SOURCES) + rows.source) * (BOT + 1)
    numbers = np.where(identify, person, session)
    user_lead = np.where(rows.person_known, ord("u"), ord("a"))
    columns = {
        "event_id": _ids(f"e{seed}-", np.arange(n) + base["row"], width),
        "event": _strings(NAMES, rows.name),
        "anonymous_id": _ids(f"a{seed}-", person, width),
        "user_id": _ids(f"u{seed}-", person, width, valid=rows.logged_in),
        "person_id": _ids(f"a{seed}-", person, width, lead=user_lead),
        "session_id": _ids(f"s{seed}-", session, width),
        "timestamp": pa.array(ts, pa.timestamp("us")),
        "sent_at": pa.nulls(n, pa.timestamp("us")),
        "received_at": pa.array(ts + latency, pa.timestamp("us")),
        "properties": _properties(rows, kinds, numbers, purchase | identify, width),
        "context": _strings(_contexts(), context_code + rows.device),
        "device": _strings((*DEVICES, "desktop"), rows.device),
        "page_path": _strings(PATHS, rows.path),
        "utm_source": _strings(tuple(x.utm_source for x in SOURCES), rows.source),
        "utm_medium": _strings(tuple(x.utm_medium for x in SOURCES), rows.source),
        "utm_campaign": _strings(tuple(x.utm_campaign for x in SOURCES), rows.source),
        "value": pa.array(_carts()[1][rows.cart], pa.float64(), mask=~has_cart),
        "currency": _strings((None, CURRENCY), has_cart.astype(np.int8)),
        "transaction_id": _ids(f"T{seed}-", session, width, valid=purchase),
        "source": pa.nulls(n, pa.string()),
        "is_bot": pa.array(rows.device == BOT),
        "plan_version": pa.nulls(n, pa.int32()),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=arrow_schema(EVENT_COLUMNS))


def iter_arrow_chunks(
    n_events: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    seed: int = 0,
    *,
    days: int = 28,
    start: date = DEFAULT_START,
    planted: Planted | None = None,
) -> Iterator[pa.Table]:
    """Yield ``n_events`` rows of the simulated shop as tables of at most ``chunk_size`` rows.

    Each chunk holds whole persons (only the very last person of a chunk may be cut short), so
    chunks can be appended to a store one by one with peak memory bounded by the chunk size.
    The same arguments give the same rows.
    """
    planted = planted or Planted()
    experiments = [planted.experiment_id, planted.aa_experiment_id]
    if planted.srm_experiment_id:
        experiments.append(planted.srm_experiment_id)
    kinds = _Kinds(seed, experiments)
    origin_us = int((datetime(start.year, start.month, start.day) - datetime(1970, 1, 1)).days)
    origin_us *= 86_400 * US
    n_chunks = (n_events + chunk_size - 1) // chunk_size
    width = len(str(max(n_chunks * chunk_size, 1)))  # every id number fits
    done = 0
    for chunk in range(n_chunks):
        rng = np.random.default_rng([seed, chunk])
        want = min(chunk_size, n_events - done)
        parts: list[_Rows] = []
        have = 0
        while have < want:
            n_persons = int((want - have) / EVENTS_PER_PERSON * 1.05) + 16
            parts.append(_batch(rng, n_persons, days, planted, kinds))
            have += len(parts[-1].person)
        rows = _concat(parts)
        rows = _Rows(**{f.name: getattr(rows, f.name)[:want] for f in fields(_Rows)})
        base = {"person": chunk * chunk_size, "session": chunk * chunk_size, "row": done}
        yield _table(rows, seed, base, width, origin_us, kinds)
        done += want


def simulate_arrow(
    n_events: int,
    seed: int = 0,
    *,
    days: int = 28,
    start: date = DEFAULT_START,
    planted: Planted | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> pa.Table:
    """``n_events`` rows of the simulated shop in the ``events`` layout (one table).

    The rows are those of :func:`iter_arrow_chunks` with the same arguments, concatenated.
    """
    chunks = iter_arrow_chunks(n_events, chunk_size, seed, days=days, start=start, planted=planted)
    tables = list(chunks)
    if not tables:
        return arrow_schema(EVENT_COLUMNS).empty_table()
    return pa.concat_tables(tables)
