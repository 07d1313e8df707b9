"""What the simulated shop sells and who visits it: catalog, traffic, devices, base step rates.

Shared by the event-by-event simulator (``shop.py``) and the vectorized generator (``bulk.py``),
so both produce funnels of the same shape. These are ordinary shop parameters, not planted
effects; the planted ones live in :class:`microfunnel.sim.planted.Planted`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from microfunnel.sim.planted import Planted

__all__ = [
    "BASE",
    "BOT_USER_AGENTS",
    "CATALOG",
    "CATEGORIES",
    "DEVICE_WEIGHTS",
    "HOUR_WEIGHTS",
    "SHOP_URL",
    "SOURCES",
    "USER_AGENTS",
    "BaseRates",
    "Item",
    "Source",
    "atc_probability",
]

SHOP_URL = "https://shop.example"
CURRENCY = "EUR"


@dataclass(frozen=True)
class Item:
    item_id: str
    item_name: str
    price: float
    item_category: str

    @property
    def path(self) -> str:
        return f"/p/{self.item_id}"

    def as_ga4(self, quantity: int = 1) -> dict[str, object]:
        """The GA4 ``items[]`` entry for this product."""
        return {
            "item_id": self.item_id,
            "item_name": self.item_name,
            "price": self.price,
            "quantity": quantity,
            "item_category": self.item_category,
        }


_CATEGORY_LINES: dict[str, tuple[tuple[str, ...], float]] = {
    "dresses": (("Wrap Dress", "Slip Dress", "Shirt Dress", "Maxi Dress"), 79.0),
    "shoes": (("Leather Sneaker", "Chelsea Boot", "Loafer", "Running Shoe"), 99.0),
    "jackets": (("Trench Coat", "Denim Jacket", "Puffer Jacket", "Wool Blazer"), 149.0),
    "knitwear": (("Merino Sweater", "Cashmere Cardigan", "Cable Knit", "Turtleneck"), 69.0),
    "accessories": (("Canvas Tote", "Silk Scarf", "Leather Belt", "Wool Beanie"), 29.0),
}
_COLOURS = ("Black", "Navy", "Sand")


def _build_catalog() -> tuple[Item, ...]:
    rng = random.Random(7)  # the catalog is the same for every simulation seed
    items: list[Item] = []
    for category, (lines, base_price) in _CATEGORY_LINES.items():
        for line in lines:
            for colour in _COLOURS:
                price = round(base_price * rng.uniform(0.6, 1.6)) - 0.01
                item_id = f"SKU-{1001 + len(items)}"
                items.append(Item(item_id, f"{line} {colour}", price, category))
    return tuple(items)


CATALOG: tuple[Item, ...] = _build_catalog()
CATEGORIES: tuple[str, ...] = tuple(_CATEGORY_LINES)


@dataclass(frozen=True)
class Source:
    """A traffic source: where the visitor came from and where it lands them."""

    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    referrer: str | None
    weight: float
    lands_on_product: float  # share of landings on a product page (the rest: category or home)


SOURCES: tuple[Source, ...] = (
    Source("google", "cpc", "spring_sale", "https://www.google.com/", 0.35, 0.6),
    Source(None, None, None, None, 0.30, 0.1),
    Source("instagram", "social", "reels_q2", "https://l.instagram.com/", 0.20, 0.7),
    Source("newsletter", "email", "weekly_digest", None, 0.15, 0.3),
)
DIRECT = 1  # index of direct traffic in SOURCES

DEVICE_WEIGHTS: dict[str, float] = {"mobile": 0.55, "desktop": 0.37, "tablet": 0.08}

USER_AGENTS: dict[str, tuple[str, ...]] = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    ),
}

BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)

# Share of sessions starting in each UTC hour: quiet nights, a lunch bump, busy evenings.
HOUR_WEIGHTS: tuple[float, ...] = (
    2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 7, 6, 5, 5, 5, 6, 7, 8, 9, 9, 7, 4,
)  # fmt: skip


@dataclass(frozen=True)
class BaseRates:
    """Step probabilities of an ordinary session, before planted effects."""

    view_item_list: float = 0.65
    view_item: float = 0.62
    more_items: float = 0.45  # chance to view one more product, repeatedly (at most max_items)
    max_items: int = 5
    image_zoom: float = 0.30
    size_guide_open: float = 0.10
    video_play: float = 0.12
    review_read: float = 0.14
    wishlist_add: float = 0.05
    add_to_cart: float = 0.11  # per session with a product view, times the multipliers
    returning_atc_multiplier: float = 1.3
    mobile_atc_multiplier: float = 0.85
    view_cart: float = 0.80
    begin_checkout: float = 0.55
    add_shipping_info: float = 0.85
    checkout_error: float = 0.10
    purchase: float = 0.88
    purchase_after_error: float = 0.50
    second_quantity: float = 0.10  # an item bought twice
    newsletter_signup: float = 0.015
    returns: float = 0.35  # visitors that come back on a later day
    more_returns: float = 0.40
    max_sessions: int = 5
    return_gap_days: float = 0.35  # geometric parameter of the days between visits
    login: float = 0.30  # per returning session, until logged in
    bot_min_events: int = 8
    bot_max_events: int = 30


BASE = BaseRates()

SHIPPING_TIERS = ("standard", "express", "pickup")
SHIPPING_TIER_WEIGHTS = (0.7, 0.2, 0.1)
PAYMENT_TYPES = ("credit_card", "paypal", "klarna", "apple_pay")
PAYMENT_TYPE_WEIGHTS = (0.45, 0.3, 0.15, 0.1)
ERROR_TYPES = ("card_declined", "address_invalid", "payment_timeout")
ERROR_TYPE_WEIGHTS = (0.6, 0.25, 0.15)


def atc_probability(
    planted: Planted,
    *,
    mobile: Any,
    returning: Any,
    size_guide: Any,
    review: Any,
    video: Any,
    treatment: Any,
) -> Any:
    """Chance that a session with a product view adds to cart.

    Works on Python bools and on numpy arrays alike (flags are used as 0/1 factors), so the
    event-by-event and the vectorized simulators share one model.
    """

    def times(flag: Any, factor: float) -> Any:
        return 1 + (factor - 1) * flag

    p = (
        BASE.add_to_cart
        * times(mobile, BASE.mobile_atc_multiplier)
        * times(returning, BASE.returning_atc_multiplier)
        * times(size_guide, planted.size_guide_atc_multiplier)
        * times(review, planted.review_read_atc_multiplier)
        * times(video, planted.video_play_atc_multiplier)
        * times(treatment, 1 + planted.experiment_atc_lift)
    )
    return p
