"""The fast validation path answers exactly as the reason-building path, for any event."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.events.test_plan import VALID

from microfunnel.events.model import Event
from microfunnel.events.plan import TrackingPlan
from microfunnel.events.plan_fast import fast_ok

PLAN = TrackingPlan.default()
_SCHEMAS = [spec.schema for spec in PLAN.events.values() if spec.schema is not None]
_PARAM_NAMES = sorted({name for schema in _SCHEMAS for name in schema.fields})
_ITEM_KEYS = ["item_id", "item_name", "price", "quantity", "index", "discount", "coupon"]

# Values on both sides of every constraint in the default plan, and values of the wrong type
# that the fast path hands back to the generic one (bool for a number, float for an integer,
# a tuple for an array, NaN and infinities for bounds).
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 210),
    st.floats(-1, 6),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
    st.sampled_from(["", "x", "EUR", "eur", "EURO", "sku-1", "Tee"]),
    st.sampled_from(["payment_declined", "validation", "cart", "review", "nope"]),
    st.sampled_from(["x" * 500, "x" * 501]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=2).map(tuple)
        | st.dictionaries(st.sampled_from([*_ITEM_KEYS, "Bad Name", "x"]), inner, max_size=4)
    ),
    max_leaves=8,
)
_ITEMS = st.lists(
    st.fixed_dictionaries({}, optional=dict.fromkeys(_ITEM_KEYS, _VALUES)), max_size=3
)
_NAMES = st.sampled_from([*sorted(PLAN.events), "AddToCart", "not_in_plan"])


@st.composite
def _events(draw: st.DrawFn) -> Event:
    """An event whose properties are mostly its own parameters, with values of any kind."""
    name = draw(_NAMES)
    spec = PLAN.events.get(name)
    own = sorted(spec.schema.fields) if spec is not None and spec.schema is not None else []
    keys = st.sampled_from([*own, *own, *_PARAM_NAMES, "Bad Name", "extra_key"])
    properties = draw(st.dictionaries(keys, _VALUES | _ITEMS, max_size=6))
    return Event(event=name, properties=properties)


def _assert_same(plan: TrackingPlan, event: Event) -> None:
    reasons = plan.reasons(event)
    assert plan.validate(event) == reasons
    spec = plan.events.get(event.event)
    if spec is not None and spec.schema is not None:
        # Not only the same answer: the fast predicate itself says yes exactly when there is
        # nothing to say, so a valid event never pays for the reason-building path.
        assert spec.schema.ok(event.properties) == (not reasons)


@settings(max_examples=1000, deadline=None)
@given(_events())
def test_fast_path_gives_the_same_reasons(event: Event) -> None:
    _assert_same(PLAN, event)


@st.composite
def _nearly_valid(draw: st.DrawFn) -> Event:
    """A valid event of the plan with one or two of its parameters set to any value."""
    name = draw(st.sampled_from(sorted(VALID)))
    properties = dict(VALID[name])
    spec = PLAN.events[name]
    own = sorted(spec.schema.fields) if spec.schema is not None else ["note"]
    for key in draw(st.lists(st.sampled_from(own), min_size=1, max_size=2)):
        properties[key] = draw(st.one_of(_SCALARS, _SCALARS, _SCALARS, _VALUES, _ITEMS))
    return Event(event=name, properties=properties)


@settings(max_examples=1000, deadline=None)
@given(_nearly_valid())
def test_fast_path_on_nearly_valid_events(event: Event) -> None:
    """The common case the fast path is for, with values on both sides of each constraint."""
    _assert_same(PLAN, event)


def test_fused_string_predicate_falls_back_for_other_types() -> None:
    ok = fast_ok(["string"], {"type": "string", "pattern": "[A-Z]{3}"}, lambda value: False)
    assert [ok(v) for v in ("EUR", "EUR", "eur", None, 3)] == [True, True, False, False, False]


# One spec per fused shape, and some the fast path leaves to the generic predicate.
_SPECS = [
    {"type": "string"},
    {"type": "string", "min_length": 1},
    {"type": "string", "min_length": 2, "max_length": 4},
    {"type": "string", "max_length": 500},
    {"type": "string", "pattern": "[A-Z]{3}"},
    {"type": "string", "allowed": ["cart", "review"], "pattern": "[a-z]+"},
    {"type": "number"},
    {"type": "number", "min": 0},
    {"type": "number", "min": 0, "max": 5},
    {"type": "number", "allowed": [0, 2.0, 25]},
    {"type": "integer", "min": 0},
    {"type": "integer", "allowed": [25, 50]},
    {"type": "boolean"},
    {"type": "boolean", "allowed": [True]},
    {"type": "array"},
    {"type": "array", "min_items": 1, "max_items": 2},
    {"type": "array", "items": {"type": "integer", "min": 0}},
    {"type": "object"},
    {"type": "object", "required": {"a": {"type": "string"}}, "allow_unknown_properties": False},
    {"type": "object", "optional": {"a": {"type": "number"}}, "require_any": ["a"]},
    {"type": ["string", "integer"]},
    {"type": "string", "min": 1},
]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(_SPECS), st.booleans(), st.one_of(_SCALARS, _SCALARS, _VALUES))
def test_each_fused_shape_agrees_with_the_checker(
    spec: dict[str, Any], required: bool, value: Any
) -> None:
    group = "required" if required else "optional"
    plan = TrackingPlan.from_dict({"version": 1, "events": {"e": {group: {"p": spec}}}})
    _assert_same(plan, Event(event="e", properties={"p": value}))
