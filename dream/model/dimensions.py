"""Dimension tables: time (ISO weeks by the Thursday rule), municipality, benefit, group, recipient status.
All from versioned reference data, except time, which comes from the delivered weeks."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.model.weeks import month_label, month_of_week, quarter_of_week, thursday, week_label
from dream.reference import UNKNOWN_KOMMUNE, benefit_codes, kommuner
from dream.reference.codes import group_names, recipient_status

UNKNOWN_NAME = "Uoplyst"


def dim_tid(weeks: DataFrame) -> DataFrame:
    """One row per delivered ISO week (``aar``, ``uge``, ``uge_start``)."""
    monday = F.col("uge_start")
    return weeks.select(
        "aar", "uge", week_label(F.col("aar"), F.col("uge")).alias("uge_navn"), "uge_start",
        thursday(monday).alias("torsdag"), month_of_week(monday).alias("maaned"),
        month_label(monday).alias("maaned_navn"), quarter_of_week(monday).alias("kvartal"),
    )


def dim_kommune(spark: SparkSession) -> DataFrame:
    rows = [(k.kommunekode, k.kommunenavn, k.regionskode, k.regionsnavn, k.befolkning) for k in kommuner()]
    rows.append((UNKNOWN_KOMMUNE, UNKNOWN_NAME, UNKNOWN_KOMMUNE, UNKNOWN_NAME, None))
    return spark.createDataFrame(
        rows, "kommune string, kommunenavn string, region string, regionsnavn string, befolkning long")


def dim_ydelse(spark: SparkSession) -> DataFrame:
    rows = [(c.ydelseskode, c.tekst, c.ydelsesgruppe, c.ydelsesfamilie, c.aktiveringstype, c.aktiv,
             c.offentlig_forsoergelse, c.exit) for c in benefit_codes()]
    return spark.createDataFrame(rows, "ydelseskode string, ydelsestekst string, ydelsesgruppe string, "
                                       "ydelsesfamilie string, aktiveringstype string, aktiv boolean, "
                                       "offentlig_forsoergelse boolean, exit boolean")


def dim_ydelsesgruppe(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(list(enumerate(group_names(), start=1)), "sortering int, ydelsesgruppe string")


def dim_modtagerstatus(spark: SparkSession) -> DataFrame:
    statuses = recipient_status()
    return spark.createDataFrame([(statuses[k], k) for k in ("same", "other", "none")],
                                 "modtagerstatus string, kode string")
