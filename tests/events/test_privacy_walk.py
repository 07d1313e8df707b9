"""The privacy walk (``apply_privacy``) against a plain reference: scrub every string, recurse.

The walk skips short strings, strings it has already found clean and context keys that hold no
free text, and copies a container only where something changed; none of that may change what is
stored.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from microfunnel.events.model import Event
from microfunnel.events.privacy import (
    _CONTEXT_SKIP,
    PrivacySettings,
    apply_privacy,
    hash_user_id,
    scrub_text,
)

SETTINGS = PrivacySettings(truncate_ip=False, salt="pepper")

_STRINGS = st.sampled_from(
    [
        "", "EUR", "a@b.io", "ada@example.com", "call 415-555-2671", "4111 1111 1111 1111",
        "Linen shirt", "/p/linen-shirt", "https://s.example/p?email=a%40b.co&x=1",
        "https://s.example/p?utm_source=g", "/search?q=+44 20 7946 0958", "sku-12", "12345",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "mail%40x.com", "ok",
    ]
) | st.text(max_size=12)  # fmt: skip
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | _STRINGS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["note", "items", "ip", "user_agent", "x"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)
_KEYS = st.sampled_from([*sorted(_CONTEXT_SKIP), "page_url", "referrer", "note", "items", "x"])
_IDS = st.none() | _STRINGS


def _reference(value: Any, skip: frozenset[str] = frozenset()) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: v if k in skip else _reference(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reference(v) for v in value]
    return value


def _pseudonym(value: str | None) -> str | None:
    if value is None or scrub_text(value) == value:
        return value
    return hash_user_id(value, "pepper")


@settings(max_examples=600, deadline=None)
@given(
    st.dictionaries(_KEYS | st.just("previous_id"), _VALUES | _STRINGS, max_size=5),
    st.dictionaries(_KEYS.filter(lambda k: k != "consent"), _VALUES, max_size=6),
    _IDS,
    _IDS,
    _IDS,
)
def test_the_walk_scrubs_as_the_reference_does(
    properties: dict[str, Any],
    context: dict[str, Any],
    anonymous_id: str | None,
    user_id: str | None,
    session_id: str | None,
) -> None:
    event = Event(
        event="x",
        anonymous_id=anonymous_id,
        user_id=user_id,
        session_id=session_id,
        properties=properties,
        context=context,
    )
    previous = properties.get("previous_id")
    pseudonymized = (  # previous_id is pseudonymized first, then scrubbed with the rest
        {**properties, "previous_id": _pseudonym(previous)}
        if isinstance(previous, str)
        else properties
    )
    expected_properties = _reference(pseudonymized)
    expected_context = _reference(context, _CONTEXT_SKIP)
    before = msgspec.to_builtins(event)
    out = apply_privacy(msgspec.structs.replace(event), SETTINGS)
    assert out.properties == expected_properties
    assert out.context == expected_context
    assert (out.anonymous_id, out.user_id, out.session_id) == tuple(
        _pseudonym(v) for v in (anonymous_id, user_id, session_id)
    )
    # What is sent is never changed in place: a change makes a new container.
    assert msgspec.to_builtins(event) == before
    if expected_properties == properties:
        assert out.properties is properties
