"""The tracking plan: loading, every rule, every reason."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microfunnel.errors import InputError, PlanError
from microfunnel.events.model import Event
from microfunnel.events.plan import TrackingPlan, default_plan_text, to_snake_case

PLAN = TrackingPlan.default()

ITEM = {"item_id": "SKU_1", "item_name": "Tee", "price": 29.9, "quantity": 2}

GA4_EVENTS = [
    "view_item_list", "select_item", "view_item", "add_to_cart", "remove_from_cart", "view_cart",
    "begin_checkout", "add_shipping_info", "add_payment_info", "purchase", "refund",
    "add_to_wishlist", "view_promotion", "select_promotion", "search", "sign_up", "login",
    "generate_lead", "page_view",
]  # fmt: skip
MICRO_EVENTS = [
    "size_guide_open", "video_play", "wishlist_add", "newsletter_signup", "review_read",
    "image_zoom", "delivery_estimate_view", "coupon_apply", "checkout_error", "scroll_depth",
    "engaged_time", "exit_intent", "experiment_exposure", "$identify", "$alias",
]  # fmt: skip

# One valid example of every event in the default plan.
VALID: dict[str, dict[str, Any]] = {
    "view_item_list": {"item_list_id": "summer", "items": [ITEM]},
    "select_item": {"items": [{"item_name": "Tee"}]},
    "view_item": {"currency": "EUR", "value": 29.9, "items": [ITEM]},
    "add_to_cart": {"currency": "USD", "value": 59.8, "items": [ITEM]},
    "remove_from_cart": {"currency": "USD", "value": 29.9, "items": [ITEM]},
    "view_cart": {"currency": "USD", "value": 0, "items": []},
    "begin_checkout": {"currency": "USD", "value": 59.8, "items": [ITEM], "coupon": "SUMMER"},
    "add_shipping_info": {"currency": "USD", "value": 59.8, "items": [ITEM], "shipping_tier": "x"},
    "add_payment_info": {"currency": "USD", "value": 59.8, "items": [ITEM], "payment_type": "card"},
    "purchase": {
        "transaction_id": "T_1001",
        "currency": "USD",
        "value": 64.3,
        "tax": 4.5,
        "shipping": 0,
        "items": [
            {**ITEM, "item_category": "Apparel", "item_brand": "Acme", "item_variant": "red"}
        ],
    },
    "refund": {"transaction_id": "T_1001", "currency": "USD", "value": 64.3},
    "add_to_wishlist": {"currency": "USD", "value": 29.9, "items": [ITEM]},
    "view_promotion": {"promotion_id": "P1", "creative_slot": "hero", "items": [ITEM]},
    "select_promotion": {"promotion_name": "Summer"},
    "search": {"search_term": "red tee"},
    "sign_up": {"method": "google"},
    "login": {},
    "generate_lead": {"currency": "USD", "value": 10},
    "page_view": {"page_title": "Home"},
    "size_guide_open": {"item_id": "SKU_1"},
    "video_play": {"video_title": "Fit", "video_duration": 31.5},
    "wishlist_add": {"item_id": "SKU_1"},
    "newsletter_signup": {"location": "footer"},
    "review_read": {"item_id": "SKU_1", "review_count": 12, "rating": 4.5},
    "image_zoom": {"item_id": "SKU_1", "image_index": 2},
    "delivery_estimate_view": {"days_min": 2, "days_max": 4},
    "coupon_apply": {"coupon": "SUMMER", "success": True},
    "checkout_error": {"error_type": "payment_declined", "step": "payment"},
    "scroll_depth": {"percent": 75},
    "engaged_time": {"seconds": 42},
    "exit_intent": {},
    "experiment_exposure": {"experiment_id": "popup", "variation_id": 1},
    "$identify": {"anything": {"goes": [1, 2]}, "camelCase": True},
    "$alias": {"previous_id": "anon-1"},
}


def reasons(name: str, **properties: Any) -> list[str]:
    return PLAN.validate(Event(event=name, properties=properties))


def one_reason(name: str, **properties: Any) -> str:
    found = reasons(name, **properties)
    assert len(found) == 1, found
    return found[0]


def test_default_plan_covers_ga4_and_micro_conversions() -> None:
    assert PLAN.version == 1
    assert set(GA4_EVENTS + MICRO_EVENTS) <= set(PLAN.event_names)
    assert set(PLAN.event_names) == set(VALID)
    assert PLAN.event_names == sorted(PLAN.event_names)


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_default_event_has_a_valid_example(name: str) -> None:
    assert reasons(name, **VALID[name]) == []


def test_missing_required_parameter_says_what_to_do() -> None:
    props = dict(VALID["add_to_cart"])
    del props["currency"]
    assert one_reason("add_to_cart", **props) == (
        "Event `add_to_cart` is missing required parameter `currency` (tracking plan v1): "
        "add it, or mark it optional in tracking-plan.yaml."
    )


def test_every_reason_is_reported_not_just_the_first() -> None:
    found = reasons("purchase", value="12", items=[{"price": -1, "quantity": 1.5}])
    assert found == [
        "Event `purchase` is missing required parameter `transaction_id` (tracking plan v1): "
        "add it, or mark it optional in tracking-plan.yaml.",
        "Event `purchase` is missing required parameter `currency` (tracking plan v1): "
        "add it, or mark it optional in tracking-plan.yaml.",
        "Event `purchase` parameter `value` must be a number, got string '12' "
        "(tracking plan v1): send a number.",
        "Event `purchase` parameter `items[0].price` is -1, below the minimum 0 "
        "(tracking plan v1): send a value >= 0.",
        "Event `purchase` parameter `items[0].quantity` must be an integer, got number 1.5 "
        "(tracking plan v1): send an integer.",
        "Event `purchase` has none of `items[0].item_id` or `items[0].item_name` "
        "(tracking plan v1): send at least one of them.",
    ]


def test_null_required_parameter() -> None:
    assert one_reason("search", search_term=None) == (
        "Event `search` parameter `search_term` is null (tracking plan v1): "
        "send a value, or mark it optional in tracking-plan.yaml."
    )


def test_null_optional_parameter_counts_as_absent() -> None:
    assert reasons("sign_up", method=None) == []


def test_pattern() -> None:
    assert one_reason("add_to_cart", **{**VALID["add_to_cart"], "currency": "usd"}) == (
        "Event `add_to_cart` parameter `currency` is 'usd', which does not match `[A-Z]{3}` "
        "(tracking plan v1): fix the value, or change `pattern` in tracking-plan.yaml."
    )


def test_allowed_values_suggest_the_closest() -> None:
    assert one_reason("checkout_error", error_type="payment_decline") == (
        "Event `checkout_error` parameter `error_type` is 'payment_decline', which is not an "
        "allowed value (tracking plan v1): did you mean `payment_declined`? use one of "
        "payment_declined, address_invalid, out_of_stock, shipping_unavailable, validation, "
        "unknown, or add it to `allowed` in tracking-plan.yaml."
    )
    assert "use one of 25, 50, 75, 90" in one_reason("scroll_depth", percent=60)


def test_maximum_and_lengths() -> None:
    assert one_reason("review_read", item_id="A", rating=7) == (
        "Event `review_read` parameter `rating` is 7, above the maximum 5 (tracking plan v1): "
        "send a value <= 5."
    )
    assert one_reason("search", search_term="") == (
        "Event `search` parameter `search_term` has 0 characters, fewer than 1 "
        "(tracking plan v1): send at least 1 characters."
    )
    assert one_reason("checkout_error", error_type="unknown", error_message="x" * 501) == (
        "Event `checkout_error` parameter `error_message` has 501 characters, more than 500 "
        "(tracking plan v1): send at most 500 characters."
    )


def test_array_bounds() -> None:
    assert one_reason("add_to_cart", currency="USD", value=1, items=[]) == (
        "Event `add_to_cart` parameter `items` has 0 entries, fewer than 1 (tracking plan v1): "
        "send at least 1 entries."
    )
    assert "more than 200" in one_reason("view_item_list", items=[ITEM] * 201)


@pytest.mark.parametrize(
    ("value", "word", "got"),
    [
        (1, "a string", "number 1"),
        (True, "a string", "boolean True"),
        ([], "a string", "array []"),
        ({"a": 1}, "a string", "object {'a': 1}"),
    ],
)
def test_type_errors_describe_what_was_sent(value: Any, word: str, got: str) -> None:
    assert one_reason("search", search_term=value) == (
        f"Event `search` parameter `search_term` must be {word}, got {got} (tracking plan v1): "
        f"send {word}."
    )


def test_types_are_strict_but_integral_floats_are_integers() -> None:
    assert reasons("engaged_time", seconds=True) != []  # a bool is not a number
    assert reasons("image_zoom", item_id="A", image_index=2.0) == []
    assert reasons("image_zoom", item_id="A", image_index=False) != []
    assert reasons("coupon_apply", coupon="X", success=1) != []
    assert reasons("add_to_cart", currency="USD", value=1, items={"0": ITEM}) != []
    assert reasons("add_to_cart", currency="USD", value=1, items=["SKU_1"]) != []


def test_union_types() -> None:
    assert reasons("experiment_exposure", experiment_id="e", variation_id="b") == []
    assert one_reason("experiment_exposure", experiment_id="e", variation_id=1.5) == (
        "Event `experiment_exposure` parameter `variation_id` must be a string or an integer, "
        "got number 1.5 (tracking plan v1): send a string or an integer."
    )


def test_long_values_are_shortened_in_reasons() -> None:
    reason = one_reason("engaged_time", seconds="x" * 100)
    assert "got string 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." in reason
    assert "x" * 60 not in reason


def test_unknown_event_suggests_closest_names() -> None:
    assert reasons("add_to_crt") == [
        "Event `add_to_crt` is not in the tracking plan (tracking plan v1): did you mean "
        "`add_to_cart` or `add_to_wishlist`? fix the name, or add the event to "
        "tracking-plan.yaml."
    ]
    assert reasons("completely_different") == [
        "Event `completely_different` is not in the tracking plan (tracking plan v1): "
        "fix the name, or add the event to tracking-plan.yaml."
    ]
    # letters in common are not a likeness: difflib alone offered `view_item` here
    assert reasons("new_mistake") == [
        "Event `new_mistake` is not in the tracking plan (tracking plan v1): "
        "fix the name, or add the event to tracking-plan.yaml."
    ]


def test_event_naming_rule() -> None:
    assert reasons("AddToCart") == [
        "Event name `AddToCart` is not snake_case (tracking plan v1): rename it to `add_to_cart`."
    ]
    assert reasons("Banner-Click") == [
        "Event name `Banner-Click` is not snake_case (tracking plan v1): rename it to "
        "`banner_click`.",
        "Event `Banner-Click` is not in the tracking plan (tracking plan v1): "
        "fix the name, or add the event to tracking-plan.yaml.",
    ]


def test_parameter_naming_rule() -> None:
    assert one_reason("login", loginMethod="google") == (
        "Event `login` parameter `loginMethod` is not snake_case (tracking plan v1): "
        "rename it to `login_method`."
    )
    item = {**ITEM, "itemColor": "red"}
    assert "parameter `items[0].itemColor` is not snake_case" in one_reason(
        "add_to_cart", currency="USD", value=1, items=[item]
    )


def test_unknown_properties_and_events_when_the_plan_forbids_or_allows_them() -> None:
    strict = TrackingPlan.from_yaml(
        "version: 3\nallow_unknown_properties: false\n"
        "events:\n  login:\n    optional:\n      method: {type: string}\n"
    )
    assert strict.validate(Event(event="login", properties={"methd": "x"})) == [
        "Event `login` has parameter `methd`, which the plan does not define (tracking plan v3): "
        "did you mean `method`? remove it, or add it under `optional` in tracking-plan.yaml."
    ]
    loose = TrackingPlan.from_yaml("version: 2\nallow_unknown_events: true\nevents:\n  login: {}\n")
    assert loose.validate(Event(event="banner_click")) == []
    assert loose.validate(Event(event="BannerClick")) == [
        "Event name `BannerClick` is not snake_case (tracking plan v2): "
        "rename it to `banner_click`."
    ]
    per_event = TrackingPlan.from_yaml(
        "version: 1\nevents:\n  login:\n    allow_unknown_properties: false\n  search: {}\n"
    )
    assert per_event.validate(Event(event="login", properties={"x": 1})) != []
    assert per_event.validate(Event(event="search", properties={"x": 1})) == []


def test_naming_none_accepts_any_names() -> None:
    plan = TrackingPlan.from_yaml(
        "version: 1\nnaming: none\nevents:\n  AddToCart:\n    optional: {itemId: {type: string}}\n"
    )
    assert plan.validate(Event(event="AddToCart", properties={"itemId": "a", "Other": 1})) == []


def test_system_events_are_lenient_and_checked_by_name() -> None:
    assert reasons("$identify", **{"Weird Key": object()}) == []
    assert "did you mean `$identify`?" in reasons("$identifyy")[0]
    assert reasons("$Identify")[0].startswith("Event name `$Identify` is not snake_case")


def test_to_snake_case() -> None:
    assert to_snake_case("AddToCart") == "add_to_cart"
    assert to_snake_case("add-to-cart") == "add_to_cart"
    assert to_snake_case("Add To Cart") == "add_to_cart"
    assert to_snake_case("HTMLPageView") == "html_page_view"
    assert to_snake_case("$Identify") == "$identify"


def test_load_from_file_and_default_text(tmp_path: Path) -> None:
    path = tmp_path / "tracking-plan.yaml"
    path.write_text(default_plan_text().replace("version: 1", "version: 7", 1))
    plan = TrackingPlan.load(path)
    assert plan.version == 7
    assert plan.event_names == PLAN.event_names
    assert "(tracking plan v7)" in plan.validate(Event(event="search"))[0]
    assert repr(plan) == f"TrackingPlan(version=7, events={len(PLAN.event_names)})"


def test_missing_file() -> None:
    with pytest.raises(PlanError, match=r"Cannot read tracking plan .*nope\.yaml"):
        TrackingPlan.load("nope.yaml")


BROKEN = [
    ("version: 1\nevents:\n  login: [\n", r"line \d+: not valid YAML"),
    ("- a\n- b\n", r"line 1, ``: expected a mapping, got array"),
    ("version: 0\nevents: {login: {}}\n", "line 1, `version`: `version` must be a positive"),
    ("version: 1\n", "the plan lists no `events`"),
    ("version: 1\nnaming: camel\nevents: {login: {}}\n", "line 2, `naming`"),
    ("version: 1\nallow_unknown_events: maybe\nevents: {login: {}}\n", "must be true or false"),
    ("version: 1\nevnts: {login: {}}\n", "line 2, `evnts`: unknown key `evnts`; did you mean"),
    ("version: 1\nevents:\n  Login: {}\n", "line 3, `events.Login`: event name `Login` is not"),
    (
        "version: 1\nevents:\n  login:\n    required:\n      Method: {type: string}\n",
        "line 5, `events.login.required.Method`: parameter name `Method` is not snake_case",
    ),
    (
        "version: 1\nevents:\n  login:\n    required:\n      method: {type: text}\n",
        "line 5, `events.login.required.method.type`: unknown type `text`",
    ),
    (
        "version: 1\nevents:\n  login:\n    optional:\n      method: {description: x}\n",
        "line 5, `events.login.optional.method`: missing `type`",
    ),
    (
        "version: 1\nevents:\n  login:\n    optional:\n      method: {type: string, maxx: 3}\n",
        "unknown key `maxx`; did you mean `max`",
    ),
    (
        "version: 1\nevents:\n  login:\n    optional:\n      n: {type: number, min: low}\n",
        "`min` must be a number, got string 'low'",
    ),
    (
        "version: 1\nevents:\n  login:\n    optional:\n      m: {type: string, pattern: '('}\n",
        "`pattern` is not a valid regular expression",
    ),
    (
        "version: 1\nevents:\n  login:\n    optional:\n      m: {type: string, allowed: []}\n",
        "`allowed` must be a non-empty list",
    ),
    (
        "version: 1\nevents:\n  login:\n    optional:\n      m: {type: integer, allowed: [a]}\n",
        "allowed value 'a' is not integer",
    ),
    ("version: 1\nevents:\n  login: {optional: {m: {ref: itme}}}\n", "`ref: itme` names no"),
    (
        "version: 1\ndefinitions:\n  a: {ref: b}\n  b: {ref: a}\nevents:\n  login: {}\n",
        "refers to itself",
    ),
    (
        "version: 1\nevents:\n  login: {optional: {m: {ref: x, type: string}}}\n"
        "definitions: {x: {type: string}}\n",
        "`ref` takes no other keys",
    ),
    (
        "version: 1\nevents:\n  login:\n    required: {m: {type: string}}\n"
        "    optional: {m: {type: string}}\n",
        "`m` is both required and optional",
    ),
    (
        "version: 1\nevents:\n  login: {require_any: [a], optional: {b: {type: string}}}\n",
        "`require_any` must list parameters",
    ),
    ("version: 1\nevents:\n  login: {}\n  login: {}\n", "line 4: key `login` appears twice"),
    ("version: 1\nevents:\n  login: {requird: {}}\n", "did you mean `required`"),
    ("version: 1\nevents:\n  login: 3\n", "expected a mapping, got number 3"),
    ("version: 1\ndefinitions: {unused: {type: nope}}\nevents: {login: {}}\n", "unknown type"),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_broken_plan_says_where(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message) as caught:
        TrackingPlan.from_yaml(text)
    assert isinstance(caught.value, InputError)
    assert caught.value.message.startswith("tracking-plan.yaml")


def test_broken_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shop-plan.yaml"
    path.write_text("version: 1\nevents:\n  login: {}\n  login: {}\n")
    with pytest.raises(PlanError, match=r"^shop-plan.yaml line 4"):
        TrackingPlan.load(path)


def test_validation_is_fast() -> None:
    event = Event(event="add_to_cart", properties={**VALID["add_to_cart"], "items": [ITEM] * 2})
    validate = PLAN.validate
    start = time.perf_counter()
    for _ in range(20_000):
        validate(event)
    rate = 20_000 / (time.perf_counter() - start)
    # Well under the real rate, so a loaded CI machine passes; catches a tenfold slowdown.
    assert rate > 5_000, f"{rate:.0f} events/s"


_ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(["EUR", "eur", "", "A1", "x" * 120, "Tee"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from([*sorted(ITEM), "Bad Name", "x"]), inner, max_size=4),
    max_leaves=8,
)  # fmt: skip
_PROPERTIES = st.dictionaries(
    st.sampled_from(["currency", "value", "items", "coupon", "Bad Name", "method", "x"]),
    _ANY_VALUE | st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(ITEM, _ANY_VALUE))),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(VALID)), _PROPERTIES, st.booleans())
def test_fast_predicate_agrees_with_the_checker(
    name: str, properties: dict[str, Any], start_valid: bool
) -> None:
    """``ok`` answers without building reasons; it must say yes exactly when there are none."""
    if start_valid:
        properties = {**VALID[name], **properties}
    schema = PLAN.events[name].schema
    if schema is None:
        return
    problems: list[tuple[str, str]] = []
    schema.check(properties, "", problems)
    assert schema.ok(properties) == (not problems)
