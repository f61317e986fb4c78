"""``maaling_progression``: where persons are 1 and 13 weeks after an activation spell starts, per
municipality, month of start, group and activation type (seed 002, "Progression mod beskæftigelse 3
måneder efter start - aktivitet": "nedslag ved aktivitetens start + 1 uge og igen efter 13 uger").

Definition
- Spells: the activation spells of ``fact_aktivering`` that start in the month (their first week by its
  Thursday), except those starting in the first delivered week (they may have begun before the data).
  Municipality, group and activation type are those of the spell's first week.
- Follow-up weeks: the calendar weeks 1 and 13 weeks after the start week (Monday + 7 and + 91 days; the
  activity may still be running then).
- Status in the follow-up week (``progression`` in ``ydelsesgrupper.yaml``):
  * "Beskæftigelse eller selvforsørgelse": no code that week (self-supporting), or a code of ordinary
    employment or education (voksenlærling 521, rotationsvikar 522, SU 651/652);
  * "Virksomhedsrettet aktivering": a code whose activation type is wage subsidy or company internship;
  * "Andet": any other code (other activation, passive benefits, pensions ...);
  * "Ikke opgjort": the week lies past the last delivered week, or holds an exit code (996-999: no
    longer in DREAM's population), as seed 002 leaves out spells "where DREAM has no information".
- Shares are of the measured spells: ``antal_forloeb - antal_ikke_opgjort``.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dream.model.weeks import month_label
from dream.reference.codes import exit_codes, progression_rules

FOLLOW_UP_WEEKS = (1, 13)
PROGRESSION_COLUMNS = [
    "periode", "kommune", "ydelsesgruppe", "aktiveringstype", "uger_efter_start", "antal_forloeb",
    "antal_beskaeftigelse", "antal_virksomhedsrettet", "antal_andet", "antal_ikke_opgjort",
    "andel_beskaeftigelse", "andel_virksomhedsrettet", "andel_andet",
]


def follow_up_status(code: Column, activation_type: Column, week: Column, last_monday: dt.date) -> Column:
    """The status of a follow-up ``week`` whose code (NULL: blank) and activation type are given."""
    rules = progression_rules()
    s = rules.status
    return (F.when(week > F.lit(last_monday), s["unknown"])
            .when(code.isNull(), s["employment"])
            .when(code.isin(exit_codes()), s["unknown"])
            .when(code.isin(sorted(rules.employment_codes)), s["employment"])
            .when(activation_type.isin(sorted(rules.company_activation_types)), s["company"])
            .otherwise(s["other"]))


def follow_ups(activation: DataFrame, fact: DataFrame, last_monday: dt.date) -> DataFrame:
    """One row per spell and follow-up point, with the status there."""
    spells = (activation.where(~F.col("startet_foer_data"))
              .select("person_id", "start_uge_start", "kommune", "ydelsesgruppe", "aktiveringstype",
                      F.explode(F.array(*[F.lit(k) for k in FOLLOW_UP_WEEKS])).alias("uger_efter_start"))
              .withColumn("opfoelgning", F.date_add("start_uge_start", F.col("uger_efter_start") * 7)))
    then = fact.select("person_id", F.col("uge_start").alias("opfoelgning"),
                       F.col("ydelseskode").alias("kode_da"), F.col("aktiveringstype").alias("type_da"))
    return (spells.join(then, ["person_id", "opfoelgning"], "left")
            .select(month_label(F.col("start_uge_start")).alias("periode"), "kommune", "ydelsesgruppe",
                    "aktiveringstype", "uger_efter_start",
                    follow_up_status(F.col("kode_da"), F.col("type_da"), F.col("opfoelgning"), last_monday)
                    .alias("status")))


def build_progression(activation: DataFrame, fact: DataFrame, last_monday: dt.date) -> DataFrame:
    s = progression_rules().status
    status = F.col("status")
    counted = (follow_ups(activation, fact, last_monday)
               .groupBy("periode", "kommune", "ydelsesgruppe", "aktiveringstype", "uger_efter_start")
               .agg(F.count(F.lit(1)).alias("antal_forloeb"),
                    *[F.count(F.when(status == s[key], 1)).alias(name) for key, name in (
                        ("employment", "antal_beskaeftigelse"), ("company", "antal_virksomhedsrettet"),
                        ("other", "antal_andet"), ("unknown", "antal_ikke_opgjort"))]))
    measured = F.col("antal_forloeb") - F.col("antal_ikke_opgjort")
    return counted.select(
        *PROGRESSION_COLUMNS[:10],
        # try_divide: NULL, not an error, when no spell of the cell could be measured.
        *[F.try_divide(F.col(f"antal_{k}"), measured).alias(f"andel_{k}")
          for k in ("beskaeftigelse", "virksomhedsrettet", "andet")],
    ).select(*PROGRESSION_COLUMNS)
