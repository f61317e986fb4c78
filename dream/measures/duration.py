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

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.reference.codes import duration_intervals

VARIGHED_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "inddeling", "sortering", "varighed", "dage_fra",
                    "dage_til", "antal_personer"]


def intervals_frame(spark: SparkSession) -> DataFrame:
    rows = [(d.inddeling, d.sortering, d.varighed, d.fra, d.til) for d in duration_intervals()]
    return spark.createDataFrame(rows, "inddeling string, sortering int, varighed string, dage_fra int, dage_til int")


def build_duration(months: DataFrame, intervals: DataFrame) -> DataFrame:
    """``months``: ``fact_forloeb_maaned`` (one row per person, group and month)."""
    days = F.col("dage")
    inside = (days >= F.col("dage_fra")) & (F.col("dage_til").isNull() | (days <= F.col("dage_til")))
    # 19 intervals: a broadcast range join is a handful of comparisons per row.
    return (months.join(F.broadcast(intervals), inside)
            .groupBy("periode", "kommune", "ydelsesgruppe", "inddeling", "sortering", "varighed", "dage_fra",
                     "dage_til")
            .agg(F.count(F.lit(1)).alias("antal_personer"))
            .select(*VARIGHED_COLUMNS))
