"""DFDG visitation spells laid out on weeks (seed 001 §5.1.2).

DFDG delivers visitation events: a person, the moment a visitation starts and its category, with no end.
The rules of seed 001:
- the next start of the same person is the end of the previous spell;
- of several starts on one day only the one with the latest start time is kept (on an exact tie of
  timestamps, the greatest category, so that a rerun gives the same answer);
- the last spell is open: it ends 9999-12-31;
- spells are laid out weekly, but only up to the end of the last full month (a delivery made in November
  2019 is laid out up to and including October 2019), so open spells do not create rows without end.

Weekly layout: one row for every ISO week a spell covers (from its start day up to the day before its
end). A week in which the category changes therefore holds both spells; ``gaelder_torsdag`` marks the one
in force on the week's Thursday, the week's category by the project's Thursday rule (at most one per
person-week). The last week laid out is the last week whose Thursday lies in the last full month, and
spells starting after that month are not laid out yet.

Without DFDG events the model's visitation category is the quarterly ``visit_`` column laid on the week
(``fact_dream.visitationskategori``); see docs/measures.md for how the two relate.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dream.calendar import IsoWeek
from dream.errors import InputError
from dream.model.weeks import thursday

EVENT_COLUMNS = {"person_id": "string", "starttidspunkt": "timestamp", "visitationskategori": "string"}
OPEN_END = dt.date(9999, 12, 31)
VISITATION_SPELL_COLUMNS = ["person_id", "visitationskategori", "starttidspunkt", "start_dato", "slut_dato"]
VISITATION_WEEK_COLUMNS = ["person_id", "aar", "uge", "uge_start", "visitationskategori", "start_dato",
                           "slut_dato", "gaelder_torsdag"]


def check_events(events: DataFrame, source: str) -> None:
    """The event input must have the three columns; ``source`` names it in the message."""
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        wanted = ", ".join(f"{c} {t}" for c, t in EVENT_COLUMNS.items())
        raise InputError(f"{source} lacks the column(s) {missing}: a DFDG visitation table needs {wanted} "
                         f"(one row per visitation start); it has {events.columns}")


def visitation_spells(events: DataFrame) -> DataFrame:
    """One row per kept start: the spell from its start day to the next kept start (or 9999-12-31)."""
    day = F.to_date(F.col("starttidspunkt"))
    latest_of_day = (Window.partitionBy("person_id", "start_dato")
                     .orderBy(F.col("starttidspunkt").desc(), F.col("visitationskategori").desc()))
    by_person = Window.partitionBy("person_id").orderBy("start_dato")
    return (events.where(F.col("starttidspunkt").isNotNull())
            .withColumn("start_dato", day)
            .withColumn("n", F.row_number().over(latest_of_day)).where("n = 1")
            .withColumn("slut_dato", F.coalesce(F.lead("start_dato").over(by_person), F.lit(OPEN_END)))
            .select(*VISITATION_SPELL_COLUMNS))


def last_laid_out_monday(last_full_month_end: dt.date) -> dt.date:
    """The Monday of the last week whose Thursday lies on or before the month's last day."""
    week = IsoWeek.of(last_full_month_end)
    return week.monday if week.thursday <= last_full_month_end else week.monday - dt.timedelta(days=7)


def build_visitation_spells(events: DataFrame, last_full_month_end: dt.date) -> DataFrame:
    """The weekly layout of the visitation spells, up to the end of the last full month."""
    spells = visitation_spells(events).where(F.col("start_dato") <= F.lit(last_full_month_end))
    first_monday = F.to_date(F.date_trunc("week", F.col("start_dato")))
    last_day = F.date_sub(F.col("slut_dato"), 1)
    last_monday = F.least(F.to_date(F.date_trunc("week", last_day)), F.lit(last_laid_out_monday(last_full_month_end)))
    weeks = (spells.withColumn("fra", first_monday).withColumn("til", last_monday)
             .where(F.col("fra") <= F.col("til"))
             .withColumn("uge_start", F.explode(F.sequence("fra", "til", F.expr("interval 1 week")))))
    day = thursday(F.col("uge_start"))
    return weeks.select(
        "person_id", F.year(day).alias("aar"), F.weekofyear("uge_start").alias("uge"), "uge_start",
        "visitationskategori", "start_dato", "slut_dato",
        ((F.col("start_dato") <= day) & (day < F.col("slut_dato"))).alias("gaelder_torsdag"),
    ).select(*VISITATION_WEEK_COLUMNS)
