"""``noegletal``: the 24 key figures (seed 000 §8): for 8 groups the number and share of recipients who
52 weeks later still receive the benefit, receive another, or receive none; plus the "udvalgte ydelser"
figures (seed 000 §7.1.1), where "the same" means any of the selected groups.

Antal borgere is a distinct count of persons at every grain (seed 000 §7.1.1: never a sum of weeks):
- per week, a recipient is one person-week, so rows are persons;
- per month (weeks belong to the month of their Thursday), a person counts once per group, with the
  status of their LAST week in that group in the month (and that week's municipality).
Censored weeks (follow-up past the delivery) are not in ``overgang_52`` and so not counted: the three
statuses add up to the recipients in every cell. Municipality cells are counted from the person rows; as
each such row lies in exactly one municipality, a region's or the country's count is the sum of its
municipalities' counts: still a count of distinct persons, not a sum over weeks.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from dream.model.buckets import days, encoded, map_buckets, numbers
from dream.model.buckets import take as take_text
from dream.reference.codes import blank_group, key_figure_groups, recipient_status, selected_groups
from dream.reference.kommuner import LAND

NOEGLETAL_COLUMNS = ["periodetype", "periode", "niveau", "omraade", "ydelsesgruppe", "antal_borgere",
                     "antal_fortsat", "antal_anden", "antal_ikke_laengere",
                     "andel_fortsat", "andel_anden", "andel_ikke_laengere"]
COUNTS = ["antal_borgere", "antal_fortsat", "antal_anden", "antal_ikke_laengere"]


INPUT_COLUMNS = ["person_id", "aar", "uge", "uge_start", "maaned", "kommune", "ydelsesgruppe", "ydelsesgruppe_52",
                 "modtagerstatus"]
COUNT_SCHEMA = ("periodetype string, aar int, nummer int, kommune string, ydelsesgruppe string, antal_borgere long, "
                "antal_fortsat long, antal_anden long, antal_ikke_laengere long")
_STATUSES = ("same", "other", "none")  # the order of antal_fortsat, antal_anden, antal_ikke_laengere


def key_figure_counts_of(rows: pa.Table) -> pa.Table:
    """The municipality counts (``COUNT_SCHEMA``) of ``overgang_52`` rows holding every row of each of their
    persons in each of their years. A row counts for its group when that is one of the 8 key-figure groups
    (with its status), and for the selected groups' pooled group when it is one of those (its status: still
    in a selected group, in another, in none). Per week (``nummer`` the week) each such row is one person;
    per month (``nummer`` the month of the Thursday) a person counts once per group, with the municipality
    and status of their last week in that group in the month."""
    groups = key_figure_groups()
    pooled, selected = selected_groups()
    person, _ = encoded(rows.column("person_id"))
    group, group_values = encoded(rows.column("ydelsesgruppe"))
    later, later_values = encoded(rows.column("ydelsesgruppe_52"))
    kommune, kommune_values = encoded(rows.column("kommune"))
    state, state_values = encoded(rows.column("modtagerstatus"))
    code = {recipient_status()[k]: i for i, k in enumerate(_STATUSES)}
    status = _lookup(state, [code.get(v, -1) for v in state_values.to_pylist()], -1)
    own = _lookup(group, [groups.index(g) if g in groups else -1 for g in group_values.to_pylist()], -1)
    in_selected = _lookup(group, [g in selected for g in group_values.to_pylist()], False)
    pooled_status = _lookup(later, [2 if g == blank_group() else 0 if g in selected else 1
                                    for g in later_values.to_pylist()], 2)
    # The subjects: a row per (person-week, counted group).
    mine, pool = np.flatnonzero(own >= 0), np.flatnonzero(in_selected)
    subjects = np.concatenate([mine, pool])
    subject_group = np.concatenate([own[mine], np.full(len(pool), len(groups))])
    subject_status = np.concatenate([status[mine], pooled_status[pool]])
    year, week, month, day = (c[subjects] for c in (numbers(rows, "aar"), numbers(rows, "uge"),
                                                    numbers(rows, "maaned"), days(rows, "uge_start")))
    subject_kommune, subject_person = kommune[subjects], person[subjects].astype(np.int64)
    weekly = _counted(year, week, subject_kommune, subject_group, subject_status)
    # Per month: the last week of each (person, group, year, month), after sorting by person, group and day.
    order = np.argsort((subject_person << 26) | (subject_group.astype(np.int64) << 21) | day, kind="stable")
    segment = (subject_person * 16 + subject_group) * 10_000 * 13 + year * 13 + month
    last = order[np.flatnonzero(np.append(segment[order][1:] != segment[order][:-1], True))]
    monthly = _counted(year[last], month[last], subject_kommune[last], subject_group[last], subject_status[last])
    names = pa.array([*groups, pooled], pa.string())
    parts = []
    for grain, (cells, counts) in (("uge", weekly), ("maaned", monthly)):
        parts.append(pa.table({
            "periodetype": pa.array([grain] * len(counts), pa.string()), "aar": pa.array(cells[0], pa.int32()),
            "nummer": pa.array(cells[1], pa.int32()), "kommune": take_text(cells[2], kommune_values, None),
            "ydelsesgruppe": take_text(cells[3], names, None),
            **{name: pa.array(counts[:, i]) for i, name in enumerate(COUNTS)}}))
    return pa.concat_tables(parts)


def _lookup(index: np.ndarray, per_value: list, missing) -> np.ndarray:
    """``per_value[index]`` per row; ``missing`` where the index is -1 (a null)."""
    return np.array([*per_value, missing])[index]


def _counted(year: np.ndarray, period: np.ndarray, kommune: np.ndarray, group: np.ndarray, status: np.ndarray
             ) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct (year, period, municipality, group) cells, and per cell its rows in all and per status."""
    key = ((year.astype(np.int64) * 64 + period) << 32) | (kommune.astype(np.int64) << 8) | group
    cells, inverse = np.unique(key, return_inverse=True)
    counts = np.zeros((len(cells), 4), np.int64)
    counts[:, 0] = np.bincount(inverse, minlength=len(cells))
    for code in range(3):
        counts[:, code + 1] = np.bincount(inverse[status == code], minlength=len(cells))
    return [(cells >> 32) // 64, (cells >> 32) % 64, (cells >> 8) & 0xFFFFFF, cells & 0xFF], counts


NOEGLETAL_ARROW = pa.schema([*[(c, pa.string()) for c in NOEGLETAL_COLUMNS[:5]], *[(c, pa.int64()) for c in COUNTS],
                             *[(c, pa.float64()) for c in NOEGLETAL_COLUMNS[9:]]])
NOEGLETAL_PARTITIONS = ["periodetype"]
NOEGLETAL_STATS = ["periode", "niveau", "omraade", "ydelsesgruppe"]
_CELL = ["periodetype", "aar", "nummer"]  # with an area and the group: a cell of counts


def key_figures_of(counts: pa.Table, regions: dict[str, str | None]) -> pa.Table:
    """``noegletal`` (``NOEGLETAL_ARROW``) from municipality counts (``COUNT_SCHEMA``; a cell may come in
    several rows, which are summed): the municipality cells, and per region (``regions``: kommune -> region;
    a kommune without one counts for the region NULL) and for the country ("DK") the sums of those (small)
    cells; ``periode`` labelled 'YYYY-Www' per week, 'YYYY-MM' per month; the shares of ``antal_borgere``."""
    municipal = _summed(counts, [*_CELL, "kommune", "ydelsesgruppe"])
    kommune = municipal.column("kommune").combine_chunks()
    distinct = pc.unique(kommune)
    region = pa.array([regions.get(k) for k in distinct.to_pylist()], pa.string()).take(pc.index_in(kommune, distinct))
    municipal = municipal.append_column("region", region)
    levels = [(municipal, "kommune", "kommune"),
              (_summed(municipal, [*_CELL, "region", "ydelsesgruppe"]), "region", "region"),
              (_summed(municipal, [*_CELL, "ydelsesgruppe"]), "land", None)]
    parts = [pa.table({**{c: cells.column(c) for c in _CELL}, "niveau": pa.array([level] * cells.num_rows, pa.string()),
                       "omraade": cells.column(area) if area else pa.array([LAND] * cells.num_rows, pa.string()),
                       "ydelsesgruppe": cells.column("ydelsesgruppe"), **{c: cells.column(c) for c in COUNTS}})
             for cells, level, area in levels]
    cells = pa.concat_tables(parts).combine_chunks()
    recipients = cells.column("antal_borgere").to_numpy().astype(np.float64)
    return pa.table({"periodetype": cells.column("periodetype"), "periode": _period_labels(cells),
                     **{c: cells.column(c) for c in ["niveau", "omraade", "ydelsesgruppe", *COUNTS]},
                     **{f"andel_{k}": pa.array(cells.column(f"antal_{k}").to_numpy() / recipients)
                        for k in ("fortsat", "anden", "ikke_laengere")}}).cast(NOEGLETAL_ARROW)


def _summed(counts: pa.Table, keys: list[str]) -> pa.Table:
    """The ``COUNTS`` summed per distinct ``keys`` (null a key of its own)."""
    summed = counts.group_by(keys).aggregate([(c, "sum") for c in COUNTS])
    return pa.table({**{k: summed.column(k) for k in keys}, **{c: summed.column(f"{c}_sum") for c in COUNTS}})


def _period_labels(cells: pa.Table) -> pa.DictionaryArray:
    """'YYYY-Www' (``week_label``) of a week's cell, 'YYYY-MM' of a month's: one label per distinct period."""
    weekly = pc.equal(cells.column("periodetype"), "uge").to_numpy(zero_copy_only=False)
    year, number = (cells.column(c).to_numpy().astype(np.int64) for c in ("aar", "nummer"))
    distinct, index = np.unique((year * 100 + number) * 2 + weekly, return_inverse=True)
    labels = [f"{k // 200}-W{k // 2 % 100:02d}" if k % 2 else f"{k // 200}-{k // 2 % 100:02d}"
              for k in distinct.tolist()]
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), pa.array(labels, pa.string()))


def build_key_figures(spark: SparkSession, overgang: str, dim_kommune: DataFrame) -> pa.Table:
    """``noegletal`` of the ``overgang_52`` table at ``overgang``: its rows are counted with numpy one year
    per Spark task (read from that year's files; a table without the year partitioning is shuffled by
    person instead); the counts (municipality cells: bounded by weeks x municipalities x groups, not by
    persons) are collected and summed, labelled and given their regions on the driver (``key_figures_of``)."""
    counts = map_buckets(spark, overgang, INPUT_COLUMNS, key_figure_counts_of, COUNT_SCHEMA, by="aar").toArrow()
    regions = {row.kommune: row.region for row in dim_kommune.select("kommune", "region").collect()}  # 99 rows
    return key_figures_of(counts, regions)
