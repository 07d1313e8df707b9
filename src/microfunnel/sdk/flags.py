"""Local feature-flag evaluation for the Python SDK, over the collector's GrowthBook payload.

The payload comes from ``GET /api/features/{client_key}`` on first use and is refreshed in a
background thread; evaluation itself is :class:`~microfunnel.experiments.features.Evaluator`,
the same code the server uses, so a user lands in the same variation everywhere. An exposure is
reported once per (hash attribute, user, experiment, variation): the first time the user is
bucketed into that arm, including a holdout's passthrough arm.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from microfunnel.errors import DefinitionError
from microfunnel.experiments.features import Evaluator, ExperimentResult, FeatureResult

__all__ = ["Exposure", "Flags"]

logger = logging.getLogger("microfunnel.sdk")

# Remembered exposures, oldest forgotten first: bounds memory in a long-running server process.
MAX_REMEMBERED = 100_000


@dataclass(frozen=True, slots=True)
class Exposure:
    """A user was bucketed into ``variation_id`` (the variation key) of ``experiment_id``."""

    experiment_id: str
    variation_id: str
    feature_id: str | None
    user_id: str | None
    anonymous_id: str | None


class Flags:
    """The features payload of one client key, kept fresh, evaluated in-process."""

    def __init__(
        self,
        http: httpx.Client,
        client_key: str,
        *,
        interval: float,
        on_exposure: Callable[[Exposure], None],
    ) -> None:
        self._http = http
        self._path = f"/api/features/{client_key}"
        self._interval = interval
        self._on_exposure = on_exposure
        self._evaluator: Evaluator | None = None
        self._seen: OrderedDict[tuple[str, str, str, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._runs = threading.local()
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def refresh(self) -> bool:
        """Fetch the payload now; on failure keep the one we have (and say why in the log)."""
        try:
            response = self._http.get(self._path)
            response.raise_for_status()
            payload = response.json()
            if not isinstance(payload, Mapping):
                raise ValueError("the payload is not a JSON object")
            evaluator = Evaluator.from_payload(payload, on_experiment=self._record)
        except (httpx.HTTPError, ValueError, DefinitionError) as exc:
            logger.warning("microfunnel: could not load feature flags from %s: %s", self._path, exc)
            return False
        self._evaluator = evaluator
        return True

    def feature(
        self,
        key: str,
        attributes: Mapping[str, Any],
        user_id: str | None,
        anonymous_id: str | None,
    ) -> FeatureResult:
        runs: list[tuple[Mapping[str, Any], ExperimentResult]] = []
        self._runs.current = runs
        try:
            result = self._current().eval_feature(key, attributes)
        finally:
            self._runs.current = None
        for experiment, run in runs:
            self._expose(key, experiment, run, user_id, anonymous_id)
        return result

    def close(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5.0)

    def _current(self) -> Evaluator:
        evaluator = self._evaluator
        if evaluator is not None:
            return evaluator
        with self._load_lock:  # the first callers wait for one load, then share it
            if self._evaluator is None:
                if not self.refresh():
                    self._evaluator = Evaluator({}, on_experiment=self._record)
                self._refresher = threading.Thread(
                    target=self._refresh_forever, name="microfunnel-flags", daemon=True
                )
                self._refresher.start()
            evaluator = self._evaluator
        assert evaluator is not None  # set by refresh() or just above
        return evaluator

    def _refresh_forever(self) -> None:
        while not self._stop.wait(self._interval):
            self.refresh()

    def _record(self, experiment: Mapping[str, Any], result: ExperimentResult) -> None:
        runs = getattr(self._runs, "current", None)
        if runs is not None:
            runs.append((experiment, result))

    def _expose(
        self,
        feature_id: str,
        experiment: Mapping[str, Any],
        result: ExperimentResult,
        user_id: str | None,
        anonymous_id: str | None,
    ) -> None:
        hashed = str(result.hash_value)
        key = (result.hash_attribute, hashed, str(experiment["key"]), result.key)
        with self._lock:
            if key in self._seen:
                return
            self._seen[key] = None
            if len(self._seen) > MAX_REMEMBERED:
                self._seen.popitem(last=False)
        if user_id is None and anonymous_id is None:
            anonymous_id = hashed
        exposure = Exposure(str(experiment["key"]), result.key, feature_id, user_id, anonymous_id)
        self._on_exposure(exposure)
