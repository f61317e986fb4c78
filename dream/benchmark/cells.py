"""The inner cells of the benchmark: every person-month with a benefit week in exactly one cell
(kommune x ydelsesgruppe x visitationsgruppe x aktivering), so every margin is an exact sum of persons."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dream.model.weeks import month_label
from dream.reference.kommuner import UNKNOWN_KOMMUNE

DIMENSIONS = ["ydelsesgruppe", "visitationsgruppe", "aktivering"]
TOTAL = "I alt"
NOT_VISITED = "Ikke visiteret"
NOT_ACTIVATED = "Ikke aktiveret"
UNKNOWN_TYPE = "Uoplyst aktiveringstype"
RECIPIENTS, ACTIVATED, ACTIVATION_SPELLS, POPULATION = (
    "antal ydelsesmodtagere", "antal aktiverede", "antal aktiveringsforløb", "antal borgere 16-66 år")
INNER_COLUMNS = ["periode", "maal", "kommune", *DIMENSIONS, "antal", "personer"]


def visitation_group(category: Column) -> Column:
    """The visitation category as published; no category is a group of its own."""
    return F.coalesce(F.trim(category), F.lit(NOT_VISITED))


def person_months(fact: DataFrame) -> DataFrame:
    """One row per person and month (by the week's Thursday) with a benefit week: kommune, ydelsesgruppe and
    visitationsgruppe of the LAST benefit week of the month, aktivering of the last ACTIVE week."""
    weeks = fact.where(F.col("ydelsesgruppe").isNotNull()).withColumn("periode", month_label(F.col("uge_start")))
    # max of a struct led by the Monday = the last week's values, in one aggregation (no window, no join)
    last = F.max(F.struct("uge_start", "kommune", "ydelsesgruppe", "visitationskategori"))
    last_active = F.max(F.when(F.col("aktiv"), F.struct("uge_start", "aktiveringstype")))
    months = weeks.groupBy("person_id", "periode").agg(last.alias("s"), last_active.alias("a"))
    aktivering = (F.when(F.col("a").isNull(), F.lit(NOT_ACTIVATED))
                  .otherwise(F.coalesce(F.col("a.aktiveringstype"), F.lit(UNKNOWN_TYPE))))
    return months.select(
        "person_id", "periode",
        F.coalesce(F.col("s.kommune"), F.lit(UNKNOWN_KOMMUNE)).alias("kommune"),
        F.col("s.ydelsesgruppe").alias("ydelsesgruppe"),
        visitation_group(F.col("s.visitationskategori")).alias("visitationsgruppe"),
        aktivering.alias("aktivering"))


def _count(persons: DataFrame, maal: str) -> DataFrame:
    n = F.count(F.lit(1)).cast("long")
    return (persons.groupBy("periode", "kommune", *DIMENSIONS).agg(n.alias("antal"), n.alias("personer"))
            .withColumn("maal", F.lit(maal)).select(*INNER_COLUMNS))


def spell_cells(spells: DataFrame, months: DataFrame) -> DataFrame:
    """Activation spells starting in a month, in the cell their person has that month; ``personer`` the
    distinct persons behind them (the primary rule looks at those)."""
    starts = spells.select("person_id", month_label(F.col("start_uge_start")).alias("periode"))
    joined = starts.join(months, ["person_id", "periode"], "inner")
    return (joined.groupBy("periode", "kommune", *DIMENSIONS)
            .agg(F.count(F.lit(1)).cast("long").alias("antal"),
                 F.countDistinct("person_id").cast("long").alias("personer"))
            .withColumn("maal", F.lit(ACTIVATION_SPELLS)).select(*INNER_COLUMNS))


def inner_cells(fact: DataFrame, spells: DataFrame) -> DataFrame:
    """The nonzero inner cells of the three person measures, long: periode, maal, kommune, the dimensions,
    antal and personer."""
    months = person_months(fact)
    recipients = _count(months, RECIPIENTS)
    activated = _count(months.where(F.col("aktivering") != NOT_ACTIVATED), ACTIVATED)
    return recipients.unionByName(activated).unionByName(spell_cells(spells, months)).select(*INNER_COLUMNS)
