"""Ingestion: the spool (write-ahead, fsync'd), the single writer and the pipeline."""

from microfunnel.ingest.pipeline import Ingestor, IngestResult
from microfunnel.ingest.quarantine import ReplayResult, replay_quarantine
from microfunnel.ingest.spool import Spool
from microfunnel.ingest.writer import Writer

__all__ = ["IngestResult", "Ingestor", "ReplayResult", "Spool", "Writer", "replay_quarantine"]
