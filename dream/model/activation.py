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

How: with numpy on whole persons' weeks, one person bucket of ``fact_dream`` per Spark task
(``dream.model.buckets``: no shuffle). The model writes the table in the same pass as the benefit spells
(``dream.model.spells.write_spell_tables``).
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from dream.model.buckets import days, encoded, map_buckets, map_persons, numbers, take
from dream.model.spells import DAYS_PER_WEEK, DeliveredSpan, by_person_and_day

ACTIVATION_INPUT = ["person_id", "aar", "uge", "uge_start", "aktiveringstype", "ydelsesgruppe", "ydelseskode",
                    "kommune", "visitationskategori", "alder", "aktiv"]
ACTIVATION_SCHEMA = ("person_id string, forloeb_nr int, aktiveringstype string, start_aar int, start_uge int, "
                     "start_uge_start date, slut_aar int, slut_uge int, slut_uge_start date, uger int, "
                     "ydelsesgruppe string, ydelseskode string, kommune string, visitationskategori string, "
                     "alder int, igangvaerende boolean, startet_foer_data boolean")
ACTIVATION_COLUMNS = [
    "person_id", "forloeb_nr", "aktiveringstype", "start_aar", "start_uge", "start_uge_start", "slut_aar",
    "slut_uge", "slut_uge_start", "uger", "ydelsesgruppe", "ydelseskode", "kommune", "visitationskategori",
    "alder", "igangvaerende", "startet_foer_data",
]


def build_activation_spells(fact: DataFrame, span: DeliveredSpan) -> DataFrame:
    """``fact_aktivering`` from any DataFrame of weeks (shuffled by person; ``activation_spells_from_table``
    reads ``fact_dream`` by person bucket)."""
    spells = functools.partial(activation_spells_of, span=span)
    return map_persons(fact.select(*ACTIVATION_INPUT), spells, ACTIVATION_SCHEMA)


def activation_spells_from_table(spark: SparkSession, fact_table: str, span: DeliveredSpan) -> DataFrame:
    """``build_activation_spells`` of the Delta table at ``fact_table``: one task per person bucket."""
    spells = functools.partial(activation_spells_of, span=span)
    return map_buckets(spark, fact_table, ACTIVATION_INPUT, spells, ACTIVATION_SCHEMA)


def activation_spells_of(weeks: pa.Table, span: DeliveredSpan) -> pa.Table | None:
    """The activation spells of whole persons' weeks (``ACTIVATION_INPUT``; (person, week) is the key), with
    numpy: the active weeks sorted by person and Monday; a spell starts at a person's first active week,
    after a gap (the active week before is not 7 days earlier) or where the activation type changes (a week
    without a type changes nothing, as a comparison with NULL in SQL). Rows of a spell with another type (a
    week without one) are a row of their own with the same number. A spell's values are those of its first
    week; its end is its last week."""
    weeks = weeks.filter(pc.fill_null(weeks.column("aktiv"), False))
    if not weeks.num_rows:
        return None
    person, _ = encoded(weeks.column("person_id"))
    kind, kinds = encoded(weeks.column("aktiveringstype"))
    day = days(weeks, "uge_start")
    order = by_person_and_day(person, day)
    p, d, k = person[order], day[order], kind[order]
    new_person = np.r_[True, p[1:] != p[:-1]]
    starts = (new_person | np.r_[False, d[1:] - d[:-1] != DAYS_PER_WEEK]
              | np.r_[False, (k[1:] != k[:-1]) & (k[1:] >= 0) & (k[:-1] >= 0)])
    so_far = np.cumsum(starts)
    number = so_far - so_far[np.maximum.accumulate(np.where(new_person, np.arange(len(p)), 0))] + 1
    # rows of one (spell, type) together, by Monday: a spell whose weeks all have a type is one segment
    by_spell = np.lexsort((d, k, so_far))
    spell, kind_sorted = so_far[by_spell], k[by_spell]
    first = np.flatnonzero(np.r_[True, (spell[1:] != spell[:-1]) | (kind_sorted[1:] != kind_sorted[:-1])])
    last = np.r_[first[1:] - 1, len(by_spell) - 1]
    start_rows, end_rows = order[by_spell[first]], order[by_spell[last]]
    rows = pa.array(start_rows)
    year, week = numbers(weeks, "aar"), numbers(weeks, "uge")
    start_day, end_day = day[start_rows], day[end_rows]
    epoch = dt.date(1970, 1, 1)
    return pa.table({
        "person_id": weeks.column("person_id").take(rows),
        "forloeb_nr": pa.array(number[by_spell[first]].astype(np.int32)),
        "aktiveringstype": take(kind_sorted[first], kinds, None),
        "start_aar": pa.array(year[start_rows]), "start_uge": pa.array(week[start_rows]),
        "start_uge_start": pa.array(start_day).view(pa.date32()),
        "slut_aar": pa.array(year[end_rows]), "slut_uge": pa.array(week[end_rows]),
        "slut_uge_start": pa.array(end_day).view(pa.date32()),
        "uger": pa.array((last - first + 1).astype(np.int32)),
        **{c: weeks.column(c).take(rows) for c in ("ydelsesgruppe", "ydelseskode", "kommune", "visitationskategori",
                                                    "alder")},
        "igangvaerende": pa.array(end_day == (span.last_monday - epoch).days),
        "startet_foer_data": pa.array(start_day == (span.first_monday - epoch).days),
    })
