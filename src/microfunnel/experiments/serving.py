"""A project's experiments as served: definitions from its folder, adaptive weights, the payload.

``experiments.yaml`` is checked against the project's tracking plan; adaptive experiments'
Thompson-sampling weights live in ``experiment-weights.json`` (written by
:func:`microfunnel.experiments.adaptive.update_adaptive_weights`). The payload is cached until
either file changes, so ``GET /api/features/{client_key}`` costs a dictionary lookup.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from microfunnel.config import Project
from microfunnel.errors import DefinitionError
from microfunnel.events.plan import TrackingPlan
from microfunnel.experiments.definitions import Definitions, load_definitions, parse_definitions

__all__ = [
    "WEIGHTS_FILE",
    "load_project_definitions",
    "load_weights",
    "project_payload",
    "save_experiment",
]

WEIGHTS_FILE = "experiment-weights.json"

_cache: dict[Path, tuple[tuple[float, ...], dict[str, Any]]] = {}
_lock = threading.Lock()


def _plan_events(project: Project) -> list[str] | None:
    if not project.plan_path.exists():
        return None
    return list(TrackingPlan.load(project.plan_path).event_names)


def load_project_definitions(project: Project) -> Definitions:
    """The project's experiments.yaml, validated against its tracking plan."""
    return load_definitions(project.experiments_path, events=_plan_events(project))


def load_weights(project: Project) -> dict[str, list[float]]:
    """Adaptive weights by experiment key (empty when none were computed yet)."""
    path = project.path / WEIGHTS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{WEIGHTS_FILE} is not valid JSON ({exc}): delete it.") from None
    return {str(k): [float(w) for w in v["weights"]] for k, v in data.items()}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def project_payload(project: Project) -> dict[str, Any]:
    """The GrowthBook SDK payload of a project (cached until its files change)."""
    files = (project.experiments_path, project.path / WEIGHTS_FILE, project.plan_path)
    stamp = tuple(_mtime(f) for f in files)
    key = project.path.resolve()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    updated = datetime.fromtimestamp(max(stamp) or 0, UTC)
    payload = load_project_definitions(project).payload(
        weights=load_weights(project), date_updated=updated
    )
    with _lock:
        _cache[key] = (stamp, payload)
    return payload


def save_experiment(project: Project, raw: dict[str, Any]) -> Definitions:
    """Add or replace one experiment in experiments.yaml, after checking the whole file with it.

    The file is rewritten only when every definition still validates, so a bad definition sent
    through the API never reaches SDKs.
    """
    path = project.experiments_path
    doc = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise DefinitionError("An experiment needs a non-empty string `key`.", field="key")
    others = [e for e in doc.get("experiments") or [] if e.get("key") != key]
    doc["experiments"] = [*others, raw]
    defs = parse_definitions(doc, events=_plan_events(project))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    tmp.replace(path)
    return defs
