"""The inner cells of the benchmark: every person-month with a benefit week in exactly one cell
(kommune x ydelsesgruppe x visitationsgruppe x aktivering), so every margin is an exact sum of persons.

The person months are found with numpy on whole persons' weeks, one person bucket of ``fact_dream`` per
Spark task (``dream.model.buckets``: no shuffle of the weeks); Spark counts them per cell."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.model.buckets import days, encoded, map_buckets, month_labels, month_numbers
from dream.model.weeks import month_label
from dream.reference.kommuner import UNKNOWN_KOMMUNE

DIMENSIONS = ["ydelsesgruppe", "visitationsgruppe", "aktivering"]
TOTAL = "I alt"
NOT_VISITED = "Ikke visiteret"
NOT_ACTIVATED = "Ikke aktiveret"
UNKNOWN_TYPE = "Uoplyst aktiveringstype"
RECIPIENTS, ACTIVATED, ACTIVATION_SPELLS, POPULATION = (
    "antal ydelsesmodtagere", "antal aktiverede", "antal aktiveringsforløb", "antal borgere 16-66 år")
INNER_COLUMNS = ["periode", "maal", "kommune", *DIMENSIONS, "antal", "personer"]


MONTH_INPUT = ["person_id", "uge_start", "ydelsesgruppe", "kommune", "visitationskategori", "aktiv", "aktiveringstype"]
MONTH_SCHEMA = ("person_id string, periode string, kommune string, ydelsesgruppe string, visitationsgruppe string, "
                "aktivering string")


def person_months_from_table(spark: SparkSession, fact_table: str, start: dt.date) -> DataFrame:
    """``person_months_of`` the Delta table at ``fact_table`` (``fact_dream``): one task per person bucket,
    reading only the years from ``start``'s on (a week's ISO year is its Thursday's); a table without person
    buckets is shuffled by person."""
    return map_buckets(spark, fact_table, MONTH_INPUT, functools.partial(person_months_of, start=start),
                       MONTH_SCHEMA, years_from=start.year)


def person_months_of(weeks: pa.Table, start: dt.date) -> pa.Table | None:
    """One row per person and month (by the week's Thursday, from ``start`` on) with a benefit week (a
    ``ydelsesgruppe``), from whole persons' weeks: kommune, ydelsesgruppe and visitationsgruppe of the LAST
    benefit week of the month, aktivering of the last ACTIVE one among them. With numpy: the weeks sorted by
    person and Monday; a month's row is its last week; its last active week is the latest active week at or
    before it in the same person and month (a running maximum of active row numbers)."""
    thursday = days(weeks, "uge_start").astype(np.int64) + 3
    weeks = weeks.filter(pc.and_(pc.is_valid(weeks.column("ydelsesgruppe")),
                                 pa.array(thursday >= (start - dt.date(1970, 1, 1)).days)))
    if not weeks.num_rows:
        return None
    person, _ = encoded(weeks.column("person_id"))
    day = days(weeks, "uge_start")
    order = np.lexsort((day, person))
    month = month_numbers(day[order].astype(np.int64) + 3)
    p = person[order]
    new_month = np.r_[True, (p[1:] != p[:-1]) | (month[1:] != month[:-1])]
    last = np.flatnonzero(np.r_[new_month[1:], True])
    row = np.arange(len(order))
    active = pc.fill_null(weeks.column("aktiv"), False).to_numpy(zero_copy_only=False)[order]
    month_start = np.maximum.accumulate(np.where(new_month, row, 0))
    latest_active = np.maximum.accumulate(np.where(active, row, -1))[last]
    activated = latest_active >= month_start[last]
    rows, active_rows = order[last], order[np.where(activated, latest_active, 0)]
    kind = weeks.column("aktiveringstype").cast(pa.string()).take(pa.array(active_rows))
    aktivering = pc.if_else(pa.array(activated), pc.coalesce(kind, pa.scalar(UNKNOWN_TYPE)),
                            pa.scalar(NOT_ACTIVATED))
    visited = pc.utf8_trim(weeks.column("visitationskategori").cast(pa.string()).take(pa.array(rows)), " ")
    return pa.table({
        "person_id": weeks.column("person_id").take(pa.array(rows)),
        "periode": month_labels(month[last]),
        "kommune": pc.coalesce(weeks.column("kommune").cast(pa.string()).take(pa.array(rows)),
                               pa.scalar(UNKNOWN_KOMMUNE)),
        "ydelsesgruppe": weeks.column("ydelsesgruppe").take(pa.array(rows)),
        "visitationsgruppe": pc.coalesce(visited, pa.scalar(NOT_VISITED)),
        "aktivering": aktivering,
    })


def _count(persons: DataFrame, maal: str) -> DataFrame:
    n = F.count(F.lit(1)).cast("long")
    return (persons.groupBy("periode", "kommune", *DIMENSIONS).agg(n.alias("antal"), n.alias("personer"))
            .withColumn("maal", F.lit(maal)).select(*INNER_COLUMNS))


def spell_cells(spells: DataFrame, months: DataFrame) -> DataFrame:
    """Activation spells starting in a month, in the cell their person has that month; ``personer`` the
    distinct persons behind them (the primary rule looks at those)."""
    starts = spells.select("person_id", month_label(F.col("start_uge_start")).alias("periode"))
    joined = starts.join(months, ["person_id", "periode"], "inner")
    return (joined.groupBy("periode", "kommune", *DIMENSIONS)
            .agg(F.count(F.lit(1)).cast("long").alias("antal"),
                 F.countDistinct("person_id").cast("long").alias("personer"))
            .withColumn("maal", F.lit(ACTIVATION_SPELLS)).select(*INNER_COLUMNS))


def inner_cells(months: DataFrame, spells: DataFrame) -> DataFrame:
    """The nonzero inner cells of the three person measures from the person months (``person_months_of``) and
    the activation spells, long: periode, maal, kommune, the dimensions, antal and personer. A cell's
    activated persons are its recipients when its ``aktivering`` is an activation: one count for both."""
    recipients = _count(months, RECIPIENTS).localCheckpoint()  # small; counted once for both measures
    activated = recipients.where(F.col("aktivering") != NOT_ACTIVATED).withColumn("maal", F.lit(ACTIVATED))
    return recipients.unionByName(activated).unionByName(spell_cells(spells, months)).select(*INNER_COLUMNS)
