"""``build_benchmark``: fact_dream + fact_aktivering (+ befolkning) -> the benchmark tables of a warehouse."""

from __future__ import annotations

import datetime as dt
import logging

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.benchmark.cells import inner_cells
from dream.benchmark.publish import PREVIOUS_SCHEMA, published, suppress_cells, suppression_summary
from dream.benchmark.rates import key_figures, population, population_cells
from dream.errors import InputError
from dream.tables import table_path, write_table

log = logging.getLogger(__name__)

TABLE = "ydelsesaktivitet_benchmark"
CONFIDENTIAL = f"{TABLE}_fortrolig"
KEY_FIGURES = f"{TABLE}_noegletal"
SUMMARY = f"{TABLE}_undertrykkelse"
POPULATION_TABLE = "befolkning"
# Each release publishes the last 13 months: the rolling 12 months and the change on the month before.
# Older months stay as the releases that first published them (time travel); suppressing 11 years of months
# anew every release would cost hours and would publish old months again under a new pattern.
PUBLISHED_MONTHS = 13


def recent_months(fact: DataFrame, spells: DataFrame, months: int = PUBLISHED_MONTHS) -> tuple[DataFrame, DataFrame]:
    """The weeks and activation spells of the last ``months`` months (weeks by their Thursday)."""
    last = fact.agg(F.max("uge_start")).first()[0]  # one value
    if last is None:
        return fact, spells
    thursday = last + dt.timedelta(days=3)
    index = thursday.year * 12 + thursday.month - 1 - (months - 1)
    start = dt.date(index // 12, index % 12 + 1, 1)
    on_or_after = lambda monday: F.date_add(monday, 3) >= F.lit(start)
    return fact.where(on_or_after(F.col("uge_start"))), spells.where(on_or_after(F.col("start_uge_start")))


def _read(spark: SparkSession, warehouse: str, name: str) -> DataFrame | None:
    path = table_path(warehouse, name)
    return spark.read.format("delta").load(path) if DeltaTable.isDeltaTable(spark, path) else None


CURRENT = "current"  # the previous release is whatever the warehouse holds now


def previous_release(spark: SparkSession, warehouse: str, version: int | str | None = CURRENT) -> DataFrame:
    """The suppressed cells of the previous release (none the first time), materialised now, because the
    same table is overwritten below. ``version``: the Delta version of the confidential table that was
    the previous release (the refresh passes the last published delivery before this one, so rebuilding a
    delivery carries over from the same release as its first build did); None: there is none."""
    before = _read(spark, warehouse, CONFIDENTIAL) if version == CURRENT or version is None else \
        spark.read.format("delta").option("versionAsOf", int(version)).load(table_path(warehouse, CONFIDENTIAL))
    if before is None or version is None:
        return spark.createDataFrame([], PREVIOUS_SCHEMA)
    cells = before.where(F.col("undertrykt")).select(*[c.split()[0] for c in PREVIOUS_SCHEMA.split(", ")])
    return cells.localCheckpoint()


def build_benchmark(spark: SparkSession, warehouse: str, previous_version: int | str | None = CURRENT,
                    months: int = PUBLISHED_MONTHS) -> dict[str, int]:
    """Writes the four benchmark tables; returns table -> new Delta version. ``previous_version``: see
    ``previous_release``; ``months``: the months published (the last ones of the data)."""
    fact = _read(spark, warehouse, "fact_dream")
    spells = _read(spark, warehouse, "fact_aktivering")
    if fact is None or spells is None:
        raise InputError(f"no fact_dream or fact_aktivering table in {warehouse}: run `dream model` first")
    fact, spells = recent_months(fact, spells, months)
    previous = previous_release(spark, warehouse, previous_version)
    inner = inner_cells(fact, spells).localCheckpoint()  # small; suppressed and counted for the periods
    confidential = suppress_cells(inner, previous)
    befolkning = _read(spark, warehouse, POPULATION_TABLE)
    pop = None
    if befolkning is None:
        log.warning("No %s table in %s: no \"antal borgere 16-66 år\" cells and no rates per 1,000",
                    POPULATION_TABLE, warehouse)
    else:
        pop = population(befolkning).localCheckpoint()  # small; used twice
        confidential = confidential.unionByName(population_cells(pop, inner.select("periode")))
    # The benchmark tables are bounded by the classification (periods x measures x cells), not by the
    # persons: one file each (tens of MB at national scale), so compaction has nothing to do afterwards.
    versions = {CONFIDENTIAL: write_table(confidential.repartition(1), warehouse, CONFIDENTIAL, [])}
    confidential = _read(spark, warehouse, CONFIDENTIAL)
    versions[TABLE] = write_table(published(confidential).repartition(1), warehouse, TABLE, [])
    summary = suppression_summary(confidential)
    versions[SUMMARY] = write_table(summary.coalesce(1), warehouse, SUMMARY, [])
    for row in _read(spark, warehouse, SUMMARY).orderBy("periode", "maal").collect():  # periods x 4 rows
        log.info("  %s %-26s %5d cells, %4d suppressed (%d primary, %d secondary, %d carried over)",
                 row.periode, row.maal, row.celler, row.undertrykte, row.primaere, row.sekundaere, row.overfoerte)
    if pop is None:
        pop = population(spark.createDataFrame([], "kommune string, aar int, alder int, antal long"))
    figures = key_figures(_read(spark, warehouse, TABLE), pop)
    versions[KEY_FIGURES] = write_table(figures.repartition(1), warehouse, KEY_FIGURES, [])
    return versions
