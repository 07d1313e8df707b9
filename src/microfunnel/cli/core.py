"""Project commands: init, serve, demo, import, events, quarantine, forget, keys."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from microfunnel.cli.common import (
    JsonOption,
    ProjectOption,
    command,
    console,
    open_store,
    print_json,
    print_table,
)
from microfunnel.config import Project
from microfunnel.project import init_project

__all__ = ["app"]

app = typer.Typer()
events_app = typer.Typer(help="Look at stored events.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Events that failed the tracking plan.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Write keys (ingest) and secret keys (read, admin).", no_args_is_help=True
)
app.add_typer(events_app, name="events")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(keys_app, name="keys")


@app.command()
@command
def init(
    path: Path = typer.Argument(..., help="Folder for the new project."),
    name: str = typer.Option("shop", help="A display name."),
    engine: str = typer.Option("duckdb", help="duckdb (embedded) or clickhouse."),
) -> None:
    """Create a project: settings, the default tracking plan, and its first keys."""
    created = init_project(path, name=name, engine=engine)
    console.print(f"[green]Created[/green] project [bold]{name}[/bold] in {path}")
    console.print(f"  write key  (public, ingest only): [bold]{created.write_key}[/bold]")
    console.print(f"  secret key (read/admin, shown once): [bold]{created.secret_key}[/bold]")
    console.print(f"  tracking plan: {path / 'tracking-plan.yaml'}")


@app.command()
@command
def serve(
    project: list[Path] = typer.Option([Path(".")], "--project", "-p", help="Project folder(s)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8600, help="Port to bind."),
) -> None:
    """Run the collector, API and dashboard."""
    from microfunnel.server.serve import serve_forever

    serve_forever([Project(p) for p in project], host=host, port=port)


@app.command()
@command
def demo(
    project: Path = typer.Option(Path("demo-project"), "--project", "-p", help="Demo folder."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8600, help="Port to bind."),
    days: int = typer.Option(28, help="Days of simulated traffic to seed."),
    visitors: int = typer.Option(400, help="New visitors per simulated day."),
) -> None:
    """Start the platform with a simulated shop's traffic sent through the real collector."""
    from microfunnel.server.serve import run_demo

    run_demo(project, host=host, port=port, days=days, visitors_per_day=visitors)


@app.command("import")
@command
def import_(
    file: Path = typer.Argument(..., help="CSV, Parquet or JSON lines file of events."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Load events from a file through the same validation, privacy and dedupe as the collector."""
    from microfunnel.ingest.importer import import_file
    from microfunnel.ingest.runtime import Runtime

    with Runtime(Project(project)) as runtime:
        result = import_file(runtime, file, progress=not as_json)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"imported {result.accepted} events, quarantined {result.quarantined}, "
            f"skipped {result.duplicates} duplicates"
        )


@events_app.command("count")
def events_count(
    project: Path = ProjectOption,
    event: str | None = typer.Option(None, "--event", help="Only this event name."),
    as_json: bool = JsonOption,
) -> None:
    """How many events are stored (all, or of one name)."""
    with open_store(project) as store:
        n = store.count_events(event)
    if as_json:
        print_json({"event": event, "count": n})
    else:
        console.print(f"{n} events" + (f" named {event}" if event else ""))


@events_app.command("tail")
def events_tail(
    project: Path = ProjectOption,
    limit: int = typer.Option(20, "--limit", "-n", help="How many of the latest events."),
    as_json: bool = JsonOption,
) -> None:
    """The latest events received."""
    with open_store(project) as store:
        rows = store.tail(limit)
    if as_json:
        print_json(rows)
        return
    cols = ["timestamp", "event", "person_id", "device", "page_path", "value"]
    print_table("latest events", cols, [[r[c] for c in cols] for r in rows])


@quarantine_app.command("list")
def quarantine_list(
    project: Path = ProjectOption,
    limit: int = typer.Option(50, "--limit", "-n", help="How many."),
    everything: bool = typer.Option(False, "--all", help="Include rows already replayed."),
    as_json: bool = JsonOption,
) -> None:
    """Quarantined events with every reason, the newest first."""
    with open_store(project) as store:
        rows = store.quarantine_rows(limit, pending_only=not everything, newest_first=True)
    if as_json:
        print_json(rows)
        return
    print_table(
        f"quarantine ({len(rows)} shown)",
        ["received_at", "event", "plan", "reasons"],
        [[r["received_at"], r["event"], r["plan_version"], "\n".join(r["reasons"])] for r in rows],
    )


@quarantine_app.command("problems")
def quarantine_problems(
    project: Path = ProjectOption,
    limit: int = typer.Option(20, "--limit", "-n", help="How many problems."),
    as_json: bool = JsonOption,
) -> None:
    """Pending quarantined events grouped by problem, the largest first."""
    with open_store(project) as store:
        pending, problems = store.count_quarantined(), store.quarantine_problems(limit)
    if as_json:
        print_json({"pending": pending, "problems": problems})
        return
    print_table(
        f"quarantine: {pending} pending events, {len(problems)} problems shown",
        ["events", "event", "problem", "first seen", "last seen"],
        [
            [
                p["events"],
                p["event"],
                "\n".join(p["reasons"]),
                _seconds(p["first_received"]),
                _seconds(p["last_received"]),
            ]
            for p in problems
        ],
    )


def _seconds(value: Any) -> str:
    """A time to the second (a table's column has no room for microseconds)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)


@quarantine_app.command("replay")
@command
def quarantine_replay(project: Path = ProjectOption, as_json: bool = JsonOption) -> None:
    """Re-validate quarantined events against the current plan; move what passes (exactly once)."""
    from microfunnel.ingest.runtime import Runtime

    with Runtime(Project(project)) as runtime:
        result = runtime.replay_quarantine()
    if as_json:
        print_json(result)
    else:
        console.print(
            f"replayed {result.replayed} events into the store (plan v{result.plan_version}); "
            f"{result.still_failing} still fail the plan"
        )


@app.command()
@command
def forget(
    user_id: str = typer.Argument(..., help="The user id to erase."),
    project: Path = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Erase a person's events everywhere: store, quarantine and spool."""
    from microfunnel.ingest.runtime import Runtime

    with Runtime(Project(project)) as runtime:
        removed = runtime.forget(user_id)
    if as_json:
        print_json({"user_id": user_id, "events_removed": removed})
    else:
        console.print(f"forgot {user_id}: {removed} events removed")


@keys_app.command("list")
@command
def keys_list(project: Path = ProjectOption, as_json: bool = JsonOption) -> None:
    """Write keys in full; secret keys by label and prefix only (they are stored hashed)."""
    p = Project(project)
    rows = [["write", k, ""] for k in p.keys.write] + [
        ["secret", k.get("prefix", "") + "…", k.get("label", "")] for k in p.keys.secret_hashes
    ]
    if as_json:
        print_json([{"kind": r[0], "key": r[1], "label": r[2]} for r in rows])
    else:
        print_table("keys", ["kind", "key", "label"], rows)


@keys_app.command("create")
@command
def keys_create(
    project: Path = ProjectOption,
    kind: str = typer.Option("write", "--kind", help="write or secret."),
    label: str = typer.Option("", "--label", help="What the key is for."),
    as_json: bool = JsonOption,
) -> None:
    """Make a new key; a secret key is shown only now."""
    key = Project(project).create_key(kind, label)
    if as_json:
        print_json({"kind": kind, "key": key, "label": label})
    else:
        console.print(f"new {kind} key: [bold]{key}[/bold]")
