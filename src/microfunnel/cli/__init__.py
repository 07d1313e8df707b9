"""The ``microfunnel`` command. Each command group lives in its own module with a typer app.

A command parses its input, calls one library function and prints the result (a rich table, or
JSON with ``--json``); it holds no SQL and no statistics.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="microfunnel",
    help="Micro-conversion analytics and precision A/B testing for e-commerce funnels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# (module, group name or None to add the module's commands at the top level)
_GROUPS: list[tuple[str, str | None]] = [
    ("microfunnel.cli.core", None),
    ("microfunnel.cli.analytics", None),
    ("microfunnel.cli.insights", None),
    ("microfunnel.cli.report", None),
    ("microfunnel.cli.experiments", "experiment"),
]

for _module, _name in _GROUPS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _exc:
        if _exc.name is None or not _module.startswith(_exc.name):
            raise
        continue
    if _name is None:
        for _cmd in _mod.app.registered_commands:
            app.registered_commands.append(_cmd)
        for _grp in _mod.app.registered_groups:
            app.registered_groups.append(_grp)
    else:
        app.add_typer(_mod.app, name=_name)


def main() -> None:
    app()
