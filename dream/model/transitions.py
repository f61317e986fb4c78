"""``overgang_52``: where each recipient is in the calendar week exactly 52 weeks later (seed 000 §6.1.6,
§7.1.1). The week 52 weeks on is Monday + 364 days, found by a window over the person's weeks whose range frame
is exactly +364 days (one shuffle, no self-join), never by counting rows: a blank week has no row, so it
is "Ingen ydelse", and a 53-week year in between changes nothing.
Weeks whose follow-up lies past the last delivered week are censored: left out, not "ikke længere"."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from dream.model.weeks import DAYS_52_WEEKS, week_52_later
from dream.reference.codes import blank_group, recipient_status

OVERGANG_COLUMNS = ["person_id", "aar", "uge", "uge_start", "maaned", "kommune", "ydelseskode", "ydelsesgruppe",
                    "ydelseskode_52", "ydelsesgruppe_52", "modtagerstatus"]


def status_52(group: Column, group_52: Column) -> Column:
    s = recipient_status()
    return (F.when(group_52 == F.lit(blank_group()), s["none"])
            .when(group_52 == group, s["same"])
            .otherwise(s["other"]))


def build_transitions(fact: DataFrame, last_delivered_monday) -> DataFrame:
    """``last_delivered_monday``: the Monday of the delivery's last week (a date)."""
    day = F.datediff(F.col("uge_start"), F.lit("1970-01-05").cast("date"))  # a Monday: days since then
    exactly_52_weeks_on = (Window.partitionBy("person_id").orderBy(day)
                           .rangeBetween(DAYS_52_WEEKS, DAYS_52_WEEKS))
    return (fact
            .withColumn("ydelseskode_52", F.first("ydelseskode").over(exactly_52_weeks_on))
            .withColumn("ydelsesgruppe_52", F.first("ydelsesgruppe").over(exactly_52_weeks_on))
            .where(week_52_later(F.col("uge_start")) <= F.lit(last_delivered_monday))
            .withColumn("ydelsesgruppe_52", F.coalesce("ydelsesgruppe_52", F.lit(blank_group())))
            .withColumn("modtagerstatus", status_52(F.col("ydelsesgruppe"), F.col("ydelsesgruppe_52")))
            .select(*OVERGANG_COLUMNS))
