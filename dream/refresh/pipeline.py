"""``refresh``: one monthly delivery -> every table of the warehouse, as one recorded, all-or-nothing run.

Order: take the warehouse lock -> read and check the delivery as a whole -> skip it if this very delivery
(same month, same fingerprint) is already published -> ingest (long tables, quarantine, reconciliation) ->
model (dimensions, week fact, transitions, key figures, spells and measures) -> compaction -> record the
delivery and every table's Delta version in ``leverancer`` -> VACUUM (the erasure schedule).

Each table is replaced by one Delta commit, so a reader never sees a half-written table. A refresh that
fails puts every table back to its version before the run (new tables are removed) and records the
failure; one that is killed leaves each table at its old or its new version, and its delivery unrecorded,
so ``tables_as_of`` still returns the last published set and a rerun completes the delivery.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from dream.config import Config
from dream.errors import ConfigError, InputError
from dream.ingest import IngestResult, ingest
from dream.ingest.families import load_families
from dream.ingest.sources import open_delivery
from dream.model.pipeline import build_model
from dream.refresh.delivery import DeliveryInfo, check_against_last, inspect_delivery
from dream.refresh.lock import WarehouseLock
from dream.refresh.population import TABLE as POPULATION
from dream.refresh.population import population_source, read_population
from dream.refresh.maintenance import VACUUM_MODES, compact, vacuum
from dream.benchmark.pipeline import CONFIDENTIAL
from dream.refresh.runlog import (
    FAILED, PUBLISHED, RUN_LOG, UNCHANGED, RunRecord, last_published, last_published_before, record_run,
)
from dream.tables import current_version, roll_back, write_collected

log = logging.getLogger(__name__)

WEEKLY_TABLE = "dsa_y"
INGEST_LOG = "koersel_log"


@dataclass
class RefreshResult:
    run_id: str
    leverance: str
    status: str  # publiceret | uaendret
    versions: dict[str, int] = field(default_factory=dict)
    ingest: IngestResult | None = None
    seconds: float = 0.0


def refresh(spark: SparkSession, input_path: str, warehouse: str, config: Config, leverance: str | None = None,
            force: bool = False, allow_older: bool = False, progress: bool = True,
            population: str | None = None) -> RefreshResult:
    """Publish one delivery. ``leverance``: its month YYYY-MM (default: the month of its last week);
    ``force``: rebuild even if this delivery is already published; ``allow_older``: accept a delivery
    older than the published one; ``population``: the 16-66 population file (default: the
    ``_befolkning.parquet`` beside the delivery)."""
    if config.refresh.vacuum not in VACUUM_MODES:
        raise ConfigError(f"refresh.vacuum must be one of {VACUUM_MODES}, got {config.refresh.vacuum!r}")
    started, clock = _now(), time.monotonic()
    run_id = uuid.uuid4().hex[:12]
    with WarehouseLock(warehouse, config.refresh.lock_wait_seconds):
        staging = Path(warehouse) / "_staging" / f"refresh-{run_id}"
        record = RunRecord(run_id, leverance or "", FAILED, started, started, str(input_path))
        try:
            delivery = open_delivery(input_path, staging, progress)
            info = inspect_delivery(str(input_path), delivery, load_families(), leverance)
            record = _described(record, info, config)
            last = last_published(spark, warehouse)
            if last is not None and (last.leverance, last.fingeraftryk) == (info.leverance, info.fingerprint) \
                    and not force:
                log.info("Delivery %s (%s) is already published by run %s; nothing to do (--force rebuilds it)",
                         info.leverance, info.fingerprint, last.koersel_id)
                record_run(spark, warehouse, _ended(record, UNCHANGED, tabelversioner=dict(last.tabelversioner)))
                return RefreshResult(run_id, info.leverance, UNCHANGED, dict(last.tabelversioner),
                                     seconds=time.monotonic() - clock)
            check_against_last(info, last and last.leverance, last and last.personer,
                               config.refresh.max_person_drop, allow_older)
            source = str(input_path) if delivery.files == [str(input_path)] else str(staging)
            earlier = last_published_before(spark, warehouse, info.leverance)
            previous = dict(earlier.tabelversioner).get(CONFIDENTIAL) if earlier is not None else None
            result = _publish(spark, source, warehouse, config, info, record, progress, previous, population)
        except BaseException as exc:  # also KeyboardInterrupt: the tables go back either way
            _record_failure(spark, warehouse, record, exc)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    result.seconds = time.monotonic() - clock
    log.info("Refresh of delivery %s published in %.1f s", result.leverance, result.seconds)
    return result


def _publish(spark: SparkSession, source: str, warehouse: str, config: Config, info: DeliveryInfo,
             record: RunRecord, progress: bool, benchmark_previous: int | None,
             population_path: str | None) -> RefreshResult:
    before = _delta_tables(spark, warehouse)
    try:
        log.info("Refresh 1/4: ingest delivery %s (%s to %s, %s persons)", info.leverance, info.first_week.column,
                 info.last_week.column, f"{info.persons:,}")
        ingested = ingest(spark, source, warehouse, config, progress=progress)
        weekly = next((c for c in ingested.counts if c.tabel == WEEKLY_TABLE), None)
        if weekly is None or weekly.skrevet == 0:
            raise InputError(f"{info.source}: every weekly cell is blank or quarantined: no benefit week to publish")
        population = population_source(info.source, population_path)
        if population is None:
            log.warning("No population file (%s_befolkning.parquet beside the delivery, or --population): the "
                        "measures and benchmark run without the 16-66 population", Path(info.source).stem)
        else:
            ingested.versions[POPULATION] = write_collected(read_population(spark, population), warehouse, POPULATION)
        log.info("Refresh 2/4: model (history from %d)", record.historik_fra_aar)
        modelled = build_model(spark, warehouse, first_year=record.historik_fra_aar,
                               benchmark_previous=benchmark_previous,
                               benchmark_months=config.refresh.benchmark_months)
        written = [*ingested.versions, *modelled]
        log.info("Refresh 3/4: compaction of tables with small files")
        for name in written:
            compact(spark, warehouse, name, config.refresh.compact_below_mb)
        log.info("Refresh 4/4: publish delivery %s", info.leverance)
        versions = {name: current_version(spark, warehouse, name) for name in [*written, INGEST_LOG]}
        record_run(spark, warehouse, _ended(record, PUBLISHED, tabelversioner=versions, afstemt=True))
    except BaseException:
        _roll_back(spark, warehouse, before)
        raise
    settings = config.refresh
    if settings.vacuum != "off":
        log.info("Erasure: VACUUM (%s) of files replaced more than %d hours ago", settings.vacuum,
                 settings.retention_hours)
        with ThreadPoolExecutor(max_workers=4) as pool:  # mostly file listing: overlap it
            list(pool.map(lambda name: vacuum(spark, warehouse, name, settings.retention_hours, settings.vacuum),
                          [*versions, RUN_LOG]))
    return RefreshResult(record.koersel_id, info.leverance, PUBLISHED, versions, ingested)


def _delta_tables(spark: SparkSession, warehouse: str) -> dict[str, int]:
    """Every Delta table of the warehouse but the run log -> its current version."""
    folder = Path(warehouse)
    names = sorted(p.name for p in folder.iterdir() if (p / "_delta_log").is_dir()) if folder.is_dir() else []
    return {name: current_version(spark, warehouse, name) for name in names if name != RUN_LOG}


def _roll_back(spark: SparkSession, warehouse: str, before: dict[str, int]) -> None:
    now = _delta_tables(spark, warehouse)
    changed = {name: before.get(name) for name, version in now.items() if before.get(name) != version}
    if changed:
        roll_back(spark, warehouse, changed)


def _record_failure(spark: SparkSession, warehouse: str, record: RunRecord, exc: BaseException) -> None:
    try:
        record_run(spark, warehouse, _ended(record, FAILED, fejl=f"{type(exc).__name__}: {exc}"[:2000]))
    except Exception:  # the failure itself is what the caller must see
        log.exception("Could not record the failed run in %s", RUN_LOG)


def _described(record: RunRecord, info: DeliveryInfo, config: Config) -> RunRecord:
    return dataclasses.replace(record, leverance=info.leverance, fingeraftryk=info.fingerprint, personer=info.persons,
                    foerste_uge=info.first_week.column, sidste_uge=info.last_week.column,
                    historik_fra_aar=info.last_week.aar - config.refresh.history_years + 1)


def _ended(record: RunRecord, status: str, **values) -> RunRecord:
    return dataclasses.replace(record, status=status, afsluttet=_now(), **values)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
