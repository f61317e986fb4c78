"""``build_measures``: the spell tables and ``fact_dream`` of a warehouse -> the measure tables (one Delta
table each, unpartitioned: they are aggregates per municipality and month)."""

from __future__ import annotations

import logging
import time

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from dream.errors import InputError
from dream.measures.benefit_share import DEFAULT_WINDOW_WEEKS, benefit_share_from_table, check_window
from dream.measures.duration import VARIGHED_ARROW, VARIGHED_STATS, build_duration
from dream.measures.passive import build_passive_share
from dream.measures.progression import progression_from_table
from dream.measures.public_support import POPULATION_COLUMNS, public_support_from_table
from dream.model.spells import delivered_span
from dream.tables import table_path, write_arrow, write_collected

log = logging.getLogger(__name__)

POPULATION_TABLE = "befolkning"
MEASURE_TABLES = ["maaling_varighed", "maaling_passivandel", "maaling_offentlig_forsoergelse",
                  "maaling_progression", "maaling_andel_paa_ydelse"]


def read_population(spark: SparkSession, warehouse: str) -> DataFrame | None:
    """The ``befolkning`` table (16-66 year olds per municipality, year and age), or None with a warning."""
    path = table_path(warehouse, POPULATION_TABLE)
    if not DeltaTable.isDeltaTable(spark, path):
        log.warning("No %s table in %s: the share of the 16-66 population on public support is left empty "
                    "(NULL) in maaling_offentlig_forsoergelse", POPULATION_TABLE, warehouse)
        return None
    population = spark.read.format("delta").load(path)
    missing = [c for c in POPULATION_COLUMNS if c not in population.columns]
    if missing:
        raise InputError(f"the {POPULATION_TABLE} table at {path} lacks the column(s) {missing}; it needs "
                         f"{', '.join(f'{c} {t}' for c, t in POPULATION_COLUMNS.items())} (one row per "
                         f"municipality, year and age)")
    return population


def build_measures(spark: SparkSession, warehouse: str, *, window_weeks: int = DEFAULT_WINDOW_WEEKS) -> dict[str, int]:
    """Needs ``fact_dream``, ``dim_tid`` and ``fact_forloeb_maaned`` (``build_model``);
    reads ``befolkning`` when it exists. Returns table -> new Delta version."""
    check_window(window_weeks)
    started = time.monotonic()

    def read(name: str) -> DataFrame:
        return spark.read.format("delta").load(table_path(warehouse, name))

    dim_tid, months = read("dim_tid"), read("fact_forloeb_maaned")
    span, fact_table = delivered_span(dim_tid), table_path(warehouse, "fact_dream")  # read by person bucket
    tables = {
        "maaling_passivandel": build_passive_share(months),
        "maaling_offentlig_forsoergelse": public_support_from_table(spark, fact_table, dim_tid,
                                                                    read_population(spark, warehouse)),
        "maaling_progression": progression_from_table(spark, fact_table, span),
        "maaling_andel_paa_ydelse": benefit_share_from_table(spark, fact_table, dim_tid, span.first_monday,
                                                             window_weeks),
    }
    duration = build_duration(spark, table_path(warehouse, "fact_forloeb_maaned"))  # counted with numpy
    versions = {"maaling_varighed": write_arrow(spark, table_path(warehouse, "maaling_varighed"), duration,
                                                VARIGHED_ARROW, [], VARIGHED_STATS)}
    # Aggregates of up to a few hundred thousand rows: collected and written as one file by the driver
    # (``write_collected``), without a Spark write job and its statistics for each.
    versions.update({name: write_collected(df, warehouse, name) for name, df in tables.items()})
    log.info("Measures built in %.1f s", time.monotonic() - started)
    return versions
