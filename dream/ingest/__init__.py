"""Ingest: the national wide table -> restricted long Delta tables (DOMAIN.md §4.1)."""

from dream.ingest.pipeline import IngestResult, TableCount, ingest
from dream.tables import table_path

__all__ = ["IngestResult", "TableCount", "ingest", "table_path"]
