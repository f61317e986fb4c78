"""``build_model``: the long tables of a warehouse -> dimensions, ``fact_dream``, ``overgang_52``,
``noegletal``, the spell tables and the measure tables, as Delta tables in the same warehouse."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dream.benchmark import build_benchmark
from dream.benchmark.pipeline import CURRENT, PUBLISHED_MONTHS
from dream.measures.benefit_share import DEFAULT_WINDOW_WEEKS, check_window
from dream.measures.pipeline import build_measures
from dream.model.dimensions import dim_kommune, dim_modtagerstatus, dim_tid, dim_ydelse, dim_ydelsesgruppe
from dream.model.fact import person_buckets, write_fact
from dream.model.keyfigures import NOEGLETAL_ARROW, NOEGLETAL_PARTITIONS, NOEGLETAL_STATS, build_key_figures
from dream.model.spells import delivered_span, write_spell_tables
from dream.model.transitions import write_transitions_from_table
from dream.model.visitation import build_visitation_spells, check_events
from dream.tables import rows_written, table_path, write_arrow, write_collected, write_table

log = logging.getLogger(__name__)

# Optional DFDG input: one row per visitation start (person_id, starttidspunkt, visitationskategori).
DFDG_VISITATION_TABLE = "dfdg_visitation"
# Delta statistics only where they skip files; 64-character person ids skip nothing and cost write time.
_SPELL_STATS = ["ydelsesgruppe", "start_uge_start", "slut_uge_start", "kommune"]


def build_model(spark: SparkSession, warehouse: str, *, measures: bool = True,
                window_weeks: int = DEFAULT_WINDOW_WEEKS, first_year: int | None = None,
                benchmark_previous: int | str | None = CURRENT, benchmark_months: int = PUBLISHED_MONTHS
                ) -> dict[str, int]:
    """Returns table -> new Delta version. ``measures=False`` stops after the spell tables;
    ``window_weeks`` is the long window of ``maaling_andel_paa_ydelse`` (seed 002: 300 weeks);
    ``first_year``: the history window: the published layer holds the (ISO) years from it on only;
    ``benchmark_previous``: the version of the benchmark's previous release (see ``previous_release``)."""
    check_window(window_weeks)  # before the long build, not after it
    started = time.monotonic()

    def read(name):
        table = spark.read.format("delta").load(table_path(warehouse, name))
        if first_year is not None and name.startswith("dsa_") and "aar" in table.columns:
            table = table.where(F.col("aar") >= first_year)
        return table

    versions = {}
    log.info("Model 1/7: dimensions")
    weeks = read("dsa_uger")
    dims = {"dim_tid": dim_tid(weeks), "dim_kommune": dim_kommune(spark), "dim_ydelse": dim_ydelse(spark),
            "dim_ydelsesgruppe": dim_ydelsesgruppe(spark), "dim_modtagerstatus": dim_modtagerstatus(spark)}
    for name, df in dims.items():
        versions[name] = write_collected(df, warehouse, name)

    log.info("Model 2/7: fact_dream")
    buckets = person_buckets(max(rows_written(spark, warehouse, "dsa_y"), 0))  # the ingest's count: no scan
    # A task per year joins that year of every long table with numpy and writes the files; one Delta commit.
    versions["fact_dream"] = write_fact(spark, warehouse, buckets, first_year)

    log.info("Model 3/7: overgang_52")
    last_monday = weeks.agg(F.max("uge_start")).first()[0]  # one value
    # A task per person bucket joins its persons' weeks and writes the files; one Delta commit (see transitions).
    versions["overgang_52"] = write_transitions_from_table(spark, table_path(warehouse, "fact_dream"), last_monday,
                                                           warehouse, "overgang_52")

    log.info("Model 4/7: noegletal")
    key_figures = build_key_figures(spark, table_path(warehouse, "overgang_52"), read("dim_kommune"))
    versions["noegletal"] = write_arrow(spark, table_path(warehouse, "noegletal"), key_figures, NOEGLETAL_ARROW,
                                        NOEGLETAL_PARTITIONS, NOEGLETAL_STATS)

    log.info("Model 5/7: spells (fact_forloeb_maaned, fact_forloeb, fact_ydelsesperiode, fact_aktivering)")
    versions.update(build_spell_tables(spark, warehouse))
    if measures:
        # The benchmark needs only fact_dream and fact_aktivering: it runs alongside the measures, so that Spark
        # has the tasks of one while the other's driver collects counts or commits. "Model 7/7" marks what is
        # left of the benchmark once the measure tables are written.
        log.info("Model 6/7: measures and ydelsesaktivitet_benchmark side by side")
        with ThreadPoolExecutor(max_workers=1) as alongside:  # on an error, leaving it waits for the benchmark
            benchmark = alongside.submit(build_benchmark, spark, warehouse, benchmark_previous, benchmark_months)
            versions.update(build_measures(spark, warehouse, window_weeks=window_weeks))
            log.info("Model 7/7: ydelsesaktivitet_benchmark, the rest of it")
            versions.update(benchmark.result())
    log.info("Model built in %.1f s", time.monotonic() - started)
    return versions


def build_spell_tables(spark: SparkSession, warehouse: str) -> dict[str, int]:
    """Benefit spells, raw runs and activation spells from ``fact_dream`` and ``dim_tid``; the weekly DFDG
    visitation spells too when the warehouse holds a ``dfdg_visitation`` table. Returns table -> version."""
    def read(name):
        return spark.read.format("delta").load(table_path(warehouse, name))

    # One pass: a Spark task per person bucket of fact_dream reads its weeks once and writes the files of the
    # four tables; then a Delta commit per table. As with a table per step, a failed commit leaves the tables
    # committed before it: the refresh rolls every changed table back (roll_back), the model step alone does not.
    span = delivered_span(read("dim_tid"))
    layout = {"fact_forloeb_maaned": (["aar"], ["ydelsesgruppe", "periode", "kommune", "dage"]),
              "fact_forloeb": (["ydelsesgruppe"], _SPELL_STATS[1:]),
              "fact_ydelsesperiode": (["ydelsesgruppe"], _SPELL_STATS[1:]),
              "fact_aktivering": (["start_aar"], _SPELL_STATS)}
    versions = write_spell_tables(spark, table_path(warehouse, "fact_dream"), span, warehouse, layout)
    dfdg = table_path(warehouse, DFDG_VISITATION_TABLE)
    if DeltaTable.isDeltaTable(spark, dfdg):
        events = read(DFDG_VISITATION_TABLE)
        check_events(events, f"the {DFDG_VISITATION_TABLE} table at {dfdg}")
        log.info("DFDG visitation events found: laying them out weekly up to %s", span.last_full_month_end)
        weekly = build_visitation_spells(events, span.last_full_month_end)
        versions["fact_visitation_uge"] = write_table(weekly, warehouse, "fact_visitation_uge", ["aar"],
                                                      stats_columns=["uge_start", "visitationskategori"])
    return versions
