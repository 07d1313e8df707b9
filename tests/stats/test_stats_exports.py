"""The public API: ``__all__`` complete, sorted and importable."""

import importlib
import pkgutil

import microfunnel.stats as stats_pkg


def _isort_key(name: str) -> tuple[bool, bool, str]:
    """ruff's RUF022 order: CONSTANTS, then CamelCase, then the rest, each alphabetical."""
    return (not name.isupper(), not name[:1].isupper(), name)


def test_all_is_sorted_and_complete() -> None:
    assert stats_pkg.__all__ == sorted(stats_pkg.__all__, key=_isort_key)
    exported = set(stats_pkg.__all__)
    for mod in pkgutil.iter_modules(stats_pkg.__path__):
        module = importlib.import_module(f"microfunnel.stats.{mod.name}")
        assert set(getattr(module, "__all__", ())) <= exported, mod.name
    for name in stats_pkg.__all__:
        assert getattr(stats_pkg, name) is not None


def test_docstring_examples_run() -> None:
    import doctest

    for mod in pkgutil.iter_modules(stats_pkg.__path__):
        module = importlib.import_module(f"microfunnel.stats.{mod.name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod.name
    assert doctest.testmod(stats_pkg).failed == 0
