"""``maaling_varighed``: recipients by benefit duration, per municipality, month and group (seed 003).

Definition
- Recipients of a group in a month: the persons with at least one week of the group in the month (weeks
  by their Thursday). Each counts once per group and month.
- Duration (seed 003 "Hvordan beregnes intervallerne for ydelsesvarighed"): the unbroken spell on the
  group counted "from the last day on the benefit in the chosen month back to the first day of the spell":
  from the Monday of the spell's first week to the Sunday of the person's last week of the group in the
  month, both included (``fact_forloeb_maaned.dage``; a spell breaks after a whole calendar month without
  the group, see ``dream/model/spells.py``).
- Intervals: Skema 1 of seed 003, in days (``duration_intervals`` in ``ydelsesgrupper.yaml``): the 13
  month intervals (``inddeling = 'maaned'``: under 1 month ... 12 months and more), the two sums under /
  at least 12 months (``'sum'``) and the year intervals of those with at least 12 months (``'aar'``: 1-2,
  3-5, 6-9, 10+ years). Add up only within one ``inddeling``. Jobindsats counts a-dagpenge in hours;
  DREAM has weeks, so every group is counted in days.
- Municipality (seed 003 "Bestemmelse af kommunetilhørsforhold"): the residence in the person's last week
  of the group in the month: the end of the spell, or of the period for a spell still running.
- Spells that began before the delivered weeks (``fact_forloeb.startet_foer_data``) are counted with the
  duration the data shows: a lower bound. Cells without persons are absent (read them as 0).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from dream.reference.codes import duration_intervals

VARIGHED_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "inddeling", "sortering", "varighed", "dage_fra",
                    "dage_til", "antal_personer"]


def intervals_frame(spark: SparkSession) -> DataFrame:
    rows = [(d.inddeling, d.sortering, d.varighed, d.fra, d.til) for d in duration_intervals()]
    return spark.createDataFrame(rows, "inddeling string, sortering int, varighed string, dage_fra int, dage_til int")


def interval_of(days: Column, intervals: list[Row]) -> Column:
    """The ``sortering`` of the interval among ``intervals`` (of one inddeling: they do not overlap) that
    holds ``days``; NULL when none does."""
    chosen = None
    for i in intervals:
        inside = (days >= i.dage_fra) & (F.lit(i.dage_til is None) | (days <= F.lit(i.dage_til)))
        chosen = F.when(inside, i.sortering) if chosen is None else chosen.when(inside, i.sortering)
    return chosen


def build_duration(months: DataFrame, intervals: DataFrame) -> DataFrame:
    """``months``: ``fact_forloeb_maaned`` (one row per person, group and month). Each row is counted in its
    interval of every inddeling (a CASE per inddeling: no join of every row with every interval), then the
    counts get their interval's columns."""
    by_inddeling: dict[str, list[Row]] = {}
    for i in intervals.collect():  # the 19 intervals of Skema 1
        by_inddeling.setdefault(i.inddeling, []).append(i)
    days = F.col("dage")
    sortering = F.explode(F.array(*[interval_of(days, rows) for rows in by_inddeling.values()]))
    counted = (months.select("periode", "kommune", "ydelsesgruppe", sortering.alias("sortering"))
               .where(F.col("sortering").isNotNull())
               .groupBy("periode", "kommune", "ydelsesgruppe", "sortering")
               .agg(F.count(F.lit(1)).alias("antal_personer")))
    return counted.join(F.broadcast(intervals), "sortering").select(*VARIGHED_COLUMNS)
