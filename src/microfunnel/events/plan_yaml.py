"""Reading a tracking plan file: YAML with line numbers, so a broken plan says where it is broken.

``_LineLoader`` builds ``_Node`` mappings that remember the line of each key; ``_Where`` carries a
position through compilation and turns a problem into a PlanError naming the line and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from microfunnel.errors import PlanError
from microfunnel.events.plan_types import _closest, _describe

__all__ = ["PLAN_FILE"]

PLAN_FILE = "tracking-plan.yaml"

_PLAN_KEYS: tuple[str, ...] = (
    *("version", "naming", "allow_unknown_events", "allow_unknown_properties"),
    *("definitions", "events", "description"),
)
_OBJECT_KEYS: tuple[str, ...] = ("required", "optional", "require_any", "allow_unknown_properties")
_EVENT_KEYS: tuple[str, ...] = ("description", "lenient", *_OBJECT_KEYS)
_SPEC_KEYS: tuple[str, ...] = (
    *("type", "description", "allowed", "min", "max", "min_length", "max_length"),
    *("pattern", "items", "min_items", "max_items", "ref", "example", *_OBJECT_KEYS),
)


class _Node(dict[Any, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    loader.flatten_mapping(node)
    mapping = _Node()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise PlanError(f"{PLAN_FILE} line {line}: key `{key}` appears twice; keep one.")
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where in the plan file a value sits: for PlanError messages."""

    source: str
    line: int
    key: str

    def error(self, problem: str) -> PlanError:
        return PlanError(f"{self.source} line {self.line}, `{self.key}`: {problem}", field=self.key)

    def child(self, node: Mapping[Any, Any], key: str) -> _Where:
        line = node.key_lines.get(key, self.line) if isinstance(node, _Node) else self.line
        return _Where(self.source, line, f"{self.key}.{key}" if self.key else key)


def _mapping(
    value: Any, where: _Where, allowed_keys: tuple[str, ...] | None = None
) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(f"expected a mapping, got {_describe(value)}.")
    for key in value:
        if allowed_keys is not None and key not in allowed_keys:
            hint = _closest(str(key), allowed_keys)
            raise where.child(value, str(key)).error(
                f"unknown key `{key}`; {hint}allowed keys are {', '.join(allowed_keys)}."
            )
    return value
