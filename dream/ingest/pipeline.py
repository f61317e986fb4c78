"""``ingest``: one national wide delivery -> the restricted long Delta tables, validated and reconciled.

Stages: open the delivery (structural checks, nothing written) -> plan its columns -> persons and
duplicates -> the distributed unpivot -> reconcile (before anything is published) -> write each table
-> check the rows each Delta commit reports against the reconciliation -> run log.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
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
from dream.ingest.tasks import PERSON_SCHEMA, SLICE_SCHEMA, person_task, unpivot_task
from dream.ingest.unpivot import DUPLICATE, UNION_SCHEMA, Checks
from dream.reference import benefit_codes, kommuner

log = logging.getLogger(__name__)

PERSON_TABLE = "dsa_borger"
QUARANTINE_TABLE = "karantaene"
RUN_LOG_TABLE = "koersel_log"
MAX_DUPLICATES = 100_000  # more than this is a broken delivery (concatenated twice?), not a data problem
_PERIOD_COLUMN = {"week": "uge", "month": "maaned", "quarter": "kvartal"}
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
    notes: list[str] = field(default_factory=list)


def table_path(warehouse: str | Path, name: str) -> str:
    return str(Path(warehouse) / name)


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

    sc = spark.sparkContext
    key = sc.broadcast(load_key(config.pseudonym))
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

    log.info("Stage 2/4: unpivot %s families", len(plan.columns))
    checks = Checks(frozenset(c.ydelseskode for c in benefit_codes()), frozenset(k.kommunekode for k in kommuner()))
    union = slices.mapInArrow(
        unpivot_task(plan, spec, checks, key, sc.broadcast(frozenset(duplicates))), from_arrow_schema(UNION_SCHEMA)
    ).persist(StorageLevel.MEMORY_AND_DISK)

    log.info("Stage 3/4: reconcile before publishing")
    counts = reconcile(union, persons, delivery.rows, [f for f in spec.families if f.name in plan.columns
                                                        or f.name in plan.malformed])
    for c in counts:
        log.info("  %-14s input %12s = written %12s + quarantined %9s  %s", c.tabel, f"{c.input_celler:,}",
                 f"{c.skrevet:,}", f"{c.karantaene:,}", "OK" if c.holds else "MISMATCH")
    if not all(c.holds for c in counts):
        raise ReconciliationError("the counts do not reconcile (see above); nothing was published")

    log.info("Stage 4/4: write Delta tables to %s", warehouse)
    versions = {PERSON_TABLE: write_table(persons_output(persons), warehouse, PERSON_TABLE, [])}
    for family in spec.families:
        if family.name in plan.columns:
            versions[family.table] = write_table(family_output(union, family), warehouse, family.table,
                                                 _PARTITIONS.get(family.grain, ["aar"]))
    versions[QUARANTINE_TABLE] = write_table(quarantine_output(union, persons), warehouse, QUARANTINE_TABLE, [])
    verify_written(spark, warehouse, counts, versions)
    union.unpersist()
    persons.unpersist()
    result = IngestResult(run_id, warehouse, delivery.rows, counts, versions, plan.unmatched, plan.malformed,
                          seconds=time.monotonic() - started)
    write_run_log(spark, result, str(input_path))
    return result


def with_duplicates_flagged(persons: DataFrame) -> DataFrame:
    """Every row of a person id that occurs more than once is quarantined: neither copy can be trusted."""
    copies = F.count(F.lit(1)).over(Window.partitionBy("person_id"))
    return persons.withColumn(
        "fejl", F.coalesce("fejl", F.when(copies > 1, F.lit(DUPLICATE)))
    ).select("person_id", "koen", "foed_dato", "fejl")


def reconcile(union: DataFrame, persons: DataFrame, input_persons: int, families: list[Family]) -> list[TableCount]:
    """Per table: non-blank input cells (counted by the tasks) against data and quarantine rows."""
    rows = (union.groupBy("tabel").agg(
        F.sum(F.when(F.col("slags") == "optalt", F.col("antal")).otherwise(0)).alias("input"),
        F.sum((F.col("slags") == "data").cast("long")).alias("data"),
        F.sum((F.col("slags") == "karantaene").cast("long")).alias("karantaene"),
    ).collect())  # one row per table: small
    by_table = {r.tabel: r for r in rows}
    person_rows = persons.agg(F.count(F.lit(1)).alias("n"), F.count("fejl").alias("bad")).first()
    counts = [TableCount(PERSON_TABLE, input_persons, person_rows.n - person_rows.bad, person_rows.bad)]
    for family in families:
        r = by_table.get(family.table)
        counts.append(TableCount(family.table, r.input or 0, r.data or 0, r.karantaene or 0) if r
                      else TableCount(family.table, 0, 0, 0))
    return counts


def persons_output(persons: DataFrame) -> DataFrame:
    return persons.where(F.col("fejl").isNull()).select("person_id", "koen", "foed_dato")


def family_output(union: DataFrame, family: Family) -> DataFrame:
    rows = union.where((F.col("slags") == "data") & (F.col("tabel") == family.table))
    value = F.col("vaerdi").cast("double") if family.check == "fraction" else F.col("vaerdi")
    columns = [F.col("person_id"), F.col("aar")]
    if family.grain in _PERIOD_COLUMN:
        columns.append(F.col("periode").alias(_PERIOD_COLUMN[family.grain]))
    if family.grain == "week":
        columns.append(F.col("dato").alias("uge_start"))
    columns += [value.alias(family.value), F.col("kommune")]
    out = rows.select(*columns)
    if family.grain == "week":
        # One file per (year, municipality) partition rather than one per task and partition.
        out = out.repartition("aar", "kommune")
    return out


def quarantine_output(union: DataFrame, persons: DataFrame) -> DataFrame:
    cells = union.where(F.col("slags") == "karantaene").select(
        "tabel", "kolonne", "person_id", "aar", "periode", "vaerdi", "fejl")
    people = persons.where(F.col("fejl").isNotNull()).select(
        F.lit(PERSON_TABLE).alias("tabel"), F.lit(None).cast("string").alias("kolonne"), "person_id",
        F.lit(None).cast("int").alias("aar"), F.lit(None).cast("int").alias("periode"),
        F.lit(None).cast("string").alias("vaerdi"), "fejl")
    return cells.unionByName(people).coalesce(1)


def write_table(df: DataFrame, warehouse: str, name: str, partitions: list[str]) -> int:
    """Overwrite one Delta table (a single atomic commit) and return its new version."""
    from delta.tables import DeltaTable

    path = table_path(warehouse, name)
    started = time.monotonic()
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partitions:
        writer = writer.partitionBy(*partitions)
    writer.save(path)
    version = DeltaTable.forPath(df.sparkSession, path).history(1).select("version").first().version
    log.info("  wrote %-14s version %d in %.1f s", name, version, time.monotonic() - started)
    return version


def verify_written(spark: SparkSession, warehouse: str, counts: list[TableCount], versions: dict[str, int]) -> None:
    """The rows each Delta commit reports having written must be the reconciled data rows."""
    from delta.tables import DeltaTable

    for c in counts:
        if c.tabel not in versions:
            continue
        metrics = (DeltaTable.forPath(spark, table_path(warehouse, c.tabel)).history(1)
                   .select("operationMetrics").first().operationMetrics)
        written = int(metrics.get("numOutputRows", -1))
        if written != c.skrevet:
            raise ReconciliationError(f"{c.tabel}: the Delta commit wrote {written:,} rows, expected {c.skrevet:,}")


def write_run_log(spark: SparkSession, result: IngestResult, source: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = [(result.run_id, now, "ingest", source, c.tabel, c.input_celler, c.skrevet, c.karantaene, c.holds,
             result.versions.get(c.tabel)) for c in result.counts]
    schema = ("run_id string, tidspunkt timestamp, trin string, kilde string, tabel string, input_celler long, "
              "skrevet long, karantaene long, afstemt boolean, delta_version long")
    spark.createDataFrame(rows, schema).write.format("delta").mode("append").save(
        table_path(result.warehouse, RUN_LOG_TABLE))
