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

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.model.buckets import days, encoded, map_buckets, map_persons, month_labels, month_numbers, take
from dream.model.weeks import month_label
from dream.reference.codes import public_support_total

AGE_MIN, AGE_MAX = 16, 66
POPULATION_COLUMNS = {"kommune": "string", "aar": "int", "alder": "int", "antal": "bigint"}
SUPPORT_INPUT = ["person_id", "uge_start", "kommune", "ydelsesgruppe", "offentlig_forsoergelse", "alder"]
CELL_SCHEMA = "periode string, kommune string, ydelsesgruppe string, ydelsesuger long, antal_personer long"
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


def support_cells_of(weeks: pa.Table, total: str) -> pa.Table | None:
    """Per month (of the Thursday), municipality and group, and per month and municipality for all groups
    (``total``): the person-weeks on public support aged 16-66 and the distinct persons with such a week,
    of whole persons' weeks (``SUPPORT_INPUT``; a person's weeks are all in ``weeks`` or none are), so that
    the counts of several such tables add up. A person in two groups is one person in the all-groups row."""
    support = pc.fill_null(weeks.column("offentlig_forsoergelse").combine_chunks(), False)
    age = weeks.column("alder").combine_chunks()
    working_age = pc.fill_null(pc.and_(pc.greater_equal(age, AGE_MIN), pc.less_equal(age, AGE_MAX)), False)
    rows = np.flatnonzero(pc.and_(support, working_age).to_numpy(zero_copy_only=False))
    if not len(rows):
        return None
    month = month_numbers(days(weeks, "uge_start")[rows] + 3)
    person, _ = encoded(weeks.column("person_id"))
    kommune, kommune_values = encoded(weeks.column("kommune"))
    group, group_values = encoded(weeks.column("ydelsesgruppe"))
    # The group as a label index: 0 all groups, 1 no group (null), 2 + the group's index.
    person, kommune, group = (a[rows].astype(np.int64) for a in (person, kommune, group + 2))
    parts = [_counted(month, kommune, g, person) for g in (group, np.zeros_like(group))]
    cells = np.concatenate([p[0] for p in parts], axis=1)
    labels = pa.concat_arrays([pa.array([total], pa.string()), pa.array([None], pa.string()),
                               group_values.cast(pa.string())])
    return pa.table({
        "periode": month_labels(cells[0]), "kommune": take(cells[1].astype(np.int32), kommune_values, None),
        "ydelsesgruppe": take(cells[2].astype(np.int32), labels, None),
        "ydelsesuger": pa.array(np.concatenate([p[1] for p in parts])),
        "antal_personer": pa.array(np.concatenate([p[2] for p in parts])),
    })


def _counted(month: np.ndarray, kommune: np.ndarray, group: np.ndarray, person: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (month, municipality, group) cells with rows (3 x cells; municipality -1: none), and per cell its
    rows and its persons. A cell's number counts the months from the first, the municipalities (none first)
    and the groups: a few hundred thousand numbers at most, so its rows are a ``bincount``; only the distinct
    (cell, person) pairs need a sort."""
    first, kommuner, groups = int(month.min()), int(kommune.max()) + 2, int(group.max()) + 1
    cell = ((month - first) * kommuner + kommune + 1) * groups + group
    size = (int(month.max()) - first + 1) * kommuner * groups
    rows_per_cell = np.bincount(cell, minlength=size)
    persons = int(person.max()) + 1
    persons_per_cell = np.bincount(np.unique(cell * persons + person) // persons, minlength=size)
    cells = np.flatnonzero(rows_per_cell)
    return (np.stack([cells // (kommuner * groups) + first, cells // groups % kommuner - 1, cells % groups]),
            rows_per_cell[cells], persons_per_cell[cells])


def build_public_support(fact: DataFrame, dim_tid: DataFrame, population: DataFrame | None) -> DataFrame:
    """``population``: the ``befolkning`` table, or None when the warehouse has none. ``fact``'s rows are
    shuffled by person and counted with numpy (``support_cells_of``)."""
    cells = map_persons(fact.select(*SUPPORT_INPUT), _cells_function(), CELL_SCHEMA)
    return _published(cells, dim_tid, population)


def public_support_from_table(spark: SparkSession, fact_table: str, dim_tid: DataFrame,
                              population: DataFrame | None) -> DataFrame:
    """``build_public_support`` of the Delta table at ``fact_table``: one task per person bucket, no shuffle."""
    cells = map_buckets(spark, fact_table, SUPPORT_INPUT, _cells_function(), CELL_SCHEMA)
    return _published(cells, dim_tid, population)


def _cells_function():
    return functools.partial(support_cells_of, total=public_support_total())


def _published(person_cells: DataFrame, dim_tid: DataFrame, population: DataFrame | None) -> DataFrame:
    """The tasks' counts summed per cell, with the weeks of the month, the population and the shares."""
    cells = (person_cells.groupBy("periode", "kommune", "ydelsesgruppe")
             .agg(F.sum("ydelsesuger").alias("ydelsesuger"), F.sum("antal_personer").alias("antal_personer"))
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
