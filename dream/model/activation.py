"""``fact_aktivering``: activation spells from ``fact_dream`` (DOMAIN.md §3-4, seed 001 §6.3, seed 002).

An activation spell is a run of consecutive calendar weeks with an active code (``aktiv``: the activation
type of the code is neither "Passiv" nor "Ikke relevant") and the same activation type. A blank or passive
week ends it, and so does a change of activation type (wage subsidy after a company internship is a new
activation, as DFDG counts each activation with its own start and end). A change of benefit under the same
activation type (kontanthjælp to dagpenge wage subsidy, say) does not: the spell keeps the group,
code, municipality, visitation category and age of its first week.

Censoring: ``igangvaerende`` when the spell's last week is the last delivered week; ``startet_foer_data``
when its first week is the first delivered week (it may have begun before: not a real start, so it is
left out of the progression measure).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dream.model.spells import DAYS_PER_WEEK, DeliveredSpan, day_number

ACTIVATION_COLUMNS = [
    "person_id", "forloeb_nr", "aktiveringstype", "start_aar", "start_uge", "start_uge_start", "slut_aar",
    "slut_uge", "slut_uge_start", "uger", "ydelsesgruppe", "ydelseskode", "kommune", "visitationskategori",
    "alder", "igangvaerende", "startet_foer_data",
]


def build_activation_spells(fact: DataFrame, span: DeliveredSpan) -> DataFrame:
    by_person = Window.partitionBy("person_id").orderBy("dag")
    so_far = by_person.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    previous_day, previous_type = F.lag("dag").over(by_person), F.lag("aktiveringstype").over(by_person)
    starts = (previous_day.isNull() | (F.col("dag") - previous_day != DAYS_PER_WEEK)
              | (previous_type != F.col("aktiveringstype")))
    first = F.struct("uge_start", "aar", "uge", "ydelsesgruppe", "ydelseskode", "kommune", "visitationskategori",
                     "alder")
    weeks = (fact.where(F.col("aktiv"))
             .select("person_id", "aar", "uge", "uge_start", "aktiveringstype", "ydelsesgruppe", "ydelseskode",
                     "kommune", "visitationskategori", "alder")
             .withColumn("dag", day_number(F.col("uge_start")))
             .withColumn("forloeb_nr", F.sum(starts.cast("int")).over(so_far).cast("int")))
    return (weeks.groupBy("person_id", "forloeb_nr", "aktiveringstype")
            .agg(F.min(first).alias("s"), F.max(F.struct("uge_start", "aar", "uge")).alias("e"),
                 F.count(F.lit(1)).cast("int").alias("uger"))
            .select("person_id", "forloeb_nr", "aktiveringstype",
                    F.col("s.aar").alias("start_aar"), F.col("s.uge").alias("start_uge"),
                    F.col("s.uge_start").alias("start_uge_start"), F.col("e.aar").alias("slut_aar"),
                    F.col("e.uge").alias("slut_uge"), F.col("e.uge_start").alias("slut_uge_start"), "uger",
                    *[F.col(f"s.{c}").alias(c) for c in ("ydelsesgruppe", "ydelseskode", "kommune",
                                                          "visitationskategori", "alder")],
                    (F.col("e.uge_start") == F.lit(span.last_monday)).alias("igangvaerende"),
                    (F.col("s.uge_start") == F.lit(span.first_monday)).alias("startet_foer_data"))
            .select(*ACTIVATION_COLUMNS))
