"""The hypothesis registry, the decision log and the learning log, kept in the project folder.

``hypotheses.yaml`` lists ideas before they become experiments::

    hypotheses:
      - key: shipping-banner
        problem: Shoppers leave product pages without adding to cart; exit surveys name shipping.
        change: A free-shipping banner on product pages.
        expected_lift: 0.10
        rationale: Shipping cost is the top reason in exit surveys (n = 412).
        metrics: [add_to_cart, revenue_per_visitor]
        risks: Margin on small orders.
        ice: {impact: 7, confidence: 6, ease: 8}
        pxl: {above_fold: true, noticeable_5s: true, adds_or_removes: true, high_traffic: true,
              user_research: true, analytics: true, ease: 2}

Each is scored by ICE (the mean of impact, confidence and ease, each 1-10) and by PXL (CXL's
binary checklist: above the fold 1, noticeable within 5 s 2, adds or removes an element 2, on
high-traffic pages 1, motivation 1, user testing 1, user research 1, analytics 1, heatmaps 1,
plus ease 0-3), and :func:`prioritize` ranks them. Decisions are appended to
``decisions.jsonl`` with the reading and the learning; :func:`log_markdown` exports the log.

>>> h = Hypothesis("x", "p", "c", 0.1, ice=(7, 6, 8))
>>> h.ice_score
7.0
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from microfunnel.errors import DefinitionError
from microfunnel.experiments.report import ExperimentReport

__all__ = [
    "PXL_WEIGHTS",
    "DecisionRecord",
    "Hypothesis",
    "load_hypotheses",
    "load_log",
    "log_markdown",
    "prioritize",
    "record_decision",
]

HYPOTHESES_FILE = "hypotheses.yaml"
LOG_FILE = "decisions.jsonl"
PXL_WEIGHTS: dict[str, int] = {
    "above_fold": 1, "noticeable_5s": 2, "adds_or_removes": 2, "high_traffic": 1,
    "motivation": 1, "user_testing": 1, "user_research": 1, "analytics": 1, "heatmaps": 1,
}  # fmt: skip
"""PXL questions and the points a "yes" earns; ``ease`` adds 0-3 (3: under 4 hours)."""


@dataclass(frozen=True, slots=True)
class Hypothesis:
    key: str
    problem: str
    change: str
    expected_lift: float
    rationale: str = ""
    metrics: tuple[str, ...] = ()
    risks: str = ""
    ice: tuple[int, int, int] = (5, 5, 5)
    pxl: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ice_score(self) -> float:
        return sum(self.ice) / 3

    @property
    def pxl_score(self) -> int:
        yes = sum(w for q, w in PXL_WEIGHTS.items() if self.pxl.get(q))
        return yes + int(self.pxl.get("ease", 0))


def _hypothesis(raw: Any) -> Hypothesis:
    if not isinstance(raw, Mapping) or not raw.get("key"):
        raise DefinitionError(f"Every hypothesis needs a `key`; got {raw!r}.")
    where = f"Hypothesis `{raw['key']}`"
    for name in ("problem", "change"):
        if not raw.get(name):
            raise DefinitionError(f"{where} needs `{name}`: say what is wrong and what you change.")
    ice = raw.get("ice") or {}
    scores = tuple(int(ice.get(k, 5)) for k in ("impact", "confidence", "ease"))
    if any(not 1 <= s <= 10 for s in scores):
        raise DefinitionError(f"{where}: ICE scores are from 1 to 10, got {scores}.")
    pxl = dict(raw.get("pxl") or {})
    unknown = set(pxl) - {*PXL_WEIGHTS, "ease"}
    if unknown:
        raise DefinitionError(
            f"{where}: unknown PXL question {sorted(unknown)[0]!r}; use "
            f"{', '.join([*PXL_WEIGHTS, 'ease'])}."
        )
    if not 0 <= int(pxl.get("ease", 0)) <= 3:
        raise DefinitionError(f"{where}: PXL `ease` is 0-3 (3: done in under 4 hours).")
    return Hypothesis(
        str(raw["key"]), str(raw["problem"]), str(raw["change"]),
        float(raw.get("expected_lift", 0.0)), str(raw.get("rationale", "")),
        tuple(raw.get("metrics") or ()), str(raw.get("risks", "")),
        (scores[0], scores[1], scores[2]), pxl,
    )  # fmt: skip


def load_hypotheses(folder: str | Path) -> list[Hypothesis]:
    """The hypotheses in ``hypotheses.yaml`` of a project folder (none if absent)."""
    path = Path(folder) / HYPOTHESES_FILE
    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text()) or {}
    return [_hypothesis(h) for h in raw.get("hypotheses") or []]


def prioritize(
    hypotheses: Sequence[Hypothesis], *, by: Literal["ice", "pxl"] = "pxl"
) -> list[Hypothesis]:
    """Highest score first; ties broken by the other score, then by key."""
    if by == "ice":
        return sorted(hypotheses, key=lambda h: (-h.ice_score, -h.pxl_score, h.key))
    return sorted(hypotheses, key=lambda h: (-h.pxl_score, -h.ice_score, h.key))


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    experiment: str
    outcome: str
    arm: str | None
    reading: str
    learning: str
    decided_at: str
    primary_metric: str
    relative_effect: float
    relative_ci: tuple[float, float]
    units: int


def record_decision(
    folder: str | Path, report: ExperimentReport, *, learning: str = "", now: datetime | None = None
) -> DecisionRecord:
    """Append the report's decision, with what was learned, to ``decisions.jsonl``."""
    primary = next(m for m in report.metrics if m.role == "primary")
    record = DecisionRecord(
        report.experiment, report.decision.outcome, report.decision.arm, report.decision.reading,
        learning, (now or datetime.now(UTC)).isoformat(timespec="seconds"), primary.metric,
        primary.relative_effect, (primary.relative_ci_lower, primary.relative_ci_upper),
        report.health.units,
    )  # fmt: skip
    with (Path(folder) / LOG_FILE).open("a") as fh:
        fh.write(json.dumps(asdict(record)) + "\n")
    return record


def load_log(folder: str | Path) -> list[DecisionRecord]:
    path = Path(folder) / LOG_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            raw = json.loads(line)
            raw["relative_ci"] = tuple(raw["relative_ci"])
            out.append(DecisionRecord(**raw))
    return out


def log_markdown(records: Sequence[DecisionRecord], hypotheses: Sequence[Hypothesis] = ()) -> str:
    """The decision and learning log (and the prioritized hypotheses) as Markdown."""
    lines = ["# Experiment log", ""]
    if not records:
        lines.append("No decisions recorded yet.")
    for r in records:
        lo, hi = r.relative_ci
        lines += [
            f"## {r.experiment}: {r.outcome}" + (f" ({r.arm})" if r.arm else ""),
            "",
            f"- decided: {r.decided_at}",
            f"- {r.primary_metric}: {r.relative_effect:+.1%} (95% interval {lo:+.1%} to "
            f"{hi:+.1%}), {r.units} units",
            f"- reading: {r.reading}",
        ]
        if r.learning:
            lines.append(f"- learning: {r.learning}")
        lines.append("")
    if hypotheses:
        lines += ["# Hypotheses by priority", "", "| hypothesis | PXL | ICE | expected lift |",
                  "|---|---|---|---|"]  # fmt: skip
        for h in prioritize(hypotheses):
            lines.append(
                f"| {h.key} | {h.pxl_score} | {h.ice_score:.1f} | {h.expected_lift:+.0%} |"
            )
    return "\n".join(lines).rstrip() + "\n"
