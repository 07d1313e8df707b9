"""The formats package's public names: complete, sorted, and one decoder per format module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

from microfunnel.events import formats

MODULES = [m.name for m in pkgutil.iter_modules(formats.__path__)]


def isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2), name


def test_all_is_sorted_and_complete():
    assert formats.__all__ == sorted(formats.__all__, key=isort_style)
    public = {n for n in vars(formats) if not n.startswith("_") and n not in MODULES}
    public -= {"annotations", "Mapping", "MappingProxyType", "Protocol", "datetime"}
    assert public == set(formats.__all__)


def test_every_format_module_is_a_decoder():
    formats_with_decode = {
        m for m in MODULES if hasattr(importlib.import_module(f"{formats.__name__}.{m}"), "decode")
    }
    assert formats_with_decode == set(formats.DECODERS)


@pytest.mark.parametrize("name", ["", *MODULES])
def test_docstring_examples_run(name):
    module = importlib.import_module(f"{formats.__name__}.{name}" if name else formats.__name__)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
