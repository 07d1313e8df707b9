"""The package's public names: complete, sorted, and each importable."""

from __future__ import annotations

import importlib
import pkgutil

import microfunnel.experiments as experiments

INTERNAL_SUFFIXES = ("Layout", "Windows", "Summary", "Condition", "Kind", "Test")


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff's RUF022 keeps)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert experiments.__all__ == sorted(experiments.__all__, key=_isort_key)
    assert len(set(experiments.__all__)) == len(experiments.__all__)
    for name in experiments.__all__:
        assert getattr(experiments, name) is not None


def test_every_public_class_is_exported() -> None:
    exported = set(experiments.__all__)
    for info in pkgutil.iter_modules(experiments.__path__):
        module = importlib.import_module(f"microfunnel.experiments.{info.name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            public_class = (
                isinstance(obj, type)
                and obj.__module__ == module.__name__
                and not name.endswith(INTERNAL_SUFFIXES)
            )
            if public_class:
                assert name in exported, f"{info.name}.{name} is not re-exported"
