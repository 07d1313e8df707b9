""" "Did you mean" hints: the known names closest to one a user typed.

Every hint in microfunnel (unknown events, plan parameters, allowed values, metrics,
experiments) comes from :func:`close_names`. difflib's ratio alone pairs names that only share
letters: ``new_mistake`` and ``view_item`` score 0.6, as much as a real slip. So a candidate
scoring under :data:`SURE` is kept only when the two share a word:

>>> close_names("card_declined", ["payment_declined", "view_item"])
['payment_declined']
>>> close_names("new_mistake", ["view_item", "add_to_cart"])
[]
>>> close_names("add_to_crt", ["add_to_cart", "add_to_wishlist", "purchase"])
['add_to_cart', 'add_to_wishlist']

Case does not count against a candidate, since shops mix it up (``usd`` for ``USD``):

>>> close_names("usd", ["EUR", "USD"])
['USD']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["SURE", "close_names"]

# A ratio at which two names are near enough without a shared word (one or two letters off).
SURE = 0.75
_WORD = re.compile(r"[a-z0-9]{3,}")


def close_names(
    name: str, known: Iterable[str], *, limit: int = 3, cutoff: float = 0.6
) -> list[str]:
    """Up to ``limit`` names of ``known`` close to ``name``, best first. Close means a score
    (difflib's ratio, ignoring case) of :data:`SURE` or more, or of ``cutoff`` or more with a
    word of three or more letters or digits in common."""
    wanted = name.lower()
    words = set(_WORD.findall(wanted))
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(wanted)
    scored: list[tuple[float, int, str]] = []
    for index, candidate in enumerate(dict.fromkeys(known)):
        lowered = candidate.lower()
        matcher.set_seq1(lowered)
        if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
            continue
        score = matcher.ratio()
        if score >= SURE or (score >= cutoff and not words.isdisjoint(_WORD.findall(lowered))):
            scored.append((-score, index, candidate))
    return [candidate for _, _, candidate in sorted(scored)[:limit]]
