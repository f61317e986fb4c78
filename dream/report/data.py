"""The figures of one kommune's report, gathered with Spark from the aggregate tables ``dream model`` writes
into small pandas frames (``Aggregates``). Only aggregate tables are read: the measure tables, ``noegletal``
and the published benchmark key figures; never a person-level table, never the confidential benchmark.
The measure tables and ``noegletal`` are not disclosure-controlled themselves: ``protect.py`` does that
before anything is shown."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.benchmark.cells import ACTIVATED, RECIPIENTS, TOTAL
from dream.errors import DreamError
from dream.reference.codes import public_support_total
from dream.reference.kommuner import Kommune, kommuner
from dream.tables import table_path

log = logging.getLogger(__name__)

SUPPORT = "maaling_offentlig_forsoergelse"
STATUS_52 = "noegletal"
DURATION = "maaling_varighed"
PASSIVE = "maaling_passivandel"
BENCHMARK = "ydelsesaktivitet_benchmark_noegletal"
TABLES = [SUPPORT, STATUS_52, DURATION, PASSIVE, BENCHMARK]
# The duration intervals shown: under 12 months, and those with 12 months or more by years (seed 003 Skema 1).
DURATION_SPLITS = ("sum", "aar")
BENCHMARK_MEASURES = [RECIPIENTS, ACTIVATED]


class ReportError(DreamError, ValueError):
    """The report cannot be made from what was given: the message says what to give instead."""


def resolve_kommune(text: str | int) -> Kommune:
    """One of the 98 kommuner by its code: "101", 101 and "0101" all mean København."""
    by_code = {k.kommunekode: k for k in kommuner()}
    value = str(text).strip()
    code = f"{int(value):03d}" if value.isdigit() else value
    if code not in by_code:
        examples = ", ".join(f"{k.kommunekode} {k.kommunenavn}" for k in kommuner()[:3])
        raise ReportError(f"unknown kommune code {text!r}: give one of the 98 municipality codes of "
                          f"dream/reference/kommuner.csv (e.g. {examples})")
    return by_code[code]


def missing_tables(spark: SparkSession, warehouse: str) -> list[str]:
    return [t for t in TABLES if not DeltaTable.isDeltaTable(spark, table_path(warehouse, t))]


@dataclass(frozen=True)
class Aggregates:
    """One kommune's figures as the tables hold them (true counts: not yet fit to show).

    ``support``: periode, fuldtidspersoner, antal_personer, befolkning_16_66, andel_af_befolkning (the
    kommune, all public-support groups) and andel_land (all kommuner together), one row per month.
    ``status_52``: noegletal of the latest month: ydelsesgruppe, antal_borgere and the three status counts.
    ``duration``: maaling_varighed of the latest month: ydelsesgruppe, sortering, varighed, antal_personer.
    ``passive``: maaling_passivandel of the latest month: ydelsesgruppe, antal_personer, antal_passive.
    ``benchmark``: the kommune's published benchmark key figures (visitation and activation "I alt") of
    every month. ``ranking``: the latest month's published rate of recipients of every kommune.
    """

    kommune: Kommune
    support: pd.DataFrame
    status_52: pd.DataFrame
    status_52_periode: str | None
    duration: pd.DataFrame
    duration_periode: str | None
    passive: pd.DataFrame
    passive_periode: str | None
    benchmark: pd.DataFrame
    ranking: pd.DataFrame
    benchmark_periode: str | None


def latest_period(df: DataFrame) -> str | None:
    return df.agg(F.max("periode")).first()[0]  # one value


def support_series(table: DataFrame, kommune: str) -> pd.DataFrame:
    """The kommune's all-groups row per month, with the share of all kommuner together beside it."""
    total = table.where(F.col("ydelsesgruppe") == public_support_total())
    land = (total.where(F.col("befolkning_16_66").isNotNull())
            .groupBy("periode")
            .agg((F.sum("fuldtidspersoner") / F.sum("befolkning_16_66")).alias("andel_land")))
    own = total.where(F.col("kommune") == kommune).select(
        "periode", "fuldtidspersoner", "antal_personer", "befolkning_16_66", "andel_af_befolkning")
    # months x 1 row each (11 years: about 130 rows)
    return own.join(land, "periode", "right").orderBy("periode").toPandas()


def status_52_rows(table: DataFrame, kommune: str) -> tuple[pd.DataFrame, str | None]:
    months = table.where(F.col("periodetype") == "maaned")
    periode = latest_period(months)
    rows = months.where((F.col("periode") == F.lit(periode)) & (F.col("niveau") == "kommune")
                        & (F.col("omraade") == kommune))
    return rows.select("ydelsesgruppe", "antal_borgere", "antal_fortsat", "antal_anden",
                       "antal_ikke_laengere").toPandas(), periode  # 9 groups at most


def duration_rows(table: DataFrame, kommune: str) -> tuple[pd.DataFrame, str | None]:
    periode = latest_period(table)
    rows = table.where((F.col("periode") == F.lit(periode)) & (F.col("kommune") == kommune)
                       & F.col("inddeling").isin(*DURATION_SPLITS))
    return rows.select("ydelsesgruppe", "inddeling", "sortering", "varighed", "dage_fra",
                       "antal_personer").toPandas(), periode  # groups x 6 intervals


def passive_rows(table: DataFrame, kommune: str) -> tuple[pd.DataFrame, str | None]:
    periode = latest_period(table)
    rows = table.where((F.col("periode") == F.lit(periode)) & (F.col("kommune") == kommune))
    return rows.select("ydelsesgruppe", "antal_personer", "antal_passive").toPandas(), periode


def benchmark_rows(table: DataFrame, kommune: str) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    cells = table.where((F.col("visitationsgruppe") == TOTAL) & (F.col("aktivering") == TOTAL)
                        & F.col("maal").isin(*BENCHMARK_MEASURES))
    own = cells.where((F.col("niveau") == "kommune") & (F.col("omraade") == kommune)).select(
        "periode", "ydelsesgruppe", "maal", "antal", "befolkning", "pr_1000", "rang", "antal_rangeret",
        "percentil", "pr_1000_land", "pr_1000_region", "aendring_pr_1000", "undertrykt")
    periode = latest_period(table)
    ranking = cells.where((F.col("periode") == F.lit(periode)) & (F.col("niveau") == "kommune")
                          & (F.col("ydelsesgruppe") == TOTAL) & (F.col("maal") == RECIPIENTS)
                          & F.col("pr_1000").isNotNull()).select("omraade", "pr_1000", "rang")
    # 13 months x groups x 2 measures; 98 rows
    return own.orderBy("periode", "maal", "ydelsesgruppe").toPandas(), ranking.toPandas(), periode


def gather(spark: SparkSession, warehouse: str, kommune: Kommune) -> Aggregates:
    """Reads the five tables of ``warehouse`` (all must exist: see ``missing_tables``)."""
    def read(name: str) -> DataFrame:
        return spark.read.format("delta").load(table_path(warehouse, name))

    code = kommune.kommunekode
    log.info("Report 1/5: share of the 16-66 year olds on public support (%s)", SUPPORT)
    support = support_series(read(SUPPORT), code)
    log.info("Report 2/5: status 52 weeks on (%s)", STATUS_52)
    status, status_periode = status_52_rows(read(STATUS_52), code)
    log.info("Report 3/5: benefit durations (%s)", DURATION)
    duration, duration_periode = duration_rows(read(DURATION), code)
    log.info("Report 4/5: passive share (%s)", PASSIVE)
    passive, passive_periode = passive_rows(read(PASSIVE), code)
    log.info("Report 5/5: the kommune among the 98 (%s)", BENCHMARK)
    benchmark, ranking, benchmark_periode = benchmark_rows(read(BENCHMARK), code)
    return Aggregates(kommune, support, status, status_periode, duration, duration_periode, passive,
                      passive_periode, benchmark, ranking, benchmark_periode)
