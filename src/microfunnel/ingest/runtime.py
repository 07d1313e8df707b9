"""A project at work: its store, plan, spool, writer and ingestor, opened and closed together."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from microfunnel.config import Project
from microfunnel.events.model import Event
from microfunnel.events.plan import TrackingPlan
from microfunnel.events.privacy import PrivacySettings, hash_user_id
from microfunnel.events.sessions import Sessionizer
from microfunnel.ingest.pipeline import Ingestor
from microfunnel.ingest.quarantine import ReplayResult, replay_quarantine
from microfunnel.ingest.spool import Spool
from microfunnel.ingest.workers import Workers
from microfunnel.ingest.writer import Writer

__all__ = ["Runtime", "make_privacy", "make_sessionizer"]

log = logging.getLogger("microfunnel")


def make_privacy(project: Project) -> PrivacySettings:
    settings = project.settings
    return PrivacySettings(
        scrub_pii=settings.scrub_pii,
        truncate_ip=settings.truncate_ip,
        hash_user_ids=settings.hash_user_ids,
        salt=settings.salt or None,
    )


def make_sessionizer(project: Project) -> Callable[[list[Event]], None]:
    """Derived sessions for events without one (30 minutes of inactivity by default)."""
    sessions = Sessionizer(timedelta(minutes=project.settings.session_timeout_minutes))
    lock = threading.Lock()

    def assign(events: list[Event]) -> None:
        with lock:
            for event in events:
                if event.session_id is None:
                    sessions.assign(event)

    return assign


class Runtime:
    """Everything a running project needs. Opening it replays the spool into the store."""

    def __init__(self, project: Project | str | Path):
        self.project = project if isinstance(project, Project) else Project(project)
        settings = self.project.settings
        self.store = self.project.open_store()
        self.plan = TrackingPlan.load(self.project.plan_path)
        self.privacy = make_privacy(self.project)
        self.spool = Spool(self.project.spool_path, group_ms=settings.spool_group_ms)
        self.writer = Writer(
            self.store,
            self.spool,
            batch_events=settings.writer_batch_events,
            interval=settings.writer_interval_ms / 1000,
        )
        recovered = self.writer.recover()
        if recovered:
            log.info("replayed %d spool records into the store", recovered)
        for problem in self.spool.recovered_problems:
            log.warning("spool recovery: %s", problem)
        self.spool.on_durable = self.writer.submit
        self.writer.start()
        self.ingestor = Ingestor(
            self.plan, self.privacy, self.spool, sessionize=make_sessionizer(self.project)
        )
        self._admin = threading.Lock()
        self.workers: Workers | None = None

    def start_workers(self) -> int:
        """Use the preparation workers the settings ask for (``ingest_workers``); each starts
        with the first batch it is given."""
        count = self.project.settings.ingest_workers
        if count < 0:
            count = 1 if (os.cpu_count() or 1) >= 2 else 0
        if count and self.workers is None:
            self.workers = Workers(self.project.path, count)
        return count

    @property
    def name(self) -> str:
        return self.project.settings.name

    def reload_plan(self) -> TrackingPlan:
        self.plan = TrackingPlan.load(self.project.plan_path)
        self.ingestor.plan = self.plan
        return self.plan

    def replay_quarantine(self) -> ReplayResult:
        with self._admin:
            self.writer.drain()
            plan = self.reload_plan()
            result = replay_quarantine(self.store, plan)
            self.writer.generation += 1  # the store changed outside the writer
            return result

    def forget(self, user_id: str) -> int:
        """Erase a person everywhere: spool (by draining and dropping it), events, quarantine."""
        with self._admin:
            self.writer.drain()
            removed = int(self.store.forget(user_id))
            if self.privacy.hash_user_ids and self.privacy.salt:
                removed += int(self.store.forget(hash_user_id(user_id, self.privacy.salt)))
            self.spool.purge_applied()
            self.writer.generation += 1
            return removed

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()
        self.spool.close()
        self.writer.drain(timeout=60)
        self.writer.stop()
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
