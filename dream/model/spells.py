"""Benefit spells (ydelsesforløb) per person and ydelsesgruppe, and raw code runs, from ``fact_dream``
(DOMAIN.md §4.4, seed 003 "Hvordan beregnes ydelsesvarighed?").

**Spell.** The person's weeks in one group that no whole calendar month without a week of that group
separates. A week belongs to the month of its Thursday, so two consecutive weeks of the group (consecutive
among the person's weeks in that group) belong to one spell exactly when their months are the same or
adjacent: months m1 < m2 leave m2 - m1 - 1 whole months between them, and one is enough to break the spell.
Exit codes (996-999) are no benefit and never part of a spell.

**Duration** (seed 003: "from the last day on the benefit ... back to the first day of the spell"): from
the Monday of the spell's first week to the Sunday of its last week, both included: 7 days per calendar
week of the spell, the short gaps inside it included (they do not break it, so they count, as in
jobindsats). ``uger_med_ydelse`` counts only the weeks with the benefit.

**Municipality** (seed 003 "Bestemmelse af kommunetilhørsforhold"): the residence in the spell's last week;
in ``fact_forloeb_maaned`` the residence in the person's last week of the group in that month, which is the
spell's end as seen from that month.

**Running / censored.** A spell is still running at the end of the data when no whole calendar month lies
between its last week and the end of the delivery (only months wholly delivered count: the last month may
be cut off). Symmetrically, a spell whose start has no whole delivered month before it may have begun
before the data (``startet_foer_data``): its duration is then a lower bound.

**Raw runs** (``fact_ydelsesperiode``): consecutive calendar weeks with the same code (and group: the
cash-benefit codes change group with the visitation category), the way public DREAM tools collapse weeks
into periods; any blank week ends a run. Exit codes are runs too: this table is the raw record.

The spell months and the raw runs are found with numpy on whole persons' weeks, one person bucket of
``fact_dream`` per Spark task (``dream.model.buckets``: no shuffle); ``fact_forloeb`` is taken from the
spell months. The model writes these tables and ``fact_aktivering`` in one pass (``write_spell_tables``):
each task reads its bucket once and writes the Parquet files of all four. Nothing loops on the driver.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import TaskContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.calendar import IsoWeek
from dream.errors import InputError
from dream.model.buckets import (
    days, encoded, map_buckets, map_persons, month_labels, month_numbers, numbers, smallest_text, take,
)
from dream.reference.codes import exit_codes
from dream.tables import arrow_schema, file_tag, table_path, write_partitioned, write_tables

DAYS_PER_WEEK = 7
WEEKS_PASSIVE_WINDOW = 52  # seed 004: no active offer "in the last 12 months", in weeks
_EPOCH_MONDAY = dt.date(1970, 1, 5)
_DAY_BITS = 20  # days since the first of the rows fit in 20 bits: (person, group, day) packs into one int64

SPELL_MONTH_COLUMNS = [
    "person_id", "ydelsesgruppe", "forloeb_nr", "aar", "periode", "uge", "uge_start", "kommune", "alder",
    "forloeb_start", "forloeb_start_aar", "forloeb_start_uge", "uger_i_maaned", "uger_med_ydelse", "dage",
    "aktive_uger_52",
]
SPELL_COLUMNS = [
    "person_id", "ydelsesgruppe", "forloeb_nr", "start_aar", "start_uge", "start_uge_start", "slut_aar",
    "slut_uge", "slut_uge_start", "uger", "uger_med_ydelse", "dage", "igangvaerende", "startet_foer_data",
    "kommune",
]
RUN_COLUMNS = [
    "person_id", "periode_nr", "ydelseskode", "ydelsesgruppe", "start_aar", "start_uge", "start_uge_start",
    "slut_aar", "slut_uge", "slut_uge_start", "uger", "kommune",
]
SPELL_INPUT = ["person_id", "aar", "uge", "uge_start", "ydelseskode", "ydelsesgruppe", "kommune", "alder", "aktiv"]
SPELL_MONTH_SCHEMA = ("person_id string, ydelsesgruppe string, forloeb_nr int, aar int, periode string, uge int, "
                      "uge_start date, kommune string, alder int, forloeb_start date, forloeb_start_aar int, "
                      "forloeb_start_uge int, uger_i_maaned int, uger_med_ydelse int, dage int, aktive_uger_52 int")
SPELL_SCHEMA = ("person_id string, ydelsesgruppe string, forloeb_nr int, start_aar int, start_uge int, "
                "start_uge_start date, slut_aar int, slut_uge int, slut_uge_start date, uger int, uger_med_ydelse int, "
                "dage int, igangvaerende boolean, startet_foer_data boolean, kommune string")
RUN_INPUT = ["person_id", "aar", "uge", "uge_start", "ydelseskode", "ydelsesgruppe", "kommune"]
RUN_SCHEMA = ("person_id string, periode_nr int, ydelseskode string, ydelsesgruppe string, start_aar int, "
              "start_uge int, start_uge_start date, slut_aar int, slut_uge int, slut_uge_start date, uger int, "
              "kommune string")


# --- column functions -------------------------------------------------------------------------------

def day_number(monday: Column) -> Column:
    """Days since a fixed Monday: a number a range frame can step over (7 per week)."""
    return F.datediff(monday, F.lit(_EPOCH_MONDAY))


# --- numpy helpers ---------------------------------------------------------------------------------------

def by_person_and_day(person: np.ndarray, day: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """The order of rows by person, group when given (-1, none, first) and day: ``np.lexsort``'s, as one sort
    of an int64 key (three times faster on millions of rows). The days must span less than 2**20 (2,870 years)."""
    within = np.zeros(len(person), np.int64) if group is None else group.astype(np.int64) + 1
    group_bits = int(within.max(initial=0)).bit_length()
    key = ((person.astype(np.int64) << (_DAY_BITS + group_bits)) | (within << _DAY_BITS)
           | (day.astype(np.int64) - day.min(initial=0)))
    return np.argsort(key, kind="stable")


def thursday_months(monday: np.ndarray) -> np.ndarray:
    """``month_numbers`` of the weeks' Thursdays (days since 1970 of Mondays), worked out once per day of
    the weeks' range: a table look-up instead of a date conversion per row."""
    first = int(monday.min(initial=0))
    return month_numbers(np.arange(first, int(monday.max(initial=0)) + 1) + 3)[monday - first]


# --- the delivered span -------------------------------------------------------------------------------

def _month_index(day: dt.date) -> int:
    year, month = IsoWeek.of(day).maaned
    return year * 12 + month - 1


@dataclass(frozen=True)
class DeliveredSpan:
    """The first and last delivered weeks and the first and last months wholly inside them."""
    first_monday: dt.date
    last_monday: dt.date
    first_full_month: int  # month index (year * 12 + month - 1)
    last_full_month: int

    @property
    def last_full_month_end(self) -> dt.date:
        year, month = divmod(self.last_full_month + 1, 12)
        return dt.date(year, month + 1, 1) - dt.timedelta(days=1)

    @staticmethod
    def of(first_monday: dt.date, last_monday: dt.date) -> DeliveredSpan:
        week = dt.timedelta(days=7)
        first, last = _month_index(first_monday), _month_index(last_monday)
        # A month is whole when the week before the first (after the last) delivered week lies outside it.
        first_full = first if _month_index(first_monday - week) != first else first + 1
        last_full = last if _month_index(last_monday + week) != last else last - 1
        return DeliveredSpan(first_monday, last_monday, first_full, last_full)


def delivered_span(dim_tid: DataFrame) -> DeliveredSpan:
    """From ``dim_tid`` (every delivered week); one aggregate row comes back to the driver."""
    first, last = dim_tid.agg(F.min("uge_start"), F.max("uge_start")).first()
    if first is None:
        raise InputError("dim_tid has no weeks: build the model from an ingested delivery (dream ingest) first")
    return DeliveredSpan.of(first, last)


# --- spells ---------------------------------------------------------------------------------------------

def spell_months(fact: DataFrame) -> DataFrame:
    """``fact_forloeb_maaned``: one row per person, group and month with a week of the group, holding the
    person's last week of the group in that month and the spell as seen from there (duration so far,
    active weeks in the last 52 weeks). Rows are distinct persons per group and month. From any DataFrame
    of weeks (shuffled by person; ``spell_months_from_table`` reads ``fact_dream`` by person bucket)."""
    return map_persons(fact.select(*SPELL_INPUT), spell_months_of, SPELL_MONTH_SCHEMA)


def spell_months_from_table(spark: SparkSession, fact_table: str) -> DataFrame:
    """``spell_months`` of the Delta table at ``fact_table``: one task per person bucket, no shuffle."""
    return map_buckets(spark, fact_table, SPELL_INPUT, spell_months_of, SPELL_MONTH_SCHEMA)


def spell_months_of(weeks: pa.Table) -> pa.Table | None:
    """``spell_months`` of whole persons' weeks (``SPELL_INPUT``; (person, week) is the key). Exit codes are
    no benefit and left out. The weeks are sorted by person, group (a week without one is a group of its
    own) and Monday; in that order, for each week:

    - ``nr``: its number among the person's weeks of the group;
    - a spell starts at the first week, and where the month (of the Thursday) is 2 or more after the month
      of the week before: one whole month or more without the group in between;
    - the spell's number and first week: the count of starts so far and the latest start;
    - ``aktive_uger_52``: the active weeks among the person's weeks of the group whose Monday lies in the
      52 calendar weeks up to this one (a binary search for the first of them);
    - the month's row is its last week; ``uger_i_maaned`` is its ``nr`` minus that of the month's row
      before (the weeks of the group in the month)."""
    code, codes = encoded(weeks.column("ydelseskode"))
    benefit = np.r_[~np.isin(np.array(codes.to_pylist(), dtype=object), sorted(exit_codes())), False]  # -1: none
    weeks = weeks.filter(pa.array(benefit[code]))
    if not weeks.num_rows:
        return None
    person, _ = encoded(weeks.column("person_id"))
    group, groups = encoded(weeks.column("ydelsesgruppe"))
    day = days(weeks, "uge_start")
    order = by_person_and_day(person, day, group)
    p, g, d = person[order], group[order], day[order].astype(np.int64)
    month = thursday_months(d)
    row = np.arange(len(order))
    new_group = np.r_[True, (p[1:] != p[:-1]) | (g[1:] != g[:-1])]
    group_start = np.maximum.accumulate(np.where(new_group, row, 0))
    nr = row - group_start + 1
    starts = new_group | np.r_[False, month[1:] - month[:-1] >= 2]
    spells_so_far = np.cumsum(starts)
    spell_nr = spells_so_far - spells_so_far[group_start] + 1
    spell_start = np.maximum.accumulate(np.where(starts, row, 0))
    key = (np.cumsum(new_group) << 32) | (d + 2**31)
    window_start = np.searchsorted(key, key - DAYS_PER_WEEK * (WEEKS_PASSIVE_WINDOW - 1))
    active = np.r_[0, np.cumsum(pc.fill_null(weeks.column("aktiv"), False).to_numpy(zero_copy_only=False)[order])]
    last = np.flatnonzero(np.r_[new_group[1:] | (month[1:] != month[:-1]), True])
    same_group = np.r_[False, group_start[last[1:]] == group_start[last[:-1]]]  # as the month's row before
    previous_nr = np.where(same_group, np.r_[0, nr[last[:-1]]], 0)
    first = spell_start[last]
    rows = pa.array(order[last])
    year, week = numbers(weeks, "aar"), numbers(weeks, "uge")
    return pa.table({
        "person_id": weeks.column("person_id").take(rows),
        "ydelsesgruppe": take(g[last], groups, None),
        "forloeb_nr": pa.array(spell_nr[last].astype(np.int32)),
        "aar": pa.array(year[order[last]]),
        "periode": month_labels(month[last]),
        "uge": pa.array(week[order[last]]),
        "uge_start": pa.array(d[last].astype(np.int32)).view(pa.date32()),
        "kommune": weeks.column("kommune").take(rows),
        "alder": weeks.column("alder").take(rows),
        "forloeb_start": pa.array(d[first].astype(np.int32)).view(pa.date32()),
        "forloeb_start_aar": pa.array(year[order[first]]),
        "forloeb_start_uge": pa.array(week[order[first]]),
        "uger_i_maaned": pa.array((nr[last] - previous_nr).astype(np.int32)),
        "uger_med_ydelse": pa.array((nr[last] - nr[first] + 1).astype(np.int32)),
        "dage": pa.array((d[last] - d[first] + DAYS_PER_WEEK).astype(np.int32)),
        "aktive_uger_52": pa.array((active[last + 1] - active[window_start[last]]).astype(np.int32)),
    }).select(SPELL_MONTH_COLUMNS)


def build_spells(months: DataFrame, span: DeliveredSpan) -> DataFrame:
    """``fact_forloeb`` of any DataFrame of spell months (``fact_forloeb_maaned``; shuffled by person)."""
    spells = functools.partial(spells_of, span=span)
    return map_persons(months.select(*SPELL_MONTH_COLUMNS), spells, SPELL_SCHEMA)


def spells_of(months: pa.Table | None, span: DeliveredSpan) -> pa.Table | None:
    """``fact_forloeb`` of whole persons' spell months (``SPELL_MONTH_COLUMNS``): one row per spell, its last
    month row: the person's month rows of the group sorted by Monday, the row whose next one has another
    spell number, or that has none. The start is the spell's first week, the end the month row's week;
    ``uger`` the calendar weeks from start to end (``dage`` / 7); ``igangvaerende`` when the end week's month
    (of its Thursday) is the last whole delivered month or later; ``startet_foer_data`` when the first
    week's month is the first whole delivered month or earlier."""
    if months is None or not months.num_rows:
        return None
    person, _ = encoded(months.column("person_id"))
    group, _ = encoded(months.column("ydelsesgruppe"))
    end, start = days(months, "uge_start"), days(months, "forloeb_start")
    order = by_person_and_day(person, end, group)
    p, g, nr = person[order], group[order], numbers(months, "forloeb_nr")[order]
    last = order[np.r_[(p[1:] != p[:-1]) | (g[1:] != g[:-1]) | (nr[1:] != nr[:-1]), True]]
    rows = pa.array(last)

    def column(name: str) -> pa.ChunkedArray:
        return months.column(name).take(rows)
    return pa.table({
        "person_id": column("person_id"), "ydelsesgruppe": column("ydelsesgruppe"),
        "forloeb_nr": column("forloeb_nr"), "start_aar": column("forloeb_start_aar"),
        "start_uge": column("forloeb_start_uge"), "start_uge_start": column("forloeb_start"),
        "slut_aar": column("aar"), "slut_uge": column("uge"), "slut_uge_start": column("uge_start"),
        "uger": pa.array(numbers(months, "dage")[last] // DAYS_PER_WEEK),
        "uger_med_ydelse": column("uger_med_ydelse"), "dage": column("dage"),
        "igangvaerende": pa.array(thursday_months(end[last]) >= span.last_full_month),
        "startet_foer_data": pa.array(thursday_months(start[last]) <= span.first_full_month),
        "kommune": column("kommune"),
    })


# --- raw runs -------------------------------------------------------------------------------------------

def build_runs(fact: DataFrame) -> DataFrame:
    """``fact_ydelsesperiode``: runs of consecutive calendar weeks with the same code and group, from any
    DataFrame of weeks (shuffled by person; ``runs_from_table`` reads ``fact_dream`` by person bucket)."""
    return map_persons(fact.select(*RUN_INPUT), runs_of, RUN_SCHEMA)


def runs_from_table(spark: SparkSession, fact_table: str) -> DataFrame:
    """``build_runs`` of the Delta table at ``fact_table``: one task per person bucket, no shuffle."""
    return map_buckets(spark, fact_table, RUN_INPUT, runs_of, RUN_SCHEMA)


def runs_of(weeks: pa.Table) -> pa.Table:
    """The runs of whole persons' weeks (``RUN_INPUT``; (person, week) is the key). The weeks sorted by
    person and Monday, a run starts at a person's first week, after a gap (the week before is not 7 days
    earlier) or where the code or the group changes; a week without a group (an unknown code) changes
    nothing, as a comparison with NULL is no change in SQL. A run's code and group are the smallest in it
    (they differ only around a week without one), its start the first week and its end, with the
    municipality, the last."""
    person, _ = encoded(weeks.column("person_id"))
    day = days(weeks, "uge_start")
    order = by_person_and_day(person, day)
    code, codes = encoded(weeks.column("ydelseskode"))
    group, groups = encoded(weeks.column("ydelsesgruppe"))
    p, d, c, g = person[order], day[order], code[order], group[order]

    def changes(x: np.ndarray) -> np.ndarray:
        return np.r_[False, (x[1:] != x[:-1]) & (x[1:] >= 0) & (x[:-1] >= 0)]
    new_person = np.r_[True, p[1:] != p[:-1]]
    starts = new_person | np.r_[False, d[1:] - d[:-1] != DAYS_PER_WEEK] | changes(c) | changes(g)
    first = np.flatnonzero(starts)
    last = np.r_[first[1:] - 1, len(order) - 1]
    run = np.arange(len(first))
    persons_first_run = np.maximum.accumulate(np.where(new_person[first], run, 0))
    start_rows, end_rows = order[first], order[last]
    year, week = numbers(weeks, "aar"), numbers(weeks, "uge")
    return pa.table({
        "person_id": weeks.column("person_id").take(start_rows),
        "periode_nr": pa.array((run - persons_first_run + 1).astype(np.int32)),
        "ydelseskode": take(smallest_text(c, codes, first), codes, None),
        "ydelsesgruppe": take(smallest_text(g, groups, first), groups, None),
        "start_aar": pa.array(year[start_rows]), "start_uge": pa.array(week[start_rows]),
        "start_uge_start": pa.array(day[start_rows]).view(pa.date32()),
        "slut_aar": pa.array(year[end_rows]), "slut_uge": pa.array(week[end_rows]),
        "slut_uge_start": pa.array(day[end_rows]).view(pa.date32()),
        "uger": pa.array((last - first + 1).astype(np.int32)),
        "kommune": weeks.column("kommune").take(end_rows),
    })


# --- the four tables in one pass ---------------------------------------------------------------------------

def write_spell_tables(spark: SparkSession, fact_table: str, span: DeliveredSpan, warehouse: str,
                       layout: dict[str, tuple[list[str], list[str]]]) -> dict[str, int]:
    """``fact_forloeb_maaned``, ``fact_forloeb``, ``fact_ydelsesperiode`` and ``fact_aktivering`` of the
    Delta table at ``fact_table`` (``fact_dream``) written as tables of ``warehouse``; ``layout``: table ->
    (partition columns, statistics columns), for each of the four. One pass: one Spark task per person bucket
    (``map_buckets``; a table without buckets is shuffled by person) reads its persons' weeks once, makes
    the rows of the four tables (``spell_tables_of``) and writes them as Parquet files, one per table and
    partition value; then each table is packed and committed in a Delta commit of its own (``write_tables``:
    when a commit fails, the tables committed before it stay so). Returns table -> new version."""
    from dream.model.activation import ACTIVATION_INPUT, ACTIVATION_SCHEMA  # it imports this module

    schemas = {"fact_forloeb_maaned": SPELL_MONTH_SCHEMA, "fact_forloeb": SPELL_SCHEMA,
               "fact_ydelsesperiode": RUN_SCHEMA, "fact_aktivering": ACTIVATION_SCHEMA}
    tables = {name: (table_path(warehouse, name), *layout[name]) for name in schemas}
    columns = list(dict.fromkeys([*SPELL_INPUT, *RUN_INPUT, *ACTIVATION_INPUT]))

    def tasks(run_id: str) -> DataFrame:
        written = functools.partial(_written, span=span, tables=tables, run_id=run_id)
        return map_buckets(spark, fact_table, columns, written, "tabel string, fil string")
    versions = write_tables(spark, {path: (arrow_schema(schemas[name]), partitions, stats)
                                    for name, (path, partitions, stats) in tables.items()}, tasks)
    return {name: versions[path] for name, (path, _, _) in tables.items()}


def spell_tables_of(weeks: pa.Table, span: DeliveredSpan) -> dict[str, pa.Table | None]:
    """Table -> its rows (None: none) of whole persons' weeks: the spell months, the spells taken from them,
    the raw runs and the activation spells, each by its rule."""
    from dream.model.activation import activation_spells_of  # it imports this module

    months = spell_months_of(weeks)
    return {"fact_forloeb_maaned": months, "fact_forloeb": spells_of(months, span),
            "fact_ydelsesperiode": runs_of(weeks), "fact_aktivering": activation_spells_of(weeks, span)}


def _written(weeks: pa.Table, span: DeliveredSpan, tables: dict[str, tuple[str, list[str], list[str]]],
             run_id: str) -> pa.Table:
    """``spell_tables_of(weeks)`` written into the tables' folders (``tables``: table -> (path, partition
    columns, statistics columns)): a row (table path, add action) per file."""
    tag = file_tag(run_id, TaskContext.get().partitionId())
    added = []
    for name, rows in spell_tables_of(weeks, span).items():
        path, partitions, stats = tables[name]
        if rows is not None:
            added += [(path, f.add_action()) for f in write_partitioned(path, rows, partitions, tag, stats)]
    return pa.table({"tabel": pa.array([a[0] for a in added], pa.string()),
                     "fil": pa.array([a[1] for a in added], pa.string())})
