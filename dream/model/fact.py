"""``fact_dream``: one row per person-week on a benefit, with the monthly, quarterly and yearly values
laid on the week by the Thursday rule (DOMAIN.md §4.2, seed 000 §9.3).

A week belongs to the month and quarter of its Thursday, and its ISO year is the calendar year of that
Thursday, so everything laid on a week of year ``aar`` comes from the year ``aar`` of the other tables:
the visitation and match quarters, the four monthly families, the yearly a-kasse values. Every input is
partitioned by year, so the fact is built one year at a time with no shuffle (``write_fact``): a Spark task
reads one year's files of every input with pyarrow, joins them on the person with numpy (each person's
values are looked up by position, never by comparing 64-character ids row by row) and writes that year's
files per person bucket itself; the driver commits them in one Delta commit.
"""

from __future__ import annotations

import logging
import shutil
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from delta.tables import DeltaTable
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from dream.model.buckets import PERSON_BUCKET, date_parts, encoded, numbers, read_bucket
from dream.reference.codes import benefit_codes, visitation_categories, visitation_families
from dream.tables import TableFile, file_tag, table_files, table_path, write_data_file, write_files, \
    write_table

log = logging.getLogger(__name__)

FACT_SCHEMA = pa.schema([
    ("person_id", pa.string()), ("aar", pa.int32()), ("uge", pa.int32()), ("uge_start", pa.date32()),
    ("maaned", pa.int32()), ("kvartal", pa.int32()), ("ydelseskode", pa.string()), ("ydelsesgruppe", pa.string()),
    ("aktiveringstype", pa.string()), ("aktiv", pa.bool_()), ("offentlig_forsoergelse", pa.bool_()),
    ("kommune", pa.string()), ("visitationskategori", pa.string()), ("matchkategori", pa.string()),
    ("branche", pa.string()), ("arbejdsstedskommune", pa.string()), ("virkform", pa.string()),
    ("grad", pa.float64()), ("akasse", pa.string()), ("akasse_medlem", pa.string()), ("alder", pa.int32()),
    ("person_bucket", pa.int32()),
])
FACT_COLUMNS = FACT_SCHEMA.names[:-1]
# fact_dream is partitioned by year and by person_bucket, a hash of the person id, so all the weeks of a
# person lie in the files of one bucket. Steps that go through each person's weeks in turn read one bucket
# per task straight from its files, with no shuffle (``dream.model.buckets``): a bucket is what one task
# holds, so the number of buckets grows with the weekly rows (about this many rows a bucket; at least 2).
ROWS_PER_PERSON_BUCKET = 4_000_000
# A year's weekly rows per task building the fact: a larger year is split by municipality.
ROWS_PER_FACT_TASK = 8_000_000
# Delta statistics on what readers filter on; not on the 64-character person ids (they skip nothing), nor on
# true/false columns (Delta keeps none).
FACT_STATS = [f.name for f in FACT_SCHEMA if f.name not in ("person_id", "aar", PERSON_BUCKET)
              and not pa.types.is_boolean(f.type)]

WEEKS_TABLE, PERSONS_TABLE = "dsa_y", "dsa_borger"


@dataclass(frozen=True)
class Values:
    """A table of values laid on the weeks: its value column, and the period column within the year it is
    keyed on with the person (None: one value per person and year)."""

    table: str
    column: str
    period: str | None
    kind: pa.DataType = pa.string()

    @property
    def slots(self) -> int:
        """Periods per person and year (the period's number is its slot: quarters 1-4, months 1-12)."""
        return {"kvartal": 5, "maaned": 13, None: 1}[self.period]


VALUES = (
    Values("dsa_visit", "visitationskategori", "kvartal"), Values("dsa_match", "matchkategori", "kvartal"),
    Values("dsa_branche", "branche", "maaned"), Values("dsa_arbsted", "arbejdsstedskommune", "maaned"),
    Values("dsa_virkform", "virkform", "maaned"), Values("dsa_grad", "grad", "maaned", pa.float64()),
    Values("dsa_ak", "akasse", None), Values("dsa_afm", "akasse_medlem", None),
)
CODE_COLUMNS = ["ydelseskode", "ydelsesgruppe", "ydelsesfamilie", "aktiveringstype", "aktiv", "offentlig_forsoergelse"]


def person_buckets(weekly_rows: int) -> int:
    """The number of person buckets for a weekly table of ``weekly_rows`` rows."""
    return max(2, -(-weekly_rows // ROWS_PER_PERSON_BUCKET))


def person_bucket(person_id: Column, buckets: int) -> Column:
    """0 .. buckets - 1, the same for every row of a person: the CRC-32 of the id (its UTF-8 bytes) modulo
    the buckets. ``buckets_of`` is the same rule in Python."""
    return F.pmod(F.crc32(person_id.cast("binary")), F.lit(buckets)).cast("int")


def buckets_of(person_ids: pa.Array, buckets: int) -> np.ndarray:
    """``person_bucket`` of each id (int32); -1 for a null id."""
    return np.array([-1 if p is None else zlib.crc32(p.encode()) % buckets for p in person_ids.to_pylist()],
                    np.int32)


# --- The rows of one year ------------------------------------------------------------------------------

def fact_rows_of(weeks: pa.Table, values: dict[str, pa.Table | None], persons: pa.Table | None, codes: pa.Table,
                 aar: int, buckets: int) -> pa.Table:
    """The fact rows (``FACT_SCHEMA``) of the weeks of year ``aar``: ``weeks`` has dsa_y's person_id, uge,
    uge_start, ydelseskode and kommune; ``values`` maps each ``VALUES`` table to its rows of the same year
    (person_id, the period column, the value; None: no rows); ``persons`` holds person_id and foed_dato;
    ``codes`` the benefit codes (``CODE_COLUMNS``). A week with no value for its period gets null; a key
    found twice in a value table takes one of its values (the ingest writes each key once)."""
    person, ids = encoded(weeks.column("person_id"))
    n = len(person)
    monday = weeks.column("uge_start").combine_chunks().view(pa.int32()).to_numpy(zero_copy_only=False)
    thursday = monday + 3
    month = (date_parts(thursday)[0] % 12 + 1).astype(np.int32)
    quarter = ((month - 1) // 3 + 1).astype(np.int32)
    period = {"kvartal": quarter, "maaned": month, None: np.zeros(n, np.int32)}

    out: dict[str, pa.Array] = {
        "person_id": _take(weeks.column("person_id"), None), "aar": pa.array(np.full(n, aar, np.int32)),
        "uge": _take(weeks.column("uge"), None).cast(pa.int32()), "uge_start": pa.array(monday).view(pa.date32()),
        "maaned": pa.array(month), "kvartal": pa.array(quarter),
    }
    week_keys: dict[str | None, np.ndarray] = {}  # per period column: each week's (person, period) slot
    for spec in VALUES:
        table = values.get(spec.table)
        if table is None or not table.num_rows:
            out[spec.column] = pa.nulls(n, spec.kind)
            continue
        row_person = _positions(table.column("person_id"), ids)
        found = np.flatnonzero(row_person >= 0)
        keys = row_person[found].astype(np.int64) * spec.slots
        if spec.period is not None:
            keys += numbers(table, spec.period)[found]
        lookup = np.full(len(ids) * spec.slots, -1, np.int64)
        lookup[keys] = found
        if spec.period not in week_keys:
            week_keys[spec.period] = person.astype(np.int64) * spec.slots + period[spec.period]
        out[spec.column] = _take(table.column(spec.column), lookup[week_keys[spec.period]])

    code, code_values = encoded(weeks.column("ydelseskode"))
    code_row = _positions(code_values, codes.column("ydelseskode").combine_chunks())
    dim_row = np.where(code >= 0, code_row[np.maximum(code, 0)], -1)
    out["ydelseskode"] = _take(weeks.column("ydelseskode"), None)
    out["ydelsesgruppe"] = group_with_visitation(codes, dim_row, out["visitationskategori"])
    for column in ("aktiveringstype", "aktiv", "offentlig_forsoergelse"):
        out[column] = _take(codes.column(column), dim_row)
    out["kommune"] = _take(weeks.column("kommune"), None)

    birth = np.full(n, np.iinfo(np.int32).min, np.int64)
    if persons is not None and persons.num_rows:
        row_person = _positions(persons.column("person_id"), ids)
        found = np.flatnonzero(row_person >= 0)
        born = pc.fill_null(persons.column("foed_dato").combine_chunks().view(pa.int32()), np.iinfo(np.int32).min)
        by_person = np.full(len(ids), np.iinfo(np.int32).min, np.int64)
        by_person[row_person[found]] = born.to_numpy(zero_copy_only=False)[found]
        birth = by_person[person]
    known = birth != np.iinfo(np.int32).min
    out["alder"] = pa.array(age_on(thursday, np.where(known, birth, 0)), mask=~known)
    out[PERSON_BUCKET] = pa.array(buckets_of(ids, buckets)[person])
    return pa.table([out[name] for name in FACT_SCHEMA.names], names=FACT_SCHEMA.names)


def group_with_visitation(codes: pa.Table, dim_row: np.ndarray, visitation: pa.Array) -> pa.DictionaryArray:
    """The benefit group of each week (``dim_row``: its code's row of ``codes``, -1: an unknown code, no
    group). The cash-benefit families take the group of the visitation category where it is known (trimmed
    of spaces, any case); otherwise (no family, no or an unknown category) the code's own group stands."""
    families = visitation_families()
    variants = visitation_categories()
    names = sorted({*(g for g in codes.column("ydelsesgruppe").to_pylist() if g is not None),
                    *(g for groups in families.values() for g in groups.values())})
    index = {name: i for i, name in enumerate(names)}
    own = np.array([index.get(g, -1) if g is not None else -1 for g in codes.column("ydelsesgruppe").to_pylist()]
                   + [-1], np.int32)  # the last: an unknown code
    family_names = list(families)
    family = np.array([family_names.index(f) if f in families else -1
                       for f in codes.column("ydelsesfamilie").to_pylist()] + [-1], np.int32)
    category, category_values = encoded(visitation)
    variant = [variants.get(c.strip(" ").lower()) if c is not None else None for c in category_values.to_pylist()]
    chosen = np.array([[index[families[f][v]] if v is not None else -1 for v in variant] + [-1]
                       for f in family_names], np.int32).reshape(len(family_names), len(variant) + 1)
    row = np.where(dim_row >= 0, dim_row, len(own) - 1)
    group = own[row]
    if len(family_names):
        row_family = family[row]
        picked = chosen[np.maximum(row_family, 0), np.where(category >= 0, category, len(variant))]
        group = np.where((row_family >= 0) & (picked >= 0), picked, group)
    return pa.DictionaryArray.from_arrays(pa.array(group, mask=group < 0), pa.array(names, pa.string()))


def age_on(day: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """Whole years of age on ``day`` for a birth on ``birth`` (days since 1970), as Spark's
    ``floor(months_between(day, birth) / 12)``: whole months, plus the difference of the days of the month
    in 31sts unless the two days are the same day of the month or both a month's last day."""
    month_1, day_1, last_1 = date_parts(day)
    month_2, day_2, last_2 = date_parts(birth)
    whole = (day_1 == day_2) | (last_1 & last_2)
    thirty_firsts = (month_1 - month_2) * 31 + np.where(whole, 0, day_1 - day_2)
    return np.floor_divide(thirty_firsts, 12 * 31).astype(np.int32)


def _positions(column: pa.ChunkedArray | pa.Array, values: pa.Array) -> np.ndarray:
    """Each row's position in ``values`` (int64), -1 where it is not there or null."""
    index, distinct = encoded(column)
    where = pc.fill_null(pc.index_in(distinct.cast(values.type), value_set=values), -1).to_numpy(
        zero_copy_only=False).astype(np.int64)
    return np.where(index >= 0, np.append(where, -1)[index], -1)


def _take(column: pa.ChunkedArray, rows: np.ndarray | None) -> pa.Array:
    """``column`` at ``rows`` (null where -1); the whole column when None. Dictionary columns stay so."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array if rows is None else array.take(pa.array(rows, mask=rows < 0))


# --- The tasks -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FactTask:
    """The work of one Spark task: the weeks of year ``aar`` in ``weeks`` (the files of some or all of the
    year's municipalities), and that year's files of each value table; ``kommuner``: the municipalities
    when the year is split (the value tables' rows are then read for them only), else None."""

    aar: int
    weeks: tuple[tuple[str, dict], ...]
    rows: int  # the weekly rows, as the files' statistics count them
    kommuner: tuple[str, ...] | None
    values: dict[str, tuple[tuple[str, dict], ...]]
    persons: tuple[tuple[str, dict], ...]


def write_fact(spark: SparkSession, warehouse: str, buckets: int, first_year: int | None = None) -> int:
    """``fact_dream`` of the warehouse's long tables (``dsa_y``, the ``VALUES`` tables, ``dsa_borger``),
    partitioned by ``aar`` and ``person_bucket`` (``buckets`` of them); the years from ``first_year`` on
    when given. One Spark task per year (a year of more than ``ROWS_PER_FACT_TASK`` weekly rows: per group
    of municipalities) and one Delta commit. Returns the new version."""
    staging = Path(warehouse) / "_staging" / f"fact-{uuid.uuid4().hex[:12]}"
    try:
        files = {WEEKS_TABLE: _year_files(spark, warehouse, WEEKS_TABLE, staging)}
        for spec in VALUES:
            files[spec.table] = _year_files(spark, warehouse, spec.table, staging)
        persons = tuple((f.location, f.partition_values) for f in
                        _files(spark, warehouse, PERSONS_TABLE, staging, None) or [])
        tasks = plan_fact_tasks(files, persons, first_year)
        log.info("  fact_dream: %d tasks (%d years), %d person buckets", len(tasks),
                 len({t.aar for t in tasks}), buckets)
        codes = pa.Table.from_pylist([{c: getattr(code, c) for c in CODE_COLUMNS} for code in benefit_codes()])
        codes = pa.table({c: pc.dictionary_encode(codes.column(c)) if c == "aktiveringstype" else codes.column(c)
                          for c in CODE_COLUMNS})  # the one column taken onto every week as text
        path = table_path(warehouse, "fact_dream")

        def run(run_id: str):
            task = _fact_task(tasks, codes, buckets, path, run_id)
            return spark.range(len(tasks), numPartitions=max(len(tasks), 1)).mapInArrow(task, "fil string")
        return write_files(spark, path, FACT_SCHEMA, ["aar", PERSON_BUCKET], FACT_STATS, run)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def plan_fact_tasks(files: dict[str, dict[int, list[TableFile]]], persons: tuple, first_year: int | None
                    ) -> list[FactTask]:
    """The tasks: per year of the weekly table, its municipalities in groups of at most
    ``ROWS_PER_FACT_TASK`` weekly rows (a file without a row count counts as that many); the largest first."""
    tasks = []
    for aar, week_files in sorted(files[WEEKS_TABLE].items()):
        if first_year is not None and aar < first_year:
            continue
        by_kommune: dict[str | None, list[TableFile]] = {}
        for f in week_files:
            by_kommune.setdefault(f.partition_values.get("kommune"), []).append(f)
        groups, current, rows = [], [], 0
        for kommune, kommune_files in sorted(by_kommune.items(), key=lambda item: str(item[0])):
            size = sum(ROWS_PER_FACT_TASK if f.rows is None else f.rows for f in kommune_files)
            if current and rows + size > ROWS_PER_FACT_TASK:
                groups.append((current, rows))
                current, rows = [], 0
            current.append((kommune, kommune_files))
            rows += size
        groups.append((current, rows))
        split = len(groups) > 1 and None not in by_kommune
        values = {spec.table: tuple((f.location, f.partition_values) for f in files[spec.table].get(aar, []))
                  for spec in VALUES}
        for group, rows in groups:
            tasks.append(FactTask(
                aar, tuple((f.location, f.partition_values) for _, kommune_files in group for f in kommune_files),
                rows, tuple(k for k, _ in group) if split else None, values, persons))
    return sorted(tasks, key=lambda t: -t.rows)


def _fact_task(tasks: list[FactTask], codes: pa.Table, buckets: int, path: str, run_id: str):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for number in batch.column(0).to_pylist():
                yield _write_task(tasks[number], codes, buckets, path, file_tag(run_id, number))
    return run


def _write_task(task: FactTask, codes: pa.Table, buckets: int, path: str, tag: str) -> pa.RecordBatch:
    """One task's fact rows, written as one file per person bucket: a batch of the files' add actions."""
    weeks = read_bucket(task.weeks, ["person_id", "uge", "uge_start", "ydelseskode", "kommune"], ("kommune",))
    values = {spec.table: read_bucket(task.values[spec.table], ["person_id", *([spec.period] if spec.period else []),
                                                                spec.column], kommuner=task.kommuner)
              for spec in VALUES}
    persons = read_bucket(task.persons, ["person_id", "foed_dato"])
    added = []
    if weeks is not None and weeks.num_rows:
        rows = fact_rows_of(weeks, values, persons, codes, task.aar, buckets)
        bucket = rows.column(PERSON_BUCKET).to_numpy()
        order = np.argsort(bucket, kind="stable")
        starts = np.flatnonzero(np.diff(bucket[order], prepend=-1))
        data = rows.drop_columns(["aar", PERSON_BUCKET])
        for start, end in zip(starts, [*starts[1:], len(order)]):
            part = data.take(pa.array(order[start:end]))
            partition = {"aar": task.aar, PERSON_BUCKET: int(bucket[order[start]])}
            added.append(write_data_file(path, part, partition, tag, FACT_STATS).add_action())
    return pa.record_batch([pa.array(added, pa.string())], names=["fil"])


def _year_files(spark: SparkSession, warehouse: str, name: str, staging: Path) -> dict[int, list[TableFile]]:
    """A table's files by year (``aar``); none when the warehouse lacks the table (a delivery without the
    family: its values are empty in ``fact_dream``)."""
    files = _files(spark, warehouse, name, staging, "aar")
    if files is None:
        log.warning("No %s table in %s: its values are empty in fact_dream", name, warehouse)
        return {}
    by_year: dict[int, list[TableFile]] = {}
    for f in files:
        by_year.setdefault(int(f.partition_values["aar"]), []).append(f)
    return by_year


def _files(spark: SparkSession, warehouse: str, name: str, staging: Path, partitioned_by: str | None
           ) -> list[TableFile] | None:
    """The files of a table, to be read with pyarrow; None when the warehouse has no such table. A table
    whose files alone do not hold its rows (deletion vectors, column mapping, another partitioning) is
    first copied by Spark into a plain table under ``staging``."""
    path = table_path(warehouse, name)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    files = table_files(spark, path, partitioned_by)
    if files is None:
        log.info("  %s cannot be read file by file: a plain copy is read instead", name)
        write_table(spark.read.format("delta").load(path), str(staging), name,
                    [partitioned_by] if partitioned_by else [])
        files = table_files(spark, table_path(str(staging), name), partitioned_by)
    return files
