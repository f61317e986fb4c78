"""``ingest``: one national wide delivery -> the restricted long Delta tables, validated and reconciled.

Stages: open the delivery (structural checks; nothing is written before they pass) -> plan its columns
-> persons and duplicates -> check every cell, counting the input and collecting quarantine rows -> write
each table, the unpivot running inside the write -> reconcile: per table, the non-blank input cells must
equal the rows its Delta commit reports having written plus the rows quarantined; if not, every table is
rolled back to its version before the run -> run log.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from dream.config import Config
from dream.errors import InputError, ReconciliationError
from dream.ingest.families import Family, FamilySpec, load_families, plan_columns
from dream.ingest.pseudonym import load_key
from dream.ingest.sources import open_delivery
from dream.ingest.tasks import PERSON_SCHEMA, SLICE_SCHEMA, check_task, family_task, person_task
from dream.ingest.unpivot import DUPLICATE, PROBLEM_SCHEMA, Checks, data_schema
from dream.reference import benefit_codes, kommuner
from dream.tables import current_version, roll_back, rows_written, table_path, write_table

log = logging.getLogger(__name__)

PERSON_TABLE = "dsa_borger"
WEEKS_TABLE = "dsa_uger"  # the delivered weeks: what later stages need to tell a blank week from no data
QUARANTINE_TABLE = "karantaene"
RUN_LOG_TABLE = "koersel_log"
MAX_DUPLICATES = 100_000  # more than this is a broken delivery (concatenated twice?), not a data problem
# Partitions: the weekly table by year and municipality (DOMAIN.md §4.1); the thinner monthly, quarterly
# and yearly tables by year only (their `kommune` column still filters well through Delta's file statistics).
_PARTITIONS = {"week": ["aar", "kommune"]}


@dataclass
class TableCount:
    tabel: str
    input_celler: int
    skrevet: int
    karantaene: int

    @property
    def holds(self) -> bool:
        return self.input_celler == self.skrevet + self.karantaene


@dataclass
class IngestResult:
    run_id: str
    warehouse: str
    persons: int
    counts: list[TableCount]
    versions: dict[str, int]
    unmatched_columns: list[str]
    malformed_columns: dict[str, list[str]]
    seconds: float = 0.0


def ingest(spark: SparkSession, input_path: str, warehouse: str, config: Config,
           spec: FamilySpec | None = None, progress: bool = True) -> IngestResult:
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:12]
    spec = spec or load_families()
    delivery = open_delivery(input_path, Path(warehouse) / "_staging" / run_id, progress)
    plan = plan_columns(delivery.columns, spec, str(input_path))
    log.info("Delivery %s: %s persons, %s columns in %s row groups", input_path, f"{delivery.rows:,}",
             len(delivery.columns), len(delivery.slices))
    if plan.unmatched:
        log.warning("%d columns match no family and are not loaded: %s", len(plan.unmatched), plan.unmatched[:20])
    for family, columns in plan.malformed.items():
        log.warning("%d %s columns have a malformed period; their cells go to quarantine: %s",
                    len(columns), family, columns[:10])
    families = [f for f in spec.families if f.name in plan.columns]

    sc = spark.sparkContext
    key = sc.broadcast(load_key(config.pseudonym))  # a broadcast, never a literal in a plan
    slices = spark.createDataFrame([(s.path, s.row_group) for s in delivery.slices], SLICE_SCHEMA)
    slices = slices.repartition(len(delivery.slices))

    log.info("Stage 1/4: persons and duplicates")
    persons = with_duplicates_flagged(slices.mapInArrow(person_task(plan, key), from_arrow_schema(PERSON_SCHEMA)))
    persons = persons.persist(StorageLevel.MEMORY_AND_DISK)
    duplicates = [r.person_id for r in persons.where(F.col("fejl") == DUPLICATE)
                  .select("person_id").distinct().limit(MAX_DUPLICATES + 1).collect()]
    if len(duplicates) > MAX_DUPLICATES:
        raise InputError(f"{input_path}: more than {MAX_DUPLICATES:,} persons occur more than once: "
                         "was the delivery concatenated twice? Nothing was published.")
    duplicates_holder = sc.broadcast(frozenset(duplicates))

    log.info("Stage 2/4: check every cell and count the input")
    checks = Checks(frozenset(c.ydelseskode for c in benefit_codes()), frozenset(k.kommunekode for k in kommuner()))
    problems = slices.mapInArrow(check_task(plan, spec, checks, key, duplicates_holder),
                                 from_arrow_schema(PROBLEM_SCHEMA)).persist(StorageLevel.MEMORY_AND_DISK)
    counted = input_counts(problems)

    log.info("Stage 3/4: write %d Delta tables to %s", len(families) + 3, warehouse)
    before = {name: current_version(spark, warehouse, name)
              for name in [WEEKS_TABLE, PERSON_TABLE, QUARANTINE_TABLE, *(f.table for f in families)]}
    versions = {WEEKS_TABLE: write_table(delivered_weeks(spark, plan), warehouse, WEEKS_TABLE, []),
                PERSON_TABLE: write_table(persons_output(persons), warehouse, PERSON_TABLE, []),
                QUARANTINE_TABLE: write_table(quarantine_output(problems, persons), warehouse, QUARANTINE_TABLE, [])}
    # The tables are independent: two writers at a time keep both cores busy while one commits.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {f.table: pool.submit(write_family, family_output(slices, plan, f, checks, key, duplicates_holder),
                                        warehouse, f) for f in families}
        versions.update({table: future.result() for table, future in futures.items()})

    log.info("Stage 4/4: reconcile input cells = rows written + rows quarantined")
    quarantined_persons = persons.where(F.col("fejl").isNotNull()).count()
    counts = [TableCount(PERSON_TABLE, delivery.rows, rows_written(spark, warehouse, PERSON_TABLE), quarantined_persons)]
    for f in spec.families:
        if f.table in counted:  # also a family whose only columns were malformed: all its cells quarantined
            seen, quarantined = counted[f.table]
            written = rows_written(spark, warehouse, f.table) if f.table in versions else 0
            counts.append(TableCount(f.table, seen, written, quarantined))
    problems.unpersist()
    persons.unpersist()
    for c in counts:
        log.info("  %-14s input %12s = written %12s + quarantined %9s  %s", c.tabel, f"{c.input_celler:,}",
                 f"{c.skrevet:,}", f"{c.karantaene:,}", "OK" if c.holds else "MISMATCH")
    result = IngestResult(run_id, warehouse, delivery.rows, counts, versions, plan.unmatched, plan.malformed,
                          seconds=time.monotonic() - started)
    write_run_log(spark, result, str(input_path))
    if not all(c.holds for c in counts):
        roll_back(spark, warehouse, before)
        raise ReconciliationError("the counts do not reconcile (see above); the tables were rolled back")
    return result


def with_duplicates_flagged(persons: DataFrame) -> DataFrame:
    """Every row of a person id that occurs more than once is quarantined: neither copy can be trusted."""
    copies = F.count(F.lit(1)).over(Window.partitionBy("person_id"))
    return persons.withColumn(
        "fejl", F.coalesce("fejl", F.when(copies > 1, F.lit(DUPLICATE)))
    ).select("person_id", "koen", "foed_dato", "fejl")


def input_counts(problems: DataFrame) -> dict[str, tuple[int, int]]:
    """Table -> (non-blank input cells, quarantined cells); one small row per table."""
    rows = problems.groupBy("tabel").agg(
        F.sum(F.when(F.col("slags") == "optalt", F.col("antal")).otherwise(0)).alias("input"),
        F.sum((F.col("slags") == "karantaene").cast("long")).alias("karantaene"),
    ).collect()
    return {r.tabel: (r.input, r.karantaene) for r in rows}


def delivered_weeks(spark: SparkSession, plan) -> DataFrame:
    """Every week the delivery has a column for (from its column names: blank weeks included)."""
    rows = sorted((p.aar, p.periode, p.start) for _, p in plan.columns["y"])
    return spark.createDataFrame(rows, "aar int, uge int, uge_start date").coalesce(1)


def persons_output(persons: DataFrame) -> DataFrame:
    return persons.where(F.col("fejl").isNull()).select("person_id", "koen", "foed_dato")


def family_output(slices: DataFrame, plan, family: Family, checks: Checks, key, duplicates) -> DataFrame:
    return slices.mapInArrow(family_task(plan, family, checks, key, duplicates), from_arrow_schema(data_schema(family)))


def write_family(df: DataFrame, warehouse: str, family: Family) -> int:
    partitions = _PARTITIONS.get(family.grain, ["aar"])
    stats = [c for c in data_schema(family).names if c not in partitions and c != "person_id"]
    return write_table(df, warehouse, family.table, partitions, stats_columns=stats)


def quarantine_output(problems: DataFrame, persons: DataFrame) -> DataFrame:
    cells = problems.where(F.col("slags") == "karantaene").select(
        "tabel", "kolonne", "person_id", "aar", "periode", "vaerdi", "fejl")
    people = persons.where(F.col("fejl").isNotNull()).select(
        F.lit(PERSON_TABLE).alias("tabel"), F.lit(None).cast("string").alias("kolonne"), "person_id",
        F.lit(None).cast("int").alias("aar"), F.lit(None).cast("int").alias("periode"),
        F.lit(None).cast("string").alias("vaerdi"), "fejl")
    return cells.unionByName(people).coalesce(1)


def write_run_log(spark: SparkSession, result: IngestResult, source: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = [(result.run_id, now, "ingest", source, c.tabel, c.input_celler, c.skrevet, c.karantaene, c.holds,
             result.versions.get(c.tabel)) for c in result.counts]
    schema = ("run_id string, tidspunkt timestamp, trin string, kilde string, tabel string, input_celler long, "
              "skrevet long, karantaene long, afstemt boolean, delta_version long")
    spark.createDataFrame(rows, schema).write.format("delta").mode("append").save(
        table_path(result.warehouse, RUN_LOG_TABLE))
