"""``noegletal``: the 24 key figures (seed 000 §8): for 8 groups the number and share of recipients who
52 weeks later still receive the benefit, receive another, or receive none; plus the "udvalgte ydelser"
figures (seed 000 §7.1.1), where "the same" means any of the selected groups.

Antal borgere is a distinct count of persons at every grain (seed 000 §7.1.1: never a sum of weeks):
- per week, a recipient is one person-week, so rows are persons;
- per month (weeks belong to the month of their Thursday), a person counts once per group, with the
  status of their LAST week in that group in the month (and that week's municipality).
Censored weeks (follow-up past the delivery) are not in ``overgang_52`` and so not counted: the three
statuses add up to the recipients in every cell. Municipality cells are counted from the person rows; as
each such row lies in exactly one municipality, a region's or the country's count is the sum of its
municipalities' counts: still a count of distinct persons, not a sum over weeks.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dream.model.transitions import status_52
from dream.model.weeks import week_label
from dream.reference.codes import key_figure_groups, recipient_status, selected_groups

NOEGLETAL_COLUMNS = ["periodetype", "periode", "niveau", "omraade", "ydelsesgruppe", "antal_borgere",
                     "antal_fortsat", "antal_anden", "antal_ikke_laengere",
                     "andel_fortsat", "andel_anden", "andel_ikke_laengere"]
COUNTS = ["antal_borgere", "antal_fortsat", "antal_anden", "antal_ikke_laengere"]


def key_figure_subjects(overgang: DataFrame) -> DataFrame:
    """One row per person-week and key-figure group: the 8 groups as they are, and the selected groups
    as one group whose "same benefit" is any selected group. One pass over ``overgang_52``: a week in a
    selected group that is also one of the 8 gives two rows."""
    groups = key_figure_groups()
    name, selected = selected_groups()
    group = F.col("ydelsesgruppe")
    in_set = F.col("ydelsesgruppe_52").isin(selected)
    pooled_status = status_52(F.lit(name), F.when(in_set, F.lit(name)).otherwise(F.col("ydelsesgruppe_52")))
    entries = F.array(
        F.when(group.isin(groups), F.struct(group.alias("g"), F.col("modtagerstatus").alias("s"))),
        F.when(group.isin(selected), F.struct(F.lit(name).alias("g"), pooled_status.alias("s"))))
    return (overgang.where(group.isin(*groups, *selected))
            .select("person_id", "aar", "uge", "uge_start", "maaned", "kommune",
                    F.explode(F.filter(entries, lambda e: e.isNotNull())).alias("e"))
            .select("person_id", "aar", "uge", "uge_start", "maaned", "kommune", F.col("e.g").alias("ydelsesgruppe"),
                    F.col("e.s").alias("modtagerstatus")))


def last_week_of_month(subjects: DataFrame) -> DataFrame:
    """Per person, group and month the row of the person's last week in that group: the maximum of a
    struct led by the Monday, in one aggregation (partly done before the shuffle). A week's month is that
    of its Thursday (``maaned``), whose year is the ISO year ``aar``."""
    last = F.max(F.struct("uge_start", "kommune", "modtagerstatus")).alias("last")
    return (subjects.groupBy("person_id", "ydelsesgruppe", "aar", "maaned")
            .agg(last).select("aar", "maaned", "last.kommune", "ydelsesgruppe", "last.modtagerstatus"))


def _shares(counted: DataFrame, area: Column, level: str, period_type: str) -> DataFrame:
    return counted.select(
        F.lit(period_type).alias("periodetype"), "periode", F.lit(level).alias("niveau"), area.alias("omraade"),
        "ydelsesgruppe", "antal_borgere", "antal_fortsat", "antal_anden", "antal_ikke_laengere",
        *[(F.col(f"antal_{k}") / F.col("antal_borgere")).alias(f"andel_{k}")
          for k in ("fortsat", "anden", "ikke_laengere")])


def with_levels(rows: DataFrame, dim_kommune: DataFrame, period_type: str, period: list[str],
                label: Column) -> DataFrame:
    """Municipality, region and country cells from one row per counted person: the rows are counted per
    municipality and ``period`` (integer columns) once, and the period gets its ``label`` (made of them)
    only then; regions and the country sum those (small) cells."""
    s = recipient_status()
    status = F.col("modtagerstatus")
    municipal = rows.groupBy(*period, "kommune", "ydelsesgruppe").agg(
        F.count(F.lit(1)).alias("antal_borgere"),
        F.count(F.when(status == s["same"], 1)).alias("antal_fortsat"),
        F.count(F.when(status == s["other"], 1)).alias("antal_anden"),
        F.count(F.when(status == s["none"], 1)).alias("antal_ikke_laengere"),
    ).withColumn("periode", label).join(F.broadcast(dim_kommune.select("kommune", "region")), "kommune", "left")
    municipal = municipal.localCheckpoint()  # small; read three times below

    def summed(area: Column) -> DataFrame:
        return (municipal.groupBy("periode", area.alias("area"), "ydelsesgruppe")
                .agg(*[F.sum(c).alias(c) for c in COUNTS]))

    return (_shares(municipal, F.col("kommune"), "kommune", period_type)
            .unionByName(_shares(summed(F.col("region")), F.col("area"), "region", period_type))
            .unionByName(_shares(summed(F.lit("DK")), F.col("area"), "land", period_type)))


def build_key_figures(overgang: DataFrame, dim_kommune: DataFrame) -> DataFrame:
    subjects = key_figure_subjects(overgang)
    year = F.col("aar")
    weekly = with_levels(subjects, dim_kommune, "uge", ["aar", "uge"], week_label(year, F.col("uge")))
    monthly = with_levels(last_week_of_month(subjects), dim_kommune, "maaned", ["aar", "maaned"],
                          F.format_string("%d-%02d", year, F.col("maaned")))  # as month_label: 'YYYY-MM'
    return weekly.unionByName(monthly).select(*NOEGLETAL_COLUMNS)
