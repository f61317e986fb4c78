"""The inner cells of the benchmark: every person-month with a benefit week in exactly one cell
(kommune x ydelsesgruppe x visitationsgruppe x aktivering), so every margin is an exact sum of persons.

The person months are found with numpy on whole persons' weeks, one person bucket of ``fact_dream`` per
Spark task (``dream.model.buckets``: no shuffle of the weeks), and counted per cell in the same task with
pyarrow, the activation spells too (``inner_cells_of``). A person's months are all in one task, so the
tasks' counts (distinct persons too) add up; Spark sums them. No row per person leaves the task."""

from __future__ import annotations

import datetime as dt

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


CELL_KEYS = ["periode", "kommune", *DIMENSIONS]
SPELL_MONTHS = pa.schema([("person_id", pa.string()), ("periode", pa.string())])
COUNTED_SCHEMA = ("periode string, maal string, kommune string, ydelsesgruppe string, visitationsgruppe string, "
                  "aktivering string, antal long, personer long")


def inner_cells_of(weeks: pa.Table, start: dt.date, spell_months: pa.Table) -> pa.Table | None:
    """The inner cells of whole persons' weeks (``MONTH_INPUT``): per cell of ``person_months_of``, the
    recipients (``antal`` = ``personer`` = their person months) and the activation spells starting in the
    month (``spell_months``: person_id and periode of every spell; a spell counts in the cell its person has
    that month, and not where the person has no benefit that month): ``antal`` the spells, ``personer`` the
    distinct persons behind them. Columns as ``COUNTED_SCHEMA``, one row per nonzero cell and measure."""
    months = person_months_of(weeks, start)
    if months is None:
        return None
    months = months.cast(pa.schema([(name, pa.string()) for name in months.column_names]))
    recipients = months.group_by(CELL_KEYS).aggregate([([], "count_all")])
    spells = spell_months.join(months, ["person_id", "periode"], join_type="inner").group_by(CELL_KEYS).aggregate(
        [([], "count_all"), ("person_id", "count_distinct")])
    recipients = recipients.append_column("personer", recipients.column("count_all"))
    return pa.concat_tables([
        _measure(recipients, RECIPIENTS, "count_all", "personer"),
        _measure(spells, ACTIVATION_SPELLS, "count_all", "person_id_count_distinct"),
    ])


def _measure(counted: pa.Table, maal: str, antal: str, personer: str) -> pa.Table:
    return pa.table({
        "periode": counted.column("periode"), "maal": pa.array([maal] * counted.num_rows, pa.string()),
        **{key: counted.column(key) for key in CELL_KEYS[1:]},
        "antal": counted.column(antal).cast(pa.int64()), "personer": counted.column(personer).cast(pa.int64()),
    })


def inner_cells_from_table(spark: SparkSession, fact_table: str, start: dt.date, spells: DataFrame) -> DataFrame:
    """The nonzero inner cells of the three person measures, long: periode, maal, kommune, the dimensions,
    antal and personer. ``inner_cells_of`` in one task per person bucket of ``fact_table`` (``fact_dream``),
    reading only the years from ``start``'s on (a week's ISO year is its Thursday's; a table without person
    buckets is shuffled by person), with the months of ``spells`` (the activation spells starting from
    ``start`` on) collected and broadcast; the tasks' counts summed per cell. A cell's activated persons are
    its recipients when its ``aktivering`` is an activation: one count for both."""
    spell_months = spells.select("person_id", month_label(F.col("start_uge_start")).alias("periode")).toArrow()
    shared = spark.sparkContext.broadcast(spell_months.cast(SPELL_MONTHS))

    def counted(weeks: pa.Table) -> pa.Table | None:
        return inner_cells_of(weeks, start, shared.value)

    cells = (map_buckets(spark, fact_table, MONTH_INPUT, counted, COUNTED_SCHEMA, years_from=start.year)
             .groupBy("periode", "maal", "kommune", *DIMENSIONS)
             .agg(F.sum("antal").alias("antal"), F.sum("personer").alias("personer"))
             .localCheckpoint())  # small; the recipients are counted once for two measures
    shared.destroy()  # the checkpoint holds the counts: the spells' months are not read again
    activated = (cells.where((F.col("maal") == RECIPIENTS) & (F.col("aktivering") != NOT_ACTIVATED))
                 .withColumn("maal", F.lit(ACTIVATED)))
    return cells.unionByName(activated).select(*INNER_COLUMNS)
