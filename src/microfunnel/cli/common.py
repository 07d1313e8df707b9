"""What every CLI command shares: opening a project, printing tables or JSON, clean errors."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from microfunnel.config import Project
from microfunnel.errors import InputError, MicrofunnelError

__all__ = [
    "JsonOption",
    "ProjectOption",
    "console",
    "open_store",
    "parse_date",
    "print_json",
    "print_table",
    "to_jsonable",
]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ProjectOption = typer.Option(Path("."), "--project", "-p", help="The project folder.")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def to_jsonable(value: Any) -> Any:
    """Dataclasses, dates and numpy scalars as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def parse_date(value: str | None, option: str = "--start/--end") -> date | None:
    """A YYYY-MM-DD option value; a bad one is an InputError that says the expected form."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(
            f"{option} must be a date like 2026-11-23, got {value!r}", field=option
        ) from None


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn our errors into a one-line message and exit code 2; never a stack trace."""
    try:
        yield
    except MicrofunnelError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None


@contextmanager
def open_store(project: Path) -> Iterator[Any]:
    with cli_errors():
        store = Project(project).open_store()
        try:
            yield store
        finally:
            store.close()


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command body so our errors print cleanly."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cli_errors():
            return fn(*args, **kwargs)

    return wrapper
