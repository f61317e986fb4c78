"""``build_benchmark``: fact_dream + fact_aktivering (+ befolkning) -> the benchmark tables of a warehouse."""

from __future__ import annotations

import datetime as dt
import logging

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.benchmark.cells import inner_cells_from_table
from dream.benchmark.publish import (
    CONFIDENTIAL_ARROW, KEYS, PREVIOUS_SCHEMA, PUBLISHED_ARROW, SUMMARY_ARROW, confidential_files, published_files,
    suppression_summary,
)
from dream.benchmark.rates import NOEGLETAL_ARROW, key_figures_files, population, population_cells
from dream.errors import InputError
from dream.tables import read_files, table_path, write_arrow, write_files

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


def first_published_day(fact: DataFrame, months: int = PUBLISHED_MONTHS) -> dt.date | None:
    """The first day of the last ``months`` months of ``fact`` (weeks by their Thursday); None: no weeks."""
    last = fact.agg(F.max("uge_start")).first()[0]  # one value
    if last is None:
        return None
    thursday = last + dt.timedelta(days=3)
    index = thursday.year * 12 + thursday.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


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
    start = first_published_day(fact, months) or dt.date(1970, 1, 1)  # no weeks: no months, no cells
    spells = spells.where(F.date_add("start_uge_start", 3) >= F.lit(start))
    previous = previous_release(spark, warehouse, previous_version)
    inner = inner_cells_from_table(spark, table_path(warehouse, "fact_dream"), start, spells).localCheckpoint()
    befolkning = _read(spark, warehouse, POPULATION_TABLE)
    pop, population_rows = None, None
    if befolkning is None:
        log.warning("No %s table in %s: no \"antal borgere 16-66 år\" cells and no rates per 1,000",
                    POPULATION_TABLE, warehouse)
    else:
        pop = population(befolkning).localCheckpoint()  # small; used twice
        population_rows = population_cells(pop, inner.select("periode")).toPandas()  # periods x areas
    # Written by their own tasks with pyarrow, packed into one file each (see publish.py).
    confidential, published = table_path(warehouse, CONFIDENTIAL), table_path(warehouse, TABLE)
    versions = {CONFIDENTIAL: write_files(
        spark, confidential, CONFIDENTIAL_ARROW, [], KEYS,
        lambda run_id: confidential_files(spark, confidential, run_id, inner, previous, population_rows))}
    versions[TABLE] = write_files(spark, published, PUBLISHED_ARROW, [], KEYS,
                                  lambda run_id: published_files(spark, confidential, published, run_id))
    summary = suppression_summary(read_files(spark, confidential, ["periode", "maal", "undertrykt", "aarsag"]))
    versions[SUMMARY] = write_arrow(spark, table_path(warehouse, SUMMARY), summary, SUMMARY_ARROW, [], None)
    for row in summary.to_pylist():  # periods x 4 rows
        log.info("  %s %-26s %5d cells, %4d suppressed (%d primary, %d secondary, %d carried over)", row["periode"],
                 row["maal"], row["celler"], row["undertrykte"], row["primaere"], row["sekundaere"], row["overfoerte"])
    if pop is None:
        pop = population(spark.createDataFrame([], "kommune string, aar int, alder int, antal long"))
    figures = table_path(warehouse, KEY_FIGURES)
    versions[KEY_FIGURES] = write_files(spark, figures, NOEGLETAL_ARROW, [], KEYS,
                                        lambda run_id: key_figures_files(spark, published, figures, run_id, pop))
    return versions
