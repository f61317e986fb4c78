"""``maaling_andel_paa_ydelse``: the share of a long window spent on public support, per municipality, month
and group (seed 002: "Varighed af off. ydelse ... (300 uger): gns. varighed (pct. af perioden), gns.
varighed (uger), andel med en varighed mellem 76-100 % af perioden").

Definition
- Population of a month: the persons aged 16-66 with at least one week on public support in the month
  (weeks by their Thursday; public support as in ``maaling_offentlig_forsoergelse``). Municipality, group
  and age are those of the person's last public-support week in the month; each person counts once per
  month, in one group and in the all-groups row ``Offentlig forsørgelse i alt``.
- Window: the ``vindue_uger`` calendar weeks (default 300) ending with the month's last delivered week.
  Months whose window begins before the first delivered week are left out: their share is unknown.
- ``uger``: the person's weeks on public support inside the window; ``andel`` = uger / vindue_uger.
- Published: the number of persons, the average weeks and share, and the number and share of persons with
  a share of 76-100 % (uger * 100 >= 76 * vindue_uger).

How: with numpy on whole persons' weeks, one person bucket of ``fact_dream`` per Spark task
(``dream.model.buckets``; no shuffle): the person's public-support weeks sorted by Monday, the last one L of
each month, and the count over the window by a binary search. The window ends at the month's last week E
and no support week of the person lies between L and E (L is the last of the month), so the count over
[E - W + 1, E] is the count over [E - W + 1, L]. Each task sums its persons per cell; Spark sums the cells.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.errors import ConfigError
from dream.measures.public_support import AGE_MAX, AGE_MIN, group_or_total
from dream.model.buckets import days, encoded, map_buckets, map_persons, numbers
from dream.model.spells import DAYS_PER_WEEK
from dream.model.weeks import month_label

DEFAULT_WINDOW_WEEKS = 300
SHARE_LOW, SHARE_HIGH = 76, 100  # per cent: "mellem 76-100 % af perioden"
MAX_WEEKS_AFTER_LAST = 4  # a month has at most 5 weeks, so its last support week is at most 4 before its end
SHARE_INPUT = ["person_id", "aar", "maaned", "uge_start", "kommune", "ydelsesgruppe", "alder",
               "offentlig_forsoergelse"]
SHARE_CELL_SCHEMA = ("periode string, kommune string, ydelsesgruppe string, vindue_start date, vindue_slut date, "
                     "personer long, uger long, personer_76_100 long")
_CELL_KEYS = ["periode", "kommune", "ydelsesgruppe", "vindue_start", "vindue_slut"]
ANDEL_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "vindue_uger", "vindue_start", "vindue_slut",
                 "antal_personer", "gns_uger", "gns_andel", "antal_76_100", "andel_76_100"]


def check_window(window_weeks: int) -> None:
    if not isinstance(window_weeks, int) or window_weeks <= MAX_WEEKS_AFTER_LAST:
        raise ConfigError(f"window_weeks must be a whole number of weeks above {MAX_WEEKS_AFTER_LAST} "
                          f"(seed 002 uses {DEFAULT_WINDOW_WEEKS}), got {window_weeks!r}")


def month_windows(dim_tid: DataFrame, window_weeks: int, first_monday: dt.date) -> DataFrame:
    """Per month: the Monday of its last delivered week and of the window's first week; months whose window
    is not wholly delivered are dropped."""
    ends = (dim_tid.groupBy(month_label(F.col("uge_start")).alias("periode"))
            .agg(F.max("uge_start").alias("vindue_slut")))
    return (ends.withColumn("vindue_start", F.date_sub("vindue_slut", DAYS_PER_WEEK * (window_weeks - 1)))
            .where(F.col("vindue_start") >= F.lit(first_monday)))


def windows_by_month(dim_tid: DataFrame, window_weeks: int,
                     first_monday: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """``month_windows`` on the driver: 'YYYY-MM' -> (window start, window end) (one row per month)."""
    return {r.periode: (r.vindue_start, r.vindue_slut)
            for r in month_windows(dim_tid, window_weeks, first_monday).collect()}


def share_cells(fact: DataFrame, dim_tid: DataFrame, window_weeks: int, first_monday: dt.date) -> DataFrame:
    """``counted_cells`` of any DataFrame of weeks, shuffled by person."""
    counted = functools.partial(counted_cells, windows=windows_by_month(dim_tid, window_weeks, first_monday),
                                window_weeks=window_weeks)
    return map_persons(fact.select(*SHARE_INPUT), counted, SHARE_CELL_SCHEMA)


def counted_months(weeks: pa.Table, windows: dict[str, tuple[dt.date, dt.date]]) -> pa.Table | None:
    """One row per person and month of whole persons' weeks (``SHARE_INPUT``): the person's last public-support
    week of each month (the month of its Thursday: ``maaned`` of the ISO year ``aar``) at working age, in a
    month with a whole window, and the person's support weeks from the window's start up to that week."""
    weeks = weeks.filter(pc.fill_null(weeks.column("offentlig_forsoergelse"), False))
    if not weeks.num_rows:
        return None
    person, _ = encoded(weeks.column("person_id"))
    day = days(weeks, "uge_start")
    key = (person.astype(np.int64) << 32) | (day.astype(np.int64) + 2**31)  # (person, Monday): the key
    order = np.argsort(key)
    key, month = key[order], (numbers(weeks, "aar") * 12 + numbers(weeks, "maaned") - 1)[order]
    last = np.r_[(key[1:] >> 32 != key[:-1] >> 32) | (month[1:] != month[:-1]), True]
    first_month = int(month.min())
    labels = [f"{m // 12}-{m % 12 + 1:02d}" for m in range(first_month, int(month.max()) + 1)]
    epoch = dt.date(1970, 1, 1)
    start = np.array([(windows[x][0] - epoch).days if x in windows else -1 for x in labels], np.int64)
    end = np.array([(windows[x][1] - epoch).days if x in windows else -1 for x in labels], np.int64)
    age = weeks.column("alder").combine_chunks().take(pa.array(order))
    adult = pc.fill_null(pc.and_(pc.greater_equal(age, AGE_MIN), pc.less_equal(age, AGE_MAX)), False)
    kept = np.flatnonzero(last & adult.to_numpy(zero_copy_only=False) & (start[month - first_month] >= 0))
    m = month[kept] - first_month
    from_start = np.searchsorted(key, ((key[kept] >> 32) << 32) | (start[m] + 2**31))
    rows = pa.array(order[kept])
    return pa.table({
        "person_id": weeks.column("person_id").take(rows),
        "periode": pa.DictionaryArray.from_arrays(pa.array(m.astype(np.int32)), pa.array(labels, pa.string())),
        "kommune": weeks.column("kommune").take(rows), "ydelsesgruppe": weeks.column("ydelsesgruppe").take(rows),
        "vindue_start": pa.array(start[m].astype(np.int32)).view(pa.date32()),
        "vindue_slut": pa.array(end[m].astype(np.int32)).view(pa.date32()),
        "uger": pa.array((kept + 1 - from_start).astype(np.int32)),
    })


def counted_cells(weeks: pa.Table, windows: dict[str, tuple[dt.date, dt.date]], window_weeks: int) -> pa.Table | None:
    """``counted_months`` summed per cell (month, municipality, group, window) of these persons: the persons,
    their weeks in the window, and the persons with a share of 76-100 %. Whole persons' weeks, so the cells
    of several such tables add up; only these counts, not a row per person and month, go on to Spark."""
    months = counted_months(weeks, windows)
    if months is None:
        return None
    high = pc.greater_equal(pc.multiply(months.column("uger"), 100), SHARE_LOW * window_weeks)
    counted = months.select(_CELL_KEYS).append_column("uger", months.column("uger").cast(pa.int64())) \
        .append_column("hoej", high.cast(pa.int64()))
    summed = counted.group_by(_CELL_KEYS).aggregate([("uger", "count", pc.CountOptions(mode="all")),
                                                     ("uger", "sum"), ("hoej", "sum")])
    return pa.table({**{c: summed.column(c) for c in _CELL_KEYS}, "personer": summed.column("uger_count"),
                     "uger": summed.column("uger_sum"), "personer_76_100": summed.column("hoej_sum")})


def summarise(cells: DataFrame, window_weeks: int) -> DataFrame:
    """The cells of ``counted_cells`` summed, for each group and for all groups at once (one grouping-sets
    aggregate, one pass). The average is the summed weeks over the persons, as ``avg`` of the persons' weeks
    (whole numbers: the sum is exact)."""
    keys = ["periode", "kommune", "vindue_start", "vindue_slut"]
    average = F.sum("uger").cast("double") / F.sum("personer")
    return (cells.groupingSets([[*keys, "ydelsesgruppe"], keys], *keys, "ydelsesgruppe")
            .agg(F.sum("personer").alias("antal_personer"), average.alias("gns_uger"),
                 (average / window_weeks).alias("gns_andel"), F.sum("personer_76_100").alias("antal_76_100"),
                 (F.grouping("ydelsesgruppe") == 1).alias("i_alt"))
            .withColumn("ydelsesgruppe", group_or_total(F.col("ydelsesgruppe"), F.col("i_alt"))))


def build_benefit_share(fact: DataFrame, dim_tid: DataFrame, first_monday: dt.date,
                        window_weeks: int = DEFAULT_WINDOW_WEEKS) -> DataFrame:
    check_window(window_weeks)
    return _published(summarise(share_cells(fact, dim_tid, window_weeks, first_monday), window_weeks),
                      window_weeks)


def benefit_share_from_table(spark: SparkSession, fact_table: str, dim_tid: DataFrame, first_monday: dt.date,
                             window_weeks: int = DEFAULT_WINDOW_WEEKS) -> DataFrame:
    """``build_benefit_share`` of the Delta table at ``fact_table``: one task per person bucket, no shuffle."""
    check_window(window_weeks)
    counted = functools.partial(counted_cells, windows=windows_by_month(dim_tid, window_weeks, first_monday),
                                window_weeks=window_weeks)
    cells = map_buckets(spark, fact_table, SHARE_INPUT, counted, SHARE_CELL_SCHEMA)
    return _published(summarise(cells, window_weeks), window_weeks)


def _published(cells: DataFrame, window_weeks: int) -> DataFrame:
    return cells.select(
        "periode", "kommune", "ydelsesgruppe", F.lit(window_weeks).alias("vindue_uger"), "vindue_start",
        "vindue_slut", "antal_personer", "gns_uger", "gns_andel", "antal_76_100",
        (F.col("antal_76_100") / F.col("antal_personer")).alias("andel_76_100"),
    ).select(*ANDEL_COLUMNS)
