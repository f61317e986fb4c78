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

How: one Spark task per person bucket of ``fact_dream`` (``dream.model.buckets``) makes the bucket's
activation spells (``activation_spells_of``, as ``fact_aktivering``) and finds each follow-up point's
week by a binary search on (person, Monday); only the follow-up rows (two per spell) go on to Spark to be counted.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.model.activation import ACTIVATION_INPUT, activation_spells_of
from dream.model.buckets import days, encoded, map_buckets, map_persons, month_labels, month_numbers
from dream.model.spells import DeliveredSpan
from dream.reference.codes import exit_codes, progression_rules

FOLLOW_UP_WEEKS = (1, 13)
FOLLOW_UP_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "aktiveringstype", "uger_efter_start", "opfoelgning",
                     "kode_da", "type_da"]
FOLLOW_UP_SCHEMA = ("periode string, kommune string, ydelsesgruppe string, aktiveringstype string, "
                    "uger_efter_start int, opfoelgning date, kode_da string, type_da string")
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


def follow_ups_of(weeks: pa.Table, span: DeliveredSpan) -> pa.Table | None:
    """Per activation spell of whole persons' weeks (``ACTIVATION_INPUT``) that did not start in the first
    delivered week, and per follow-up point: the code and activation type of the person's week then (none:
    a blank week). (person, Monday) is the weeks' key: a binary search in the weeks sorted by it finds the
    week of each point, or shows that the person has none then."""
    spells = activation_spells_of(weeks, span)
    if spells is None:
        return None
    spells = spells.filter(pc.invert(spells.column("startet_foer_data")))
    person, persons = encoded(weeks.column("person_id"))
    week_key = (person.astype(np.int64) << 32) | days(weeks, "uge_start").astype(np.int64)
    order = np.argsort(week_key, kind="stable")
    sorted_keys = week_key[order]
    spell_person = pc.index_in(spells.column("person_id").cast(pa.string()), value_set=persons).to_numpy(
        zero_copy_only=False).astype(np.int64)  # every spell's person has weeks: no null
    start = days(spells, "start_uge_start").astype(np.int64)
    text = {c: spells.column(c).cast(pa.string()) for c in ("kommune", "ydelsesgruppe", "aktiveringstype")}
    code, type_ = (weeks.column(c).cast(pa.string()) for c in ("ydelseskode", "aktiveringstype"))
    points = []
    for k in FOLLOW_UP_WEEKS:
        then = start + 7 * k
        key = (spell_person << 32) | then
        at = np.minimum(np.searchsorted(sorted_keys, key), len(sorted_keys) - 1)
        found = sorted_keys[at] == key
        rows = pa.array(order[at], mask=~found)  # a null row: no week then
        points.append(pa.table({
            "periode": month_labels(month_numbers(start + 3)).cast(pa.string()), **text,
            "uger_efter_start": pa.array(np.full(len(start), k, np.int32)),
            "opfoelgning": pa.array(then.astype(np.int32)).view(pa.date32()),
            "kode_da": code.take(rows), "type_da": type_.take(rows)}))
    return pa.concat_tables(points).select(FOLLOW_UP_COLUMNS)


def follow_ups(fact: DataFrame, span: DeliveredSpan) -> DataFrame:
    """``follow_ups_of`` on any DataFrame of weeks, shuffled by person."""
    return map_persons(fact.select(*ACTIVATION_INPUT), functools.partial(follow_ups_of, span=span), FOLLOW_UP_SCHEMA)


def progression_from_table(spark: SparkSession, fact_table: str, span: DeliveredSpan) -> DataFrame:
    """``build_progression`` of the Delta table at ``fact_table``: one task per person bucket, no shuffle
    of the weeks (only of the follow-up rows, two per spell)."""
    points = map_buckets(spark, fact_table, ACTIVATION_INPUT, functools.partial(follow_ups_of, span=span),
                         FOLLOW_UP_SCHEMA)
    return cells_of(points, span.last_monday)


def build_progression(fact: DataFrame, span: DeliveredSpan) -> DataFrame:
    """``maaling_progression`` from any DataFrame of weeks (the activation spells are made from them)."""
    return cells_of(follow_ups(fact, span), span.last_monday)


def cells_of(points: DataFrame, last_monday: dt.date) -> DataFrame:
    """The follow-up points (``FOLLOW_UP_SCHEMA``) counted per cell by status, with the shares."""
    s = progression_rules().status
    status = F.col("status")
    with_status = points.withColumn("status", follow_up_status(F.col("kode_da"), F.col("type_da"),
                                                                F.col("opfoelgning"), last_monday))
    counted = (with_status
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
