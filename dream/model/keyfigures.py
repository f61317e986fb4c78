"""``noegletal``: the 24 key figures (seed 000 §8): for 8 groups the number and share of recipients who
52 weeks later still receive the benefit, receive another, or receive none; plus the "udvalgte ydelser"
figures (seed 000 §7.1.1), where "the same" means any of the selected groups.

Antal borgere is a distinct count of persons at every grain (seed 000 §7.1.1: never a sum of weeks):
- per week, a recipient is one person-week, so rows are persons;
- per month (weeks belong to the month of their Thursday), a person counts once per group, with the
  status of their LAST week in that group in the month (and that week's municipality).
Censored weeks (follow-up past the delivery) are not in ``overgang_52`` and so not counted: the three
statuses add up to the recipients in every cell. Municipality, region and country are each counted from
the person rows, not summed from the level below.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from dream.model.transitions import status_52
from dream.model.weeks import month_label, week_label
from dream.reference.codes import key_figure_groups, recipient_status, selected_groups

NOEGLETAL_COLUMNS = ["periodetype", "periode", "niveau", "omraade", "ydelsesgruppe", "antal_borgere",
                     "antal_fortsat", "antal_anden", "antal_ikke_laengere",
                     "andel_fortsat", "andel_anden", "andel_ikke_laengere"]


def key_figure_subjects(overgang: DataFrame) -> DataFrame:
    """One row per person-week and key-figure group: the 8 groups as they are, and the selected groups
    as one group whose "same benefit" is any selected group."""
    groups = key_figure_groups()
    name, selected = selected_groups()
    own = overgang.where(F.col("ydelsesgruppe").isin(groups)).select(
        "person_id", "aar", "uge", "uge_start", "kommune", "ydelsesgruppe", "modtagerstatus")
    in_set = F.col("ydelsesgruppe_52").isin(selected)
    pooled = overgang.where(F.col("ydelsesgruppe").isin(selected)).select(
        "person_id", "aar", "uge", "uge_start", "kommune", F.lit(name).alias("ydelsesgruppe"),
        status_52(F.lit(name), F.when(in_set, F.lit(name)).otherwise(F.col("ydelsesgruppe_52"))).alias("modtagerstatus"))
    return own.unionByName(pooled)


def last_week_of_month(subjects: DataFrame) -> DataFrame:
    """Per person, group and month (by Thursday) the row of the person's last week in that group."""
    with_month = subjects.withColumn("periode", month_label(F.col("uge_start")))
    latest = Window.partitionBy("person_id", "ydelsesgruppe", "periode").orderBy(F.col("uge_start").desc())
    return (with_month.withColumn("n", F.row_number().over(latest)).where("n = 1")
            .select("periode", "kommune", "ydelsesgruppe", "modtagerstatus"))


def _counts(rows: DataFrame, area: Column, level: str, period_type: str) -> DataFrame:
    s = recipient_status()
    status = F.col("modtagerstatus")
    counted = rows.groupBy("periode", area.alias("omraade"), "ydelsesgruppe").agg(
        F.count(F.lit(1)).alias("antal_borgere"),
        F.count(F.when(status == s["same"], 1)).alias("antal_fortsat"),
        F.count(F.when(status == s["other"], 1)).alias("antal_anden"),
        F.count(F.when(status == s["none"], 1)).alias("antal_ikke_laengere"),
    )
    return counted.select(
        F.lit(period_type).alias("periodetype"), "periode", F.lit(level).alias("niveau"), "omraade", "ydelsesgruppe",
        "antal_borgere", "antal_fortsat", "antal_anden", "antal_ikke_laengere",
        *[(F.col(f"antal_{k}") / F.col("antal_borgere")).alias(f"andel_{k}")
          for k in ("fortsat", "anden", "ikke_laengere")])


def with_levels(rows: DataFrame, dim_kommune: DataFrame, period_type: str) -> DataFrame:
    """Municipality, region and country cells from one row per counted person."""
    rows = rows.join(F.broadcast(dim_kommune.select("kommune", "region")), "kommune", "left")
    return (_counts(rows, F.col("kommune"), "kommune", period_type)
            .unionByName(_counts(rows, F.col("region"), "region", period_type))
            .unionByName(_counts(rows, F.lit("DK"), "land", period_type)))


def build_key_figures(overgang: DataFrame, dim_kommune: DataFrame) -> DataFrame:
    subjects = key_figure_subjects(overgang)
    weekly = subjects.withColumn("periode", week_label(F.col("aar"), F.col("uge")))
    return (with_levels(weekly, dim_kommune, "uge")
            .unionByName(with_levels(last_week_of_month(subjects), dim_kommune, "maaned"))
            .select(*NOEGLETAL_COLUMNS))
