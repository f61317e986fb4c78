"""``maaling_offentlig_forsoergelse``: full-time persons on public support aged 16-66 and their share of the
16-66 population, per municipality, month and group (seed 002 "Borgere på offentlig forsørgelse",
DOMAIN.md §3).

Definition
- Public support: the codes flagged ``offentlig_forsoergelse`` in ``ydelsesgrupper.yaml`` (a-dagpenge
  with kontantydelse, arbejdsmarkedsydelse and særlig uddannelsesydelse, kontanthjælp, uddannelseshjælp,
  integrationsydelse, revalidering, forrevalidering, sygedagpenge, jobafklaring, ressourceforløb,
  ledighedsydelse, fleksjob, førtidspension, efterløn; not SU, not folkepension).
- Age 16-66 in the week (age on the week's Thursday, ``fact_dream.alder``); a week without a known birth
  date is not counted.
- ``ydelsesuger``: the person-weeks on public support in the month (weeks by their Thursday) and
  municipality (residence that week). ``uger_i_perioden``: the delivered weeks of the month (4 or 5).
  ``fuldtidspersoner`` = ydelsesuger / uger_i_perioden: a person on support every week of the month is 1.
- ``antal_personer``: distinct persons with at least one such week (a person who moves within the month
  counts in both municipalities; the full-time persons add up, the persons do not).
- One row per group, and one row ``Offentlig forsørgelse i alt`` for all groups together (its persons
  counted anew, not summed).
- ``befolkning_16_66``: the 16-66 year olds of the municipality in the month's year, from the Delta table
  ``befolkning`` (kommune, aar, alder, antal); ``andel_af_befolkning`` = fuldtidspersoner /
  befolkning_16_66. Without the table (or for unknown residence, 000) both are NULL.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dream.model.weeks import month_label
from dream.reference.codes import public_support_total

AGE_MIN, AGE_MAX = 16, 66
POPULATION_COLUMNS = {"kommune": "string", "aar": "int", "alder": "int", "antal": "bigint"}
OFFENTLIG_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "ydelsesuger", "uger_i_perioden", "fuldtidspersoner",
                     "antal_personer", "befolkning_16_66", "andel_af_befolkning"]


def of_working_age(age: Column) -> Column:
    return age.between(AGE_MIN, AGE_MAX)


def weeks_per_month(dim_tid: DataFrame) -> DataFrame:
    return (dim_tid.groupBy(month_label(F.col("uge_start")).alias("periode"))
            .agg(F.count(F.lit(1)).cast("int").alias("uger_i_perioden")))


def population_16_66(population: DataFrame) -> DataFrame:
    return (population.where(of_working_age(F.col("alder")))
            .groupBy("kommune", "aar").agg(F.sum("antal").cast("long").alias("befolkning_16_66")))


def group_or_total(group: Column, is_total: Column) -> Column:
    """After ``groupingSets`` with and without the group: the group, or the all-groups label on the rows
    that aggregate over every group (``is_total``: ``F.grouping(group) == 1``, taken inside the ``agg``)."""
    return F.when(is_total, F.lit(public_support_total())).otherwise(group)


def person_cells(fact: DataFrame) -> DataFrame:
    """One row per month, municipality, group (and all groups) and person: the person's weeks there. One
    grouping-sets aggregate makes both levels in a single pass; a person in two groups is one person in
    the all-groups row."""
    keys = ["periode", "kommune", "ydelsesgruppe", "person_id"]
    rows = (fact.where(F.col("offentlig_forsoergelse") & of_working_age(F.col("alder")))
            .select(month_label(F.col("uge_start")).alias("periode"), "kommune", "ydelsesgruppe", "person_id"))
    return (rows.groupingSets([keys, ["periode", "kommune", "person_id"]], *keys)
            .agg(F.count(F.lit(1)).alias("uger"), (F.grouping("ydelsesgruppe") == 1).alias("i_alt"))
            .select("periode", "kommune", group_or_total(F.col("ydelsesgruppe"), F.col("i_alt")).alias("ydelsesgruppe"),
                    "person_id", "uger"))


def build_public_support(fact: DataFrame, dim_tid: DataFrame, population: DataFrame | None) -> DataFrame:
    """``population``: the ``befolkning`` table, or None when the warehouse has none."""
    cells = (person_cells(fact).groupBy("periode", "kommune", "ydelsesgruppe")
             .agg(F.sum("uger").alias("ydelsesuger"), F.count(F.lit(1)).alias("antal_personer"))
             .join(F.broadcast(weeks_per_month(dim_tid)), "periode")
             .withColumn("aar", F.substring("periode", 1, 4).cast("int")))
    if population is None:
        cells = cells.withColumn("befolkning_16_66", F.lit(None).cast("long"))
    else:
        cells = cells.join(F.broadcast(population_16_66(population)), ["kommune", "aar"], "left")
    full_time = F.col("ydelsesuger") / F.col("uger_i_perioden")
    share = F.try_divide(full_time, F.col("befolkning_16_66"))  # NULL, not an error, for a population of 0
    return cells.select(
        "periode", "kommune", "ydelsesgruppe", "ydelsesuger", "uger_i_perioden", full_time.alias("fuldtidspersoner"),
        "antal_personer", "befolkning_16_66", share.alias("andel_af_befolkning"),
    ).select(*OFFENTLIG_COLUMNS)
