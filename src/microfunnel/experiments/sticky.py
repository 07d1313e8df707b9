"""Sticky bucketing: remember a user's variation so later weight or coverage changes keep them put.

GrowthBook keeps one document per attribute value, holding ``"<experiment>__<bucket version>"``
to variation-key assignments. The evaluator reads those documents through a
:class:`StickyBucketStore` once per user and writes back what it assigns.

>>> store = InMemoryStickyBucketStore()
>>> docs: dict[str, dict[str, Any]] = {}
>>> save_assignment(docs, store, "id", "u1", "cta__0", "buy")
>>> find_assignment(docs, [("id", "u1")], "cta", 0, 0)
('buy', False)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "InMemoryStickyBucketStore",
    "StickyBucketStore",
    "find_assignment",
    "load_docs",
    "save_assignment",
]


class StickyBucketStore(Protocol):
    """Where sticky-bucket documents live (a cookie, Redis, a table): one per attribute value.

    A document is ``{"attributeName", "attributeValue", "assignments": {"<exp>__<version>":
    "<variation key>"}}``.
    """

    def get_assignments(
        self, attribute_name: str, attribute_value: str
    ) -> Mapping[str, Any] | None: ...

    def save_assignments(self, doc: Mapping[str, Any]) -> None: ...


class InMemoryStickyBucketStore:
    """A sticky-bucket store in a dict, keyed ``"<attributeName>||<attributeValue>"``."""

    def __init__(self, docs: Sequence[Mapping[str, Any]] = ()) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        for doc in docs:
            self.save_assignments(doc)

    def get_assignments(self, attribute_name: str, attribute_value: str) -> dict[str, Any] | None:
        return self.docs.get(f"{attribute_name}||{attribute_value}")

    def save_assignments(self, doc: Mapping[str, Any]) -> None:
        key = f"{doc['attributeName']}||{doc['attributeValue']}"
        self.docs[key] = json.loads(json.dumps(doc))


def load_docs(
    docs: dict[str, dict[str, Any]],
    store: StickyBucketStore,
    values: Iterable[tuple[str, str]],
) -> None:
    """Copy into ``docs`` the store's document for each ``(attribute, value)`` with a value."""
    for attribute, value in values:
        doc = store.get_assignments(attribute, value) if value else None
        if doc is not None:
            docs[f"{attribute}||{value}"] = json.loads(json.dumps(doc))


def find_assignment(
    docs: Mapping[str, Mapping[str, Any]],
    values: Iterable[tuple[Any, str]],
    key: str,
    bucket_version: int,
    min_bucket_version: int,
) -> tuple[Any, bool]:
    """(stored variation key or ``None``, blocked); blocked when an assignment predates
    ``min_bucket_version``, which bars the user from the experiment.
    """
    assignments: dict[str, Any] = {}
    for attribute, value in values:
        doc = docs.get(f"{attribute}||{value}") if value else None
        if doc:
            assignments.update(doc.get("assignments") or {})
    for version in range(min_bucket_version):
        if f"{key}__{version}" in assignments:
            return None, True
    return assignments.get(f"{key}__{bucket_version}"), False


def save_assignment(
    docs: dict[str, dict[str, Any]],
    store: StickyBucketStore | None,
    attribute: str,
    value: str,
    assignment_key: str,
    variation_key: str,
) -> None:
    """Record ``assignment_key -> variation_key`` in the user's document; save only on change."""
    doc_key = f"{attribute}||{value}"
    existing = dict((docs.get(doc_key) or {}).get("assignments") or {})
    updated = {**existing, assignment_key: variation_key}
    if updated == existing:
        return
    doc = {"attributeName": attribute, "attributeValue": value, "assignments": updated}
    docs[doc_key] = doc
    if store is not None:
        store.save_assignments(doc)
