"""``overgang_52``: where each recipient is in the calendar week exactly 52 weeks later (seed 000 §6.1.6,
§7.1.1). The week 52 weeks on is Monday + 364 days, found by an equi-join on (person, Monday + 364), never
by counting rows: a blank week has no row, so it is "Ingen ydelse", and a 53-week year in between changes
nothing. Weeks whose follow-up lies past the last delivered week are censored: left out, not "ikke længere".

Two implementations of the one rule, kept equal by the tests:

- ``build_transitions`` (a DataFrame, for notebooks and library use): a window over the person's weeks
  whose range frame is exactly +364 days (one shuffle, one sort, no self-join);
- ``write_transitions`` (any DataFrame of weeks): the rows are shuffled by person only, and each Spark task
  joins its persons' weeks with numpy (a sort on (person, day) and a binary search for day + 364) and
  writes its Parquet files per year itself; the driver commits them to Delta in one commit. No sort by
  Spark, no window, no second sort by year for the partitioned write.
- ``write_transitions_from_table`` (what the model writes, from ``fact_dream``): the table is partitioned
  by ``person_bucket``, so every person's weeks already lie in one bucket's files. Each task reads one
  bucket's files with pyarrow (text columns stay dictionary-encoded) and does the same join and write: no
  shuffle, and no row passes through the JVM. A table without that partitioning goes the shuffle's way.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Callable

import numpy as np
import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dream.model.buckets import PersonsFunction, encoded, map_buckets, map_persons, take
from dream.model.weeks import DAYS_52_WEEKS, week_52_later
from dream.reference.codes import blank_group, recipient_status
from dream.tables import file_tag, table_path, write_data_file, write_files

INPUT_COLUMNS = ["person_id", "aar", "uge", "uge_start", "maaned", "kommune", "ydelseskode", "ydelsesgruppe"]
OVERGANG_COLUMNS = [*INPUT_COLUMNS, "ydelseskode_52", "ydelsesgruppe_52", "modtagerstatus"]
OVERGANG_SCHEMA = pa.schema([
    ("person_id", pa.string()), ("aar", pa.int32()), ("uge", pa.int32()), ("uge_start", pa.date32()),
    ("maaned", pa.int32()), ("kommune", pa.string()), ("ydelseskode", pa.string()), ("ydelsesgruppe", pa.string()),
    ("ydelseskode_52", pa.string()), ("ydelsesgruppe_52", pa.string()), ("modtagerstatus", pa.string()),
])
# Delta statistics on what readers filter on; not on the 64-character person ids (they skip nothing).
STATS_COLUMNS = [c for c in OVERGANG_COLUMNS if c not in ("person_id", "aar")]
_DAY_BITS = 20  # days since 1970 fit in 20 bits until the year 4840: (person, day) packs into one int64


def status_52(group: Column, group_52: Column) -> Column:
    s = recipient_status()
    return (F.when(group_52 == F.lit(blank_group()), s["none"])
            .when(group_52 == group, s["same"])
            .otherwise(s["other"]))


def build_transitions(fact: DataFrame, last_delivered_monday) -> DataFrame:
    """``last_delivered_monday``: the Monday of the delivery's last week (a date)."""
    # Both values come from one window over one ordering column: one shuffle and one sort, not two.
    exactly_52_weeks_on = (Window.partitionBy("person_id").orderBy("_dag")
                           .rangeBetween(DAYS_52_WEEKS, DAYS_52_WEEKS))
    return (fact
            .withColumn("_dag", F.datediff(F.col("uge_start"), F.lit("1970-01-05").cast("date")))  # a Monday
            .withColumn("ydelseskode_52", F.first("ydelseskode").over(exactly_52_weeks_on))
            .withColumn("ydelsesgruppe_52", F.first("ydelsesgruppe").over(exactly_52_weeks_on))
            .where(week_52_later(F.col("uge_start")) <= F.lit(last_delivered_monday))
            .withColumn("ydelsesgruppe_52", F.coalesce("ydelsesgruppe_52", F.lit(blank_group())))
            .withColumn("modtagerstatus", status_52(F.col("ydelsesgruppe"), F.col("ydelsesgruppe_52")))
            .select(*OVERGANG_COLUMNS))


def write_transitions(fact: DataFrame, last_delivered_monday: dt.date, warehouse: str,
                      name: str = "overgang_52") -> int:
    """``overgang_52`` of ``fact`` written as table ``name`` of ``warehouse`` (partitioned by ``aar``, one
    Delta commit); returns its new version. The same rows as ``build_transitions``.

    Like ``write_table``: the commit replaces every row (a new version of the same table, so Delta's
    restore rolls it back), and a new table gets the session's Delta defaults. Files this run wrote but
    did not commit (a failed run's, a retried task's first attempt) are deleted before it returns."""
    def tasks(written: PersonsFunction) -> DataFrame:  # rows shuffled by person, not sorted
        return map_persons(fact.select(*INPUT_COLUMNS), written, "fil string")

    return _write(fact.sparkSession, tasks, last_delivered_monday, warehouse, name)


def write_transitions_from_table(spark: SparkSession, fact_table: str, last_delivered_monday: dt.date,
                                 warehouse: str, name: str = "overgang_52") -> int:
    """``write_transitions`` of the Delta table at ``fact_table`` (``fact_dream``): the same rows, table and
    commit. When the table is partitioned by ``person_bucket``, one task per bucket reads that bucket's
    files itself (no shuffle); otherwise the table is read by Spark and shuffled by person (``map_buckets``)."""
    def tasks(written: PersonsFunction) -> DataFrame:
        return map_buckets(spark, fact_table, INPUT_COLUMNS, written, "fil string")

    return _write(spark, tasks, last_delivered_monday, warehouse, name)


def _write(spark: SparkSession, tasks: Callable, last_delivered_monday: dt.date, warehouse: str, name: str) -> int:
    """Run ``tasks(written)``: a DataFrame whose tasks call ``written`` on whole persons' weeks (one row per
    file written: its add action); commit the files (``write_files``)."""
    path = table_path(warehouse, name)

    def run(run_id: str) -> DataFrame:
        return tasks(functools.partial(_written, path=path, run_id=run_id, last_monday=last_delivered_monday,
                                       blank=blank_group(), status=recipient_status()))
    return write_files(spark, path, OVERGANG_SCHEMA, ["aar"], STATS_COLUMNS, run)


def _written(weeks: pa.Table, path: str, run_id: str, last_monday: dt.date, blank: str,
             status: dict[str, str]) -> pa.Table:
    """``transitions_of(weeks)`` written as one Parquet file per year: a batch of their add actions."""
    out = transitions_of(weeks, last_monday, blank, status)
    years = out.column("aar").to_numpy()
    starts = np.flatnonzero(np.diff(years, prepend=years[:1] - 1))
    tag = file_tag(run_id, TaskContext.get().partitionId())
    added = []
    for start, end in zip(starts, [*starts[1:], len(years)]):
        data = out.slice(start, end - start).drop_columns(["aar"])
        added.append(write_data_file(path, data, {"aar": int(years[start])}, tag, STATS_COLUMNS).add_action())
    return pa.table({"fil": pa.array(added, pa.string())})


def transitions_of(weeks: pa.Table, last_monday: dt.date, blank: str, status: dict[str, str]) -> pa.Table:
    """The rule on the weeks of whole persons (``INPUT_COLUMNS``; (person, week) is the key): each week
    whose Monday + 364 is at most ``last_monday``, with the code and group of that later week of the same
    person (none and ``blank`` when the person has no row then) and the status. Rows by year, person and
    week; text columns as dictionary arrays (the rows only move integer indices: no string is copied)."""
    text = {c: encoded(weeks.column(c)) for c in ("person_id", "kommune", "ydelseskode", "ydelsesgruppe")}
    number = {c: weeks.column(c).combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
              for c in ("aar", "uge", "maaned")}
    day = weeks.column("uge_start").combine_chunks().view(pa.int32()).to_numpy(zero_copy_only=False)
    key = (text["person_id"][0].astype(np.int64) << _DAY_BITS) | day.astype(np.int64)
    order = np.argsort(key)  # (person, week) is the key: no ties
    key = key[order]
    later = np.minimum(np.searchsorted(key, key + DAYS_52_WEEKS), len(key) - 1)
    follow = np.where(key[later] == key + DAYS_52_WEEKS, order[later], -1)
    kept = day[order] + DAYS_52_WEEKS <= (last_monday - dt.date(1970, 1, 1)).days
    rows, follow = order[kept], follow[kept]
    by_year = np.argsort(number["aar"][rows], kind="stable")
    rows, follow = rows[by_year], follow[by_year]

    out = {"person_id": take(*text["person_id"], rows)}
    out.update({c: pa.array(number[c][rows]) for c in ("aar", "uge")})
    out["uge_start"] = pa.array(day[rows]).view(pa.date32())
    out["maaned"] = pa.array(number["maaned"][rows])
    out.update({c: take(*text[c], rows) for c in ("kommune", "ydelseskode", "ydelsesgruppe")})
    codes, code_values = text["ydelseskode"]
    out["ydelseskode_52"] = take(np.where(follow >= 0, codes[follow], -1), code_values, None)
    groups, group_values = text["ydelsesgruppe"]
    group = groups[rows]
    group_52 = np.where(follow >= 0, groups[follow], len(group_values))  # the next id: the blank group
    group_52[group_52 < 0] = len(group_values)  # a later week without a group counts as blank too
    blank_52 = group_52 == len(group_values)
    if blank in group_values.to_pylist():
        blank_52 |= group_52 == group_values.to_pylist().index(blank)
    out["ydelsesgruppe_52"] = take(group_52, pa.concat_arrays([group_values, pa.array([blank], group_values.type)]),
                                    None)
    state = np.where(blank_52, 0, np.where((group_52 == group) & (group >= 0), 1, 2)).astype(np.int32)
    out["modtagerstatus"] = pa.DictionaryArray.from_arrays(
        pa.array(state), pa.array([status["none"], status["same"], status["other"]]))
    return pa.table(out)
