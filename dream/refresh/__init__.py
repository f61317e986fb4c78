"""The monthly refresh: a delivery in, every table replaced atomically, the delivery and its table versions
recorded, old versions erased on schedule."""

from dream.refresh.pipeline import RefreshResult, refresh
from dream.refresh.runlog import runs, table_versions, tables_as_of

__all__ = ["RefreshResult", "refresh", "runs", "table_versions", "tables_as_of"]
