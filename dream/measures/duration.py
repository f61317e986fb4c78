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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import SparkSession

from dream.model.buckets import encoded, map_buckets, take
from dream.reference.codes import DurationInterval, duration_intervals

VARIGHED_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "inddeling", "sortering", "varighed", "dage_fra",
                    "dage_til", "antal_personer"]
VARIGHED_ARROW = pa.schema([("periode", pa.string()), ("kommune", pa.string()), ("ydelsesgruppe", pa.string()),
                            ("inddeling", pa.string()), ("sortering", pa.int32()), ("varighed", pa.string()),
                            ("dage_fra", pa.int32()), ("dage_til", pa.int32()), ("antal_personer", pa.int64())])
_CELL = ["periode", "kommune", "ydelsesgruppe"]
VARIGHED_STATS = [*_CELL, "inddeling"]
COUNT_SCHEMA = "periode string, kommune string, ydelsesgruppe string, sortering int, antal_personer long"


def interval_numbers(days: np.ndarray, known: np.ndarray, intervals: list[DurationInterval]) -> np.ndarray:
    """Per row, the ``sortering`` of the interval among ``intervals`` (of one inddeling: they do not overlap)
    that holds its ``days``; -1 when none does or the days are not ``known``."""
    chosen = np.full(len(days), -1, np.int32)
    for i in intervals:
        inside = known & (days >= i.fra) & (chosen < 0)
        if i.til is not None:
            inside &= days <= i.til
        chosen[inside] = i.sortering
    return chosen


def duration_counts_of(rows: pa.Table) -> pa.Table:
    """``COUNT_SCHEMA`` of ``fact_forloeb_maaned`` rows (``periode``, ``kommune``, ``ydelsesgruppe``,
    ``dage``): each row counted in its interval of every inddeling."""
    texts = [encoded(rows.column(c)) for c in _CELL]
    dage = rows.column("dage").combine_chunks()
    known = dage.is_valid().to_numpy(zero_copy_only=False)
    days = pc.fill_null(dage, 0).to_numpy(zero_copy_only=False)
    cell = np.zeros(rows.num_rows, np.int64)
    for index, values in texts:  # null (-1) is a value of its own, as in a GROUP BY
        cell = cell * (len(values) + 1) + index + 1
    by_inddeling: dict[str, list[DurationInterval]] = {}
    for i in duration_intervals():
        by_inddeling.setdefault(i.inddeling, []).append(i)
    cells, sorterings = [], []
    for intervals in by_inddeling.values():
        chosen = interval_numbers(days, known, intervals)
        counted = chosen >= 0
        cells.append(cell[counted])
        sorterings.append(chosen[counted])
    key = np.concatenate(cells) * 64 + np.concatenate(sorterings)
    distinct, counts = np.unique(key, return_counts=True)
    sortering, rest = (distinct % 64).astype(np.int32), distinct // 64
    columns = {}
    for name, (_, values) in reversed(list(zip(_CELL, texts))):
        columns[name] = take((rest % (len(values) + 1) - 1).astype(np.int32), values, None)
        rest //= len(values) + 1
    return pa.table({**{c: columns[c] for c in _CELL}, "sortering": sortering, "antal_personer": counts})


def build_duration(spark: SparkSession, months: str) -> pa.Table:
    """``maaling_varighed`` (``VARIGHED_ARROW``) of the ``fact_forloeb_maaned`` table at ``months`` (one row
    per person, group and month): each row is counted in its interval of every inddeling with numpy, a year
    of the table per Spark task (``duration_counts_of``); the counts (cells: months x municipalities x groups
    x 19 intervals, not persons) are summed on the driver and get their interval's columns."""
    counts = map_buckets(spark, months, ["person_id", *_CELL, "dage"], duration_counts_of, COUNT_SCHEMA,
                         by="aar").toArrow()
    summed = counts.group_by([*_CELL, "sortering"]).aggregate([("antal_personer", "sum")])
    intervals = duration_intervals()
    at = pa.array(np.searchsorted([i.sortering for i in intervals], summed.column("sortering").to_numpy()))

    def of_interval(values: list, kind: pa.DataType) -> pa.Array:
        return pa.array(values, kind).take(at)
    return pa.table({
        **{c: summed.column(c) for c in _CELL},
        "inddeling": of_interval([i.inddeling for i in intervals], pa.string()),
        "sortering": summed.column("sortering"),
        "varighed": of_interval([i.varighed for i in intervals], pa.string()),
        "dage_fra": of_interval([i.fra for i in intervals], pa.int32()),
        "dage_til": of_interval([i.til for i in intervals], pa.int32()),
        "antal_personer": summed.column("antal_personer_sum")}).cast(VARIGHED_ARROW)
