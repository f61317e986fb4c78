"""``leverancer``: the refresh run log. One row per refresh: the delivery, its fingerprint, how it ended, and
for a published delivery the Delta version of every table, so a reader can take all tables as of one
delivery and get a consistent set, whatever ran (or crashed) since.

The row is appended last, in one commit, after every table of the delivery is written: a refresh that
dies before that leaves no "publiceret" row, and readers of ``tables_as_of`` keep the last good set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.errors import InputError
from dream.tables import table_path

RUN_LOG = "leverancer"
PUBLISHED, UNCHANGED, FAILED = "publiceret", "uaendret", "fejlet"
SCHEMA = ("koersel_id string, leverance string, status string, startet timestamp, afsluttet timestamp, "
          "kilde string, fingeraftryk string, personer long, foerste_uge string, sidste_uge string, "
          "historik_fra_aar int, tabelversioner map<string,bigint>, afstemt boolean, fejl string")


@dataclass(frozen=True)
class RunRecord:
    koersel_id: str
    leverance: str
    status: str
    startet: dt.datetime
    afsluttet: dt.datetime
    kilde: str
    fingeraftryk: str | None = None
    personer: int | None = None
    foerste_uge: str | None = None
    sidste_uge: str | None = None
    historik_fra_aar: int | None = None
    tabelversioner: dict[str, int] | None = None
    afstemt: bool | None = None
    fejl: str | None = None


def record_run(spark: SparkSession, warehouse: str, record: RunRecord) -> None:
    row = tuple(getattr(record, f) for f in RunRecord.__dataclass_fields__)
    spark.createDataFrame([row], SCHEMA).write.format("delta").mode("append").save(table_path(warehouse, RUN_LOG))


def runs(spark: SparkSession, warehouse: str) -> DataFrame:
    path = table_path(warehouse, RUN_LOG)
    if not DeltaTable.isDeltaTable(spark, path):
        return spark.createDataFrame([], SCHEMA)
    return spark.read.format("delta").load(path)


def last_published(spark: SparkSession, warehouse: str, leverance: str | None = None):
    """The run log row of the latest published delivery (or of ``leverance``), or None. One row."""
    published = runs(spark, warehouse).where(F.col("status") == PUBLISHED)
    if leverance is not None:
        published = published.where(F.col("leverance") == leverance)
    return published.orderBy(F.col("afsluttet").desc()).limit(1).first()


def last_published_before(spark: SparkSession, warehouse: str, leverance: str):
    """The run log row of the latest published delivery older than ``leverance`` (the previous release of
    a delivery, also when that delivery is rebuilt), or None. One row."""
    published = runs(spark, warehouse).where((F.col("status") == PUBLISHED) & (F.col("leverance") < leverance))
    return published.orderBy(F.col("leverance").desc(), F.col("afsluttet").desc()).limit(1).first()


def table_versions(spark: SparkSession, warehouse: str, leverance: str | None = None) -> dict[str, int]:
    """Table -> Delta version of the latest published delivery, or of ``leverance``."""
    row = last_published(spark, warehouse, leverance)
    if row is None:
        which = f"delivery {leverance}" if leverance else "any delivery"
        raise InputError(f"{warehouse}: no published {which} in its run log ({RUN_LOG})")
    return dict(row.tabelversioner)


def tables_as_of(spark: SparkSession, warehouse: str, leverance: str | None = None) -> dict[str, DataFrame]:
    """Every table as it was published with one delivery (default: the latest), read by time travel, so the
    set is consistent even while a newer refresh is writing or after one crashed half-way."""
    return {name: spark.read.format("delta").option("versionAsOf", version).load(table_path(warehouse, name))
            for name, version in sorted(table_versions(spark, warehouse, leverance).items())}
