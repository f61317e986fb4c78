"""Maintenance after a refresh: compaction of small files, and VACUUM, which is the erasure schedule.

Compaction: a table whose files average under ``refresh.compact_below_mb`` is rewritten by Delta's
OPTIMIZE (bin-packing within each partition). Its data does not change, only its files.

Erasure: a refresh replaces every table, so personal data that left a delivery (a person deleted from the
register, years that fell out of the history window) is gone from the current version at once. The files
of replaced versions stay readable by time travel until VACUUM deletes them: with the default
``refresh.retention_hours: 1080`` (45 days) last month's delivery can always be read back, and data
replaced more than 45 days ago is physically erased at the next refresh. Lower it to erase sooner; note
that time travel to a version older than the retention fails afterwards.

``refresh.vacuum``: ``full`` lists every folder of a table and also deletes files no version ever
referenced (left behind by a write that was killed); ``lite`` deletes only the files the Delta log knows
were replaced, which is much quicker on many partitions but leaves a killed write's files until the next
full VACUUM (and is skipped on a table whose whole history is younger than the retention: nothing in it
can be old enough); ``off`` leaves erasure to a separate job.
"""

from __future__ import annotations

import datetime as dt
import logging

import pyarrow.fs as pafs
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from dream.errors import ConfigError
from dream.tables import files_and_bytes, filesystem, most_files_in_a_partition, table_path

log = logging.getLogger(__name__)

_DELTA_MINIMUM_HOURS = 168  # Delta refuses a shorter retention unless its safety check is switched off


def compact(spark: SparkSession, warehouse: str, name: str, below_mb: int) -> bool:
    """OPTIMIZE the table if its files average less than ``below_mb`` and some partition has more than one
    file (bin-packing works within a partition: one small file per partition is as compact as it gets);
    returns whether it did."""
    if below_mb <= 0:
        return False
    path = table_path(warehouse, name)
    count, size = files_and_bytes(spark, path)  # from the version's checksum: no Spark job
    if count <= 1 or size / count >= below_mb * 1024 * 1024 or most_files_in_a_partition(spark, path) <= 1:
        return False
    DeltaTable.forPath(spark, path).optimize().executeCompaction()
    log.info("  compacted %-18s %d -> %d files", name, count, files_and_bytes(spark, path)[0])
    return True


VACUUM_MODES = ("full", "lite", "off")


def vacuum(spark: SparkSession, warehouse: str, name: str, retention_hours: int, mode: str = "full") -> None:
    """Delete the files no version younger than ``retention_hours`` needs (the erasure schedule)."""
    if mode not in VACUUM_MODES:
        raise ConfigError(f"refresh.vacuum must be one of {VACUUM_MODES}, got {mode!r}")
    if mode == "off":
        return
    if retention_hours < _DELTA_MINIMUM_HOURS:
        # A deliberate choice in the configuration (tests, a stricter erasure schedule): allow it.
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    if mode == "lite" and _younger_than(spark, warehouse, name, retention_hours):
        return
    lite = " LITE" if mode == "lite" else ""
    path = table_path(warehouse, name).replace("`", "``")
    spark.sql(f"VACUUM delta.`{path}`{lite} RETAIN {int(retention_hours)} HOURS").collect()  # a few rows


def _younger_than(spark: SparkSession, warehouse: str, name: str, hours: int) -> bool:
    """The table's whole history (version 0 on) is younger than ``hours``: no file can have been replaced
    longer ago, so VACUUM LITE (which deletes only files the log says were replaced) has nothing to do.
    Version 0's time is its commit file's, as Delta's history gives it (read without a Spark job)."""
    fs, root = filesystem(table_path(warehouse, name))
    first = fs.get_file_info(f"{root}/_delta_log/{0:020d}.json")
    if first.type == pafs.FileType.NotFound:
        return False  # older commits were cleaned from the log: let VACUUM decide
    return first.mtime > dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
