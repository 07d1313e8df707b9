"""The "did you mean" hints every error message shares (microfunnel.hints)."""

from __future__ import annotations

import doctest

import microfunnel.hints
from microfunnel.hints import close_names


def test_examples_in_the_docstring() -> None:
    assert doctest.testmod(microfunnel.hints).failed == 0


def test_a_shared_word_carries_a_middling_score() -> None:
    # difflib scores these 0.69: under SURE, kept for the shared "declined"
    assert close_names("card_declined", ["payment_declined", "out_of_stock"]) == [
        "payment_declined"
    ]
    assert close_names("checkout", ["begin_checkout", "purchase"]) == ["begin_checkout"]


def test_letters_in_common_are_not_enough() -> None:
    # difflib alone (cutoff 0.6) suggested `view_item` for both
    assert close_names("new_mistake", ["view_item", "add_to_cart", "purchase"]) == []
    assert close_names("old_mistake", ["view_item"]) == []


def test_best_first_up_to_the_limit() -> None:
    known = ["add_to_wishlist", "add_to_cart", "purchase", "add_payment_info"]
    assert close_names("add_to_crt", known) == ["add_to_cart", "add_to_wishlist"]
    assert close_names("add_to_crt", known, limit=1) == ["add_to_cart"]
    assert close_names("purchse", known) == ["purchase"]


def test_case_and_repeats() -> None:
    assert close_names("usd", ["EUR", "USD", "USD"]) == ["USD"]
    assert close_names("Add_To_Cart", ["add_to_cart"]) == ["add_to_cart"]


def test_cutoff_and_nothing_known() -> None:
    assert close_names("view_item", []) == []
    # 0.53 with a shared word: in at the analyses' 0.5, out at the plan's 0.6
    assert close_names("checkout_started", ["begin_checkout"], cutoff=0.5) == ["begin_checkout"]
    assert close_names("checkout_started", ["begin_checkout"]) == []
