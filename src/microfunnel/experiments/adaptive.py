"""Adaptive allocation: Thompson-sampling weights for experiments marked ``adaptive: true``.

Each arm's share of new traffic becomes the posterior probability that it converts best on the
primary metric (``microfunnel.stats.thompson_weights``, with a floor so no arm starves). The
weights are written to ``experiment-weights.json`` in the project folder and served through
``GET /api/features/{client_key}`` in place of the declared weights.

Changing weights moves some units between arms unless the SDK uses sticky bucketing; the
analysis of an adaptive experiment reads its exposures as they happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from microfunnel.config import Project
from microfunnel.errors import DefinitionError
from microfunnel.experiments.analysis import experiment_stats
from microfunnel.experiments.definitions import Definitions, ExperimentDef
from microfunnel.experiments.serving import WEIGHTS_FILE, load_project_definitions
from microfunnel.experiments.tables import StatsTable, layout
from microfunnel.stats import ProportionStats, thompson_weights
from microfunnel.store.base import Store

__all__ = ["DEFAULT_FLOOR", "adaptive_weights", "update_adaptive_weights"]

DEFAULT_FLOOR = 0.05


def adaptive_weights(
    table: StatsTable, exp: ExperimentDef, *, floor: float = DEFAULT_FLOOR, seed: int = 0
) -> tuple[float, ...]:
    """Thompson-sampling weights from the primary conversion metric of each arm."""
    primary = exp.primary.funnel_steps()[0]
    if primary.kind != "conversion":
        raise DefinitionError(
            f"Experiment `{exp.key}` is adaptive but its primary metric `{primary.key}` is not a "
            "conversion: bandits here allocate on a conversion rate; change `primary`."
        )
    num, _ = layout([primary]).index[primary.key]
    arms = []
    for arm in exp.arms:
        totals = table.total(table.mask(arm=arm))
        arms.append(ProportionStats(int(totals.get("n", 0)), round(totals.get(f"m{num}_sum", 0))))
    floor = min(floor, 1 / len(arms))
    return thompson_weights(arms, floor=floor, seed=seed)


def update_adaptive_weights(
    project: Project,
    store: Store,
    *,
    definitions: Definitions | None = None,
    now: datetime | None = None,
    floor: float = DEFAULT_FLOOR,
) -> dict[str, list[float]]:
    """Recompute and save the weights of every running adaptive experiment; returns them."""
    defs = definitions or load_project_definitions(project)
    now = now or datetime.now(UTC)
    path = project.path / WEIGHTS_FILE
    saved: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    out: dict[str, list[float]] = {}
    for exp in defs.experiments.values():
        if not exp.adaptive or exp.status != "running":
            continue
        since = exp.start.replace(tzinfo=None) if exp.start else datetime(1970, 1, 1)
        table = experiment_stats(store, exp, since=since, until=now.replace(tzinfo=None))
        weights = list(adaptive_weights(table, exp, floor=floor)) if len(table) else [
            *exp.weights]  # fmt: skip
        units = int(table.total(table.mask())["n"]) if len(table) else 0
        saved[exp.key] = {"weights": weights, "units": units, "updated": now.isoformat()}
        out[exp.key] = weights
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved, indent=2))
    tmp.replace(path)
    return out


def weights_summary(saved: Mapping[str, list[float]], exp: ExperimentDef) -> str:
    """``arm 40% / arm 60%`` for display."""
    weights = saved.get(exp.key, list(exp.weights))
    return " / ".join(f"{a} {w:.0%}" for a, w in zip(exp.arms, weights, strict=False))
