"""Two consecutive monthly deliveries for the refresh tests, and a content fingerprint of a Delta table."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType, MapType

from dream.refresh.runlog import RUN_LOG

LOGS = {RUN_LOG, "koersel_log"}  # appended to by every run: compared by their rows, not as a whole


def table_fingerprint(df: DataFrame) -> tuple[int, int]:
    """(rows, sum of row hashes): equal for equal contents in any order; doubles rounded to 9 places so the
    order a sum was taken in does not count."""
    columns = [F.round(f.name, 9) if isinstance(f.dataType, (DoubleType, FloatType)) else F.col(f.name)
               for f in df.schema.fields if not isinstance(f.dataType, MapType)]
    row = df.select(F.count(F.lit(1)), F.sum(F.xxhash64(*columns).cast("decimal(38,0)"))).first()
    return row[0], int(row[1] or 0)


def data_tables(warehouse: str | Path) -> list[str]:
    return sorted(p.name for p in Path(warehouse).iterdir() if (p / "_delta_log").is_dir() and p.name not in LOGS)


def fingerprints(spark: SparkSession, warehouse: str | Path, versions: dict[str, int] | None = None) -> dict:
    """Table -> fingerprint of its current version (or of ``versions[table]``)."""
    result = {}
    for name in data_tables(warehouse):
        reader = spark.read.format("delta")
        if versions is not None:
            reader = reader.option("versionAsOf", versions[name])
        result[name] = table_fingerprint(reader.load(str(Path(warehouse) / name)))
    return result


@dataclass
class Published:
    """A warehouse with delivery 2026-09 then 2026-10 published, and snapshots of what each one published."""

    september: str  # the input files
    october: str
    warehouse: Path  # both published
    after_september: Path  # a copy of the warehouse as it was after 2026-09
    september_prints: dict = field(default_factory=dict)
    october_prints: dict = field(default_factory=dict)


def copy_warehouse(source: Path, target: Path) -> Path:
    """A Delta table's log holds relative paths: a copied folder is the same tables, history included."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_refresh.lock"))
    return target
