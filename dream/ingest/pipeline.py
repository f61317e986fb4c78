"""``ingest``: one national wide delivery -> the restricted long Delta tables, validated and reconciled.

Stages: open the delivery (structural checks; nothing is written before they pass) -> plan its columns
-> 1. persons who occur twice (from the person column alone) -> 2. the units (one year of a group of
slices each, see ``tasks``): check every cell, count the input, write every table's Parquet files into
its folder -> 3. commit: each table's files become its new Delta version in one commit -> 4. reconcile:
per table, the non-blank input cells must equal the rows its Delta commit reports having written plus the
rows quarantined; if not, every table is rolled back to its version before the run -> run log.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from dream.config import Config
from dream.errors import InputError, ReconciliationError
from dream.ingest.families import Family, FamilySpec, load_families, plan_columns
from dream.ingest.pseudonym import load_key, pseudonymise
from dream.ingest.sources import Delivery, open_delivery
from dream.ingest.tasks import (
    PERSON_SCHEMA, PERSON_STATS, PERSON_TABLE, QUARANTINE_STATS, QUARANTINE_TABLE, RESULT_SCHEMA, Job,
    family_rows_task, partitions_of, plan_units, stats_columns, unit_task,
)
from dream.ingest.unpivot import QUARANTINE_SCHEMA, Checks, data_schema
from dream.reference import benefit_codes, kommuner
from dream.tables import (
    DataFile, commit_files, current_version, file_tag, remove_uncommitted, roll_back, rows_written, run_tag,
    table_path, write_data_file,
)

log = logging.getLogger(__name__)

WEEKS_TABLE = "dsa_uger"  # the delivered weeks: what later stages need to tell a blank week from no data
RUN_LOG_TABLE = "koersel_log"
MAX_DUPLICATES = 100_000  # more than this is a broken delivery (concatenated twice?), not a data problem
# A task holds its long rows until it writes them: ~12 bytes a row, ~50 rows a person and year (weekly and
# monthly families together), so ~300 MB at this many persons. More persons -> more tasks, more files.
MAX_PERSONS_PER_TASK = 500_000
COMMIT_THREADS = 4
WEEKS_SCHEMA = pa.schema([("aar", pa.int32()), ("uge", pa.int32()), ("uge_start", pa.date32())])
RUN_LOG_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("tidspunkt", pa.timestamp("us", tz="UTC")), ("trin", pa.string()),
    ("kilde", pa.string()), ("tabel", pa.string()), ("input_celler", pa.int64()), ("skrevet", pa.int64()),
    ("karantaene", pa.int64()), ("afstemt", pa.bool_()), ("delta_version", pa.int64()),
])


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


@dataclass(frozen=True)
class _Output:
    """What a table gets from this run: its shape and the files the tasks wrote for it."""

    schema: pa.Schema
    partitions: list[str]
    stats: list[str]
    files: list[DataFile]


def ingest(spark: SparkSession, input_path: str, warehouse: str, config: Config,
           spec: FamilySpec | None = None, progress: bool = True) -> IngestResult:
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:12]
    spec = spec or load_families()
    staging = Path(warehouse) / "_staging" / run_id
    try:
        return _ingest(spark, input_path, warehouse, config, spec, progress, run_id, staging, started)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ingest(spark: SparkSession, input_path: str, warehouse: str, config: Config, spec: FamilySpec,
            progress: bool, run_id: str, staging: Path, started: float) -> IngestResult:
    delivery = open_delivery(input_path, staging, progress)
    plan = plan_columns(delivery.columns, spec, str(input_path))
    log.info("Delivery %s: %s persons, %s columns in %s row groups", input_path, f"{delivery.rows:,}",
             len(delivery.columns), len(delivery.slices))
    if plan.unmatched:
        log.warning("%d columns match no family and are not loaded: %s", len(plan.unmatched), plan.unmatched[:20])
    for family, columns in plan.malformed.items():
        log.warning("%d %s columns have a malformed period; their cells go to quarantine: %s",
                    len(columns), family, columns[:10])
    families = [f for f in spec.families if f.name in plan.columns]
    checks = Checks(frozenset(c.ydelseskode for c in benefit_codes()), frozenset(k.kommunekode for k in kommuner()))
    job = Job(run_id, warehouse, tuple(delivery.slices), plan, spec.families, checks)
    tables = [WEEKS_TABLE, PERSON_TABLE, QUARANTINE_TABLE, *(f.table for f in families)]
    committed: dict[str, set[str]] = {}  # table -> the files of this run its commit refers to
    clock = time.monotonic()
    try:
        before, versions, counted = _write_and_commit(spark, job, delivery, families, tables, config, committed,
                                                      str(input_path))
    finally:
        for name in tables:
            remove_uncommitted(table_path(warehouse, name), run_tag(run_id), committed.get(name, set()))

    log.info("Stage 4/4: reconcile input cells = rows written + rows quarantined (%.1f s)", time.monotonic() - clock)
    counts = reconcile(spark, warehouse, delivery.rows, spec, counted, versions)
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


def reconcile(spark: SparkSession, warehouse: str, persons: int, spec: FamilySpec,
              counted: dict[str, tuple[int, int]], versions: dict[str, int]) -> list[TableCount]:
    """Per table: the input cells counted by the tasks against the rows its Delta commit reports."""
    counts = [TableCount(PERSON_TABLE, persons, rows_written(spark, warehouse, PERSON_TABLE),
                         counted[PERSON_TABLE][1])]
    for f in spec.families:
        if f.table in counted:  # also a family whose only columns were malformed: all its cells quarantined
            seen, quarantined = counted[f.table]
            written = rows_written(spark, warehouse, f.table) if f.table in versions else 0
            counts.append(TableCount(f.table, seen, written, quarantined))
    return counts


def _write_and_commit(spark: SparkSession, job: Job, delivery: Delivery, families: list[Family], tables: list[str],
                      config: Config, committed: dict[str, set[str]], source: str
                      ) -> tuple[dict[str, int | None], dict[str, int], dict[str, tuple[int, int]]]:
    """Stages 1-3; returns the tables' versions before and after, and per table (input cells, quarantined)."""
    clock = time.monotonic()
    log.info("Stage 1/4: persons who occur more than once")
    key = load_key(config.pseudonym)
    duplicates = find_duplicates(delivery, job.plan.person_id, key, source)
    log.info("Stage 2/4: check every cell, count the input and write the files (%.1f s)", time.monotonic() - clock)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # While the tasks run, the driver reads the tables' versions and commits the small table of the
        # delivered weeks, which also readies Delta's commit path in the JVM for the commits to come.
        early = pool.submit(_versions_and_weeks, spark, job, tables, committed)
        try:
            outputs, counted = run_units(spark, job, families, key, duplicates)
        except BaseException:
            if early.exception() is None:
                roll_back(spark, job.warehouse, {WEEKS_TABLE: early.result()[0][WEEKS_TABLE]})
            raise
    before, versions = early.result()
    log.info("Stage 3/4: commit %d Delta tables to %s (%.1f s)", len(tables), job.warehouse, time.monotonic() - clock)
    versions.update(commit_all(spark, job.warehouse, outputs, [t for t in tables if t not in versions], before,
                               committed))
    return before, versions, counted


def _versions_and_weeks(spark: SparkSession, job: Job, tables: list[str], committed: dict[str, set[str]]
                        ) -> tuple[dict[str, int | None], dict[str, int]]:
    before = {name: current_version(spark, job.warehouse, name) for name in tables}
    weeks = delivered_weeks(job)
    version = commit_files(spark, table_path(job.warehouse, WEEKS_TABLE), WEEKS_SCHEMA, [], [weeks])
    committed[WEEKS_TABLE] = {weeks.path}
    return before, {WEEKS_TABLE: version}


def commit_all(spark: SparkSession, warehouse: str, outputs: dict[str, _Output], tables: list[str],
               before: dict[str, int | None], committed: dict[str, set[str]]) -> dict[str, int]:
    """One commit per table, a few at a time (each is mostly waiting on the JVM and the file system); if
    one fails, every table this run has committed goes back to its old version."""
    def commit(name: str) -> int:
        out = outputs[name]
        version = commit_files(spark, table_path(warehouse, name), out.schema, out.partitions, out.files, out.stats)
        committed[name] = {f.path for f in out.files}
        return version

    with ThreadPoolExecutor(max_workers=COMMIT_THREADS) as pool:
        futures = {name: pool.submit(commit, name) for name in tables}
        wait(futures.values())
    failed = [f.exception() for f in futures.values() if f.exception() is not None]
    if failed:
        roll_back(spark, warehouse, {name: before[name] for name in committed})
        raise failed[0]
    return {name: f.result() for name, f in futures.items()}


def find_duplicates(delivery: Delivery, person_column: str, key: bytes, source: str) -> frozenset[str]:
    """The ids of the persons who occur more than once, from the person column alone (read here, on the
    driver: one narrow column, ~10 bytes a person). Only their ids leave this function, never a pnr."""
    pnr = pa.chunked_array([pq.ParquetFile(file).read(columns=[person_column]).column(0).cast(pa.string())
                            for file in delivery.files])
    counts = pc.value_counts(pc.utf8_trim_whitespace(pnr))
    twice = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if len(twice) > MAX_DUPLICATES:
        raise InputError(f"{source}: more than {MAX_DUPLICATES:,} persons occur more than once: "
                         "was the delivery concatenated twice? Nothing was published.")
    if len(twice):
        log.warning("%s persons occur more than once; every copy goes to quarantine", f"{len(twice):,}")
    return frozenset(pseudonymise(key, p) for p in twice.to_pylist() if p is not None)


def run_units(spark: SparkSession, job: Job, families: list[Family], key: bytes, duplicates: frozenset[str]
              ) -> tuple[dict[str, _Output], dict[str, tuple[int, int]]]:
    """Run every unit (one Spark task each, the biggest first); return each table's files and, per table,
    (non-blank input cells, quarantined cells)."""
    units = plan_units(job, MAX_PERSONS_PER_TASK)
    sc = spark.sparkContext
    key_holder = sc.broadcast(key)  # a broadcast, never a literal in a plan
    task = unit_task(job, units, key_holder, sc.broadcast(duplicates))
    rows = _numbers(spark, len(units)).mapInArrow(task,
                                                  from_arrow_schema(RESULT_SCHEMA)).collect()  # one per file/count
    files: dict[str, list[DataFile]] = {}
    counted: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row.fil is not None:
            files.setdefault(row.tabel, []).append(DataFile.from_add_action(row.fil))
        else:
            seen, quarantined = counted.get(row.tabel, (0, 0))
            counted[row.tabel] = (seen + row.input_celler, quarantined + row.karantaene)
    outputs = {f.table: _Output(data_schema(f), partitions_of(f), stats_columns(f), files.get(f.table, []))
               for f in families}
    outputs[PERSON_TABLE] = _Output(PERSON_SCHEMA, [], PERSON_STATS, files.get(PERSON_TABLE, []))
    outputs[QUARANTINE_TABLE] = _Output(QUARANTINE_SCHEMA, [], QUARANTINE_STATS, files.get(QUARANTINE_TABLE, []))
    return outputs, counted


def _numbers(spark: SparkSession, n: int) -> DataFrame:
    """0..n-1, one per partition: exactly one task per number, in that order."""
    return spark.range(n, numPartitions=max(n, 1))


def delivered_weeks(job: Job) -> DataFile:
    """Every week the delivery has a column for (from its column names: blank weeks included)."""
    rows = sorted((p.aar, p.periode, p.start) for _, p in job.plan.columns["y"])
    data = pa.table([pa.array(c, t.type) for c, t in zip(zip(*rows), WEEKS_SCHEMA)], schema=WEEKS_SCHEMA)
    return write_data_file(table_path(job.warehouse, WEEKS_TABLE), data, {}, file_tag(job.run_id, 99_999),
                           WEEKS_SCHEMA.names)


def family_output(slices: DataFrame, plan, family: Family, checks: Checks, key, duplicates) -> DataFrame:
    """The long rows of one family as a DataFrame, computed in Spark tasks from a DataFrame of slices
    (path, row group); nothing is written. For inspection: ``ingest`` writes the tables itself."""
    return slices.mapInArrow(family_rows_task(plan, family, checks, key, duplicates),
                             from_arrow_schema(data_schema(family)))


def write_run_log(spark: SparkSession, result: IngestResult, source: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    rows = [(result.run_id, now, "ingest", source, c.tabel, c.input_celler, c.skrevet, c.karantaene, c.holds,
             result.versions.get(c.tabel)) for c in result.counts]
    data = pa.Table.from_pylist([dict(zip(RUN_LOG_SCHEMA.names, r)) for r in rows], RUN_LOG_SCHEMA)
    path = table_path(result.warehouse, RUN_LOG_TABLE)
    file = write_data_file(path, data, {}, file_tag(result.run_id, 99_998), ["tabel", "afstemt", "delta_version"])
    commit_files(spark, path, RUN_LOG_SCHEMA, [], [file], mode="append")
