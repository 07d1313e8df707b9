"""Settings are declared once with help text; every CLI command says what it does."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

import microfunnel
from microfunnel.cli import app
from microfunnel.config import SETTINGS, Settings, load_settings
from microfunnel.errors import ConfigError


def test_every_setting_has_help_text() -> None:
    assert {f.name for f in fields(Settings)} == set(SETTINGS)
    assert all(len(text) > 20 for text in SETTINGS.values())


def test_every_command_has_a_help_line() -> None:
    import typer.main

    group = typer.main.get_command(app)
    missing = []

    def walk(cmd, path: str) -> None:  # type: ignore[no-untyped-def]
        for name, sub in getattr(cmd, "commands", {}).items():
            if not (sub.help or "").strip():
                missing.append(f"{path} {name}")
            walk(sub, f"{path} {name}")

    walk(group, "microfunnel")
    assert not missing, missing


def test_public_api_all_is_sorted_and_complete() -> None:
    assert microfunnel.__all__ == sorted(microfunnel.__all__)
    for name in microfunnel.__all__:
        assert hasattr(microfunnel, name)


def test_bad_settings_say_what_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "microfunnel.toml"
    toml.write_text('max_body_bytes = "lots"\n')
    with pytest.raises(ConfigError, match="max_body_bytes` must be a int"):
        load_settings(toml)
    toml.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown setting `colour`"):
        load_settings(toml)
    toml.write_text("")
    monkeypatch.setenv("MICROFUNNEL_SCRUB_PII", "maybe")
    with pytest.raises(ConfigError, match="MICROFUNNEL_SCRUB_PII"):
        load_settings(toml)
    monkeypatch.setenv("MICROFUNNEL_SCRUB_PII", "off")
    assert load_settings(toml).scrub_pii is False


def test_key_events_setting_is_a_list_of_names(tmp_path: Path) -> None:
    from microfunnel.config import split_names

    toml = tmp_path / "microfunnel.toml"
    toml.write_text('key_events = "add_to_cart, size_guide_open,,purchase"\n')
    assert split_names(load_settings(toml).key_events) == [
        "add_to_cart",
        "size_guide_open",
        "purchase",
    ]
