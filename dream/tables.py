"""Delta tables in a warehouse folder: paths, atomic overwrites, versions, commit metrics, roll-back."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def table_path(warehouse: str | Path, name: str) -> str:
    return str(Path(warehouse) / name)


def write_table(df: DataFrame, warehouse: str, name: str, partitions: list[str],
                stats_columns: list[str] | None = None) -> int:
    """Overwrite one Delta table (a single atomic commit) and return its new version.

    ``stats_columns``: the columns Delta keeps min/max statistics of for data skipping (default: the
    first 32). Statistics on 64-character person ids cost write time and skip nothing."""
    path = table_path(warehouse, name)
    started = time.monotonic()
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if stats_columns is not None:
        writer = writer.option("delta.dataSkippingStatsColumns", ",".join(stats_columns))
    if partitions:
        writer = writer.partitionBy(*partitions)
    writer.save(path)
    version = DeltaTable.forPath(df.sparkSession, path).history(1).select("version").first().version
    log.info("  wrote %-14s version %d in %.1f s", name, version, time.monotonic() - started)
    return version


def current_version(spark: SparkSession, warehouse: str, name: str) -> int | None:
    path = table_path(warehouse, name)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return DeltaTable.forPath(spark, path).history(1).select("version").first().version


def rows_written(spark: SparkSession, warehouse: str, name: str) -> int:
    """The rows the table's latest Delta commit reports having written (its own count, not ours)."""
    metrics = (DeltaTable.forPath(spark, table_path(warehouse, name)).history(1)
               .select("operationMetrics").first().operationMetrics)
    return int(metrics.get("numOutputRows", -1))


def roll_back(spark: SparkSession, warehouse: str, before: dict[str, int | None]) -> None:
    """Put every table back as it was before the run: restore the old version, or remove a new table."""
    for name, version in before.items():
        path = table_path(warehouse, name)
        if version is None:
            shutil.rmtree(path, ignore_errors=True)
        elif current_version(spark, warehouse, name) != version:
            DeltaTable.forPath(spark, path).restoreToVersion(version)
        log.warning("Rolled %s back to %s", name, "nothing" if version is None else f"version {version}")
