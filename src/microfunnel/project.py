"""Creating a project folder (``microfunnel init``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from microfunnel.config import Project
from microfunnel.errors import ConfigError
from microfunnel.events.plan import default_plan_text

__all__ = ["CreatedProject", "init_project"]

EXPERIMENTS_TEMPLATE = """\
# Experiments and features served at /api/features/<write key>.
# See the README for the fields: hypothesis, arms, targeting, trigger, metrics, stopping rule.
version: 1
experiments: []
features: {}
"""


@dataclass(frozen=True)
class CreatedProject:
    project: Project
    write_key: str
    secret_key: str


def init_project(path: str | Path, *, name: str = "shop", engine: str = "duckdb") -> CreatedProject:
    """Write settings, the default tracking plan, an experiments file and the first keys."""
    folder = Path(path)
    if (folder / "microfunnel.toml").exists():
        raise ConfigError(
            f"{folder} is already a microfunnel project; use it, or pick a new folder"
        )
    if engine not in ("duckdb", "clickhouse"):
        raise ConfigError(f"engine must be 'duckdb' or 'clickhouse', got {engine!r}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "microfunnel.toml").write_text(
        f'name = "{name}"\nengine = "{engine}"\nsalt = "{secrets.token_hex(16)}"\n'
    )
    (folder / "tracking-plan.yaml").write_text(default_plan_text())
    if not (folder / "experiments.yaml").exists():
        (folder / "experiments.yaml").write_text(EXPERIMENTS_TEMPLATE)
    project = Project(folder)
    write_key = project.create_key("write", "default")
    secret_key = project.create_key("secret", "created by init")
    return CreatedProject(project, write_key, secret_key)
