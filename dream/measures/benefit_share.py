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

How: the weeks in the window are counted with range frames over the person's public-support weeks (one
shuffle, no self-join). The window ends at the month's last week E, the person's last week L of the month
is d = 0..4 weeks before E and has no support week after it in the month, so the count over [E - W + 1, E]
is the count over the frame [L - (W - 1 - d) weeks, L]: five frames, one chosen by d.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from dream.errors import ConfigError
from dream.measures.public_support import group_or_total, of_working_age
from dream.model.spells import DAYS_PER_WEEK, day_number
from dream.model.weeks import month_label

DEFAULT_WINDOW_WEEKS = 300
SHARE_LOW, SHARE_HIGH = 76, 100  # per cent: "mellem 76-100 % af perioden"
MAX_WEEKS_AFTER_LAST = 4  # a month has at most 5 weeks, so its last support week is at most 4 before its end
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


def with_window_counts(weeks: DataFrame, window_weeks: int, by_person: Window) -> DataFrame:
    """``n0`` .. ``n4``: support weeks in the frame [this week - (W - 1 - d) weeks, this week]."""
    for d in range(MAX_WEEKS_AFTER_LAST + 1):
        frame = by_person.rangeBetween(-DAYS_PER_WEEK * (window_weeks - 1 - d), 0)
        weeks = weeks.withColumn(f"n{d}", F.count(F.lit(1)).over(frame))
    return weeks


def weeks_in_window(weeks_before_end: Column) -> Column:
    """The frame count that ends the window at the month's end, for a last week ``weeks_before_end`` before it."""
    chosen = F.when(weeks_before_end == 0, F.col("n0"))
    for d in range(1, MAX_WEEKS_AFTER_LAST + 1):
        chosen = chosen.when(weeks_before_end == d, F.col(f"n{d}"))
    return chosen.cast("int")


def person_months(fact: DataFrame, dim_tid: DataFrame, window_weeks: int, first_monday: dt.date) -> DataFrame:
    """One row per person and month with a public-support week: the weeks on support in the window.
    The frames run over all the person's support weeks; only then are months without a whole window dropped."""
    by_person = Window.partitionBy("person_id").orderBy("dag")
    weeks = (fact.where(F.col("offentlig_forsoergelse"))
             .select("person_id", "uge_start", "kommune", "ydelsesgruppe", "alder",
                     month_label(F.col("uge_start")).alias("periode"), day_number(F.col("uge_start")).alias("dag")))
    last_of_month = F.coalesce(F.lead("periode").over(by_person) != F.col("periode"), F.lit(True))
    before_end = (F.datediff("vindue_slut", "uge_start") / DAYS_PER_WEEK).cast("int")
    return (with_window_counts(weeks, window_weeks, by_person)
            .withColumn("sidst_i_maaned", last_of_month)  # a window function cannot sit in a filter
            .where(F.col("sidst_i_maaned") & of_working_age(F.col("alder")))
            .join(F.broadcast(month_windows(dim_tid, window_weeks, first_monday)), "periode")
            .select("person_id", "periode", "kommune", "ydelsesgruppe", "vindue_start", "vindue_slut",
                    weeks_in_window(before_end).alias("uger")))


def summarise(rows: DataFrame, window_weeks: int) -> DataFrame:
    """Per cell, for each group and for all groups at once (one grouping-sets aggregate, one pass)."""
    keys = ["periode", "kommune", "vindue_start", "vindue_slut"]
    high = F.col("uger") * 100 >= SHARE_LOW * window_weeks
    return (rows.groupingSets([[*keys, "ydelsesgruppe"], keys], *keys, "ydelsesgruppe")
            .agg(F.count(F.lit(1)).alias("antal_personer"), F.avg("uger").alias("gns_uger"),
                 (F.avg("uger") / window_weeks).alias("gns_andel"), F.count(F.when(high, 1)).alias("antal_76_100"),
                 (F.grouping("ydelsesgruppe") == 1).alias("i_alt"))
            .withColumn("ydelsesgruppe", group_or_total(F.col("ydelsesgruppe"), F.col("i_alt"))))


def build_benefit_share(fact: DataFrame, dim_tid: DataFrame, first_monday: dt.date,
                        window_weeks: int = DEFAULT_WINDOW_WEEKS) -> DataFrame:
    check_window(window_weeks)
    rows = person_months(fact, dim_tid, window_weeks, first_monday)
    return summarise(rows, window_weeks).select(
        "periode", "kommune", "ydelsesgruppe", F.lit(window_weeks).alias("vindue_uger"), "vindue_start",
        "vindue_slut", "antal_personer", "gns_uger", "gns_andel", "antal_76_100",
        (F.col("antal_76_100") / F.col("antal_personer")).alias("andel_76_100"),
    ).select(*ANDEL_COLUMNS)
