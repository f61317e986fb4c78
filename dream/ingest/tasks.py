"""What Spark tasks run: ``unit_task``. Its input is a tiny DataFrame of numbers (``spark.range``: one task
per number); the wide rows never become Spark rows.

A unit is one year of a group of slices (Parquet row groups): it reads only that year's columns, checks
every cell once, counts the non-blank input cells, and writes every table's Parquet files of that year
straight into the tables' folders, one file per partition (year x municipality for the weekly table), so
a small delivery gives one file per partition, not one per partition and slice. The files are no part of
any table until the driver commits them. One more unit per slice group writes the persons
(``dsa_borger``) and quarantines the columns whose name has an impossible period. A task returns only
small rows: each file as its Delta add action (path, partition, size, rows, statistics) and per table the
unit's input and quarantine counts.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dream.ingest.families import ColumnPlan, Family
from dream.ingest.pseudonym import pseudonymise_array
from dream.ingest.sources import Slice
from dream.ingest.unpivot import (
    BAD_PNR, DUPLICATE, MALFORMED_COLUMN, QUARANTINE_SCHEMA, Checks, Chunk, Classifier, Column, Lexicon, Periods,
    Persons, chunk_of, chunks_by_kommune, data_schema, family_cells, long_table, residence,
)
from dream.tables import DataFile, file_tag, table_path, write_data_file

SLICE_SCHEMA = "path string, row_group int"
RESULT_SCHEMA = pa.schema([
    ("tabel", pa.string()),
    ("fil", pa.string()),  # a written file as its Delta add action (JSON), or null on a count row
    ("input_celler", pa.int64()),
    ("karantaene", pa.int64()),
])
PERSON_SCHEMA = pa.schema([
    ("person_id", pa.string()),
    ("koen", pa.string()),
    ("foed_dato", pa.date32()),
])
PERSON_TABLE = "dsa_borger"
QUARANTINE_TABLE = "karantaene"
WEEK_PARTITIONS = ["aar", "kommune"]  # the weekly table (DOMAIN.md §4.1); the thinner ones by year only
PERSON_STATS = ["koen", "foed_dato"]
QUARANTINE_STATS = ["tabel", "kolonne", "aar", "periode", "fejl"]


@dataclass(frozen=True)
class Unit:
    """The work of one task: year ``aar`` of the slices ``slices`` (indices into ``Job.slices``); ``aar``
    None: their persons and malformed columns. ``cells`` estimates its size (the biggest start first)."""

    number: int
    aar: int | None
    slices: tuple[int, ...]
    cells: int


@dataclass(frozen=True)
class Job:
    """What every task of one run needs (it travels to them by pickle; no key among it)."""

    run_id: str
    warehouse: str
    slices: tuple[Slice, ...]
    plan: ColumnPlan
    families: tuple[Family, ...]
    checks: Checks


def partitions_of(family: Family) -> list[str]:
    return WEEK_PARTITIONS if family.grain == "week" else ["aar"]


def stats_columns(family: Family) -> list[str]:
    """Statistics on what readers filter on; not on the 64-character person ids (they skip nothing)."""
    return [c for c in data_schema(family).names if c not in partitions_of(family) and c != "person_id"]


def plan_units(job: Job, max_persons: int) -> list[Unit]:
    """Slices grouped to at most ``max_persons`` persons (bounding a task's memory), times the years."""
    groups, current, persons = [], [], 0
    for index, piece in enumerate(job.slices):
        if current and persons + piece.rows > max_persons:
            groups.append(current)
            current, persons = [], 0
        current.append(index)
        persons += piece.rows
    groups.append(current)
    columns_per_year: dict[int, int] = defaultdict(int)
    for family in job.families:
        for _, period in job.plan.columns.get(family.name, []):
            columns_per_year[period.aar] += 1
    extra = 3 + sum(len(c) for c in job.plan.malformed.values())
    units = []
    for group in groups:
        rows = sum(job.slices[i].rows for i in group)
        units += [(year, tuple(group), rows * n) for year, n in columns_per_year.items()]
        units.append((None, tuple(group), rows * extra))
    units.sort(key=lambda u: -u[2])
    return [Unit(number, *unit) for number, unit in enumerate(units)]


# --- Persons -------------------------------------------------------------------------------------------

def persons_of(table: pa.Table, person_column: str, key: bytes) -> Persons:
    """Pseudonymised ids (no CPR number leaves this function) and BAD_PNR where the pnr is not 10 digits."""
    pnr = pc.utf8_trim_whitespace(table.column(person_column).combine_chunks().cast(pa.string()))
    valid = pc.fill_null(pc.match_substring_regex(pnr, r"^[0-9]{10}$"), False)
    return Persons(pseudonymise_array(key, pnr), pc.if_else(valid, pa.nulls(len(pnr), pa.string()), BAD_PNR))


_PERSONS: dict[tuple[str, int], Persons] = {}  # (run, slice) -> its persons, kept while one run's tasks run


def _slice_persons(job: Job, index: int, key: bytes, duplicates: frozenset[str]) -> Persons:
    """A slice's persons, pseudonymised once per Python worker and run (Spark reuses its workers for the
    next unit, which reads the same slices for another year)."""
    if (job.run_id, index) not in _PERSONS:
        if any(run != job.run_id for run, _ in _PERSONS):
            _PERSONS.clear()
        table = _read(job.slices[index], [job.plan.person_id], [])
        _PERSONS[(job.run_id, index)] = with_duplicates(persons_of(table, job.plan.person_id, key), duplicates)
    return _PERSONS[(job.run_id, index)]


def _koen(table: pa.Table, plan: ColumnPlan) -> pa.Array:
    if "koen" not in plan.attributes:
        return pa.nulls(table.num_rows, pa.string())
    return table.column("koen").combine_chunks().cast(pa.string())


def _birth(table: pa.Table, plan: ColumnPlan) -> pa.Array:
    if "foed_dato" not in plan.attributes:
        return pa.nulls(table.num_rows, pa.date32())
    text = pc.utf8_trim_whitespace(table.column("foed_dato").combine_chunks().cast(pa.string()))
    return pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())


# --- The units -----------------------------------------------------------------------------------------

def unit_task(job: Job, units: list[Unit], key_holder, duplicates_holder) -> Callable:
    """Runs the units numbered by its input; yields RESULT_SCHEMA rows (files written, counts)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for number in _numbers(batches):
            unit = units[number]
            writer = _UnitWriter(job, unit)
            persons = [_slice_persons(job, i, key_holder.value, duplicates_holder.value) for i in unit.slices]
            if unit.aar is None:
                _persons_unit(job, unit, persons, writer)
            else:
                _year_unit(job, unit, persons, writer)
            yield writer.result()

    return run


class _UnitWriter:
    """Collects one unit's counts and quarantine rows, writes its files and describes them."""

    def __init__(self, job: Job, unit: Unit):
        self.job, self.tag = job, file_tag(job.run_id, unit.number)
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.quarantine: list[pa.RecordBatch] = []
        self.files: list[tuple[str, DataFile]] = []

    def count(self, table: str, seen: int, quarantined: int) -> None:
        self.counts[table][0] += seen
        self.counts[table][1] += quarantined

    def write(self, table: str, data: pa.Table, partition_values: dict, stats: list[str]) -> None:
        if data.num_rows:
            file = write_data_file(table_path(self.job.warehouse, table), data, partition_values, self.tag, stats)
            self.files.append((table, file))

    def result(self) -> pa.RecordBatch:
        if self.quarantine:
            data = pa.Table.from_batches(self.quarantine, QUARANTINE_SCHEMA)
            self.write(QUARANTINE_TABLE, data, {}, QUARANTINE_STATS)
        tables = [t for t, _ in self.files] + list(self.counts)
        files = [f.add_action() for _, f in self.files] + [None] * len(self.counts)
        seen = [None] * len(self.files) + [c[0] for c in self.counts.values()]
        quarantined = [None] * len(self.files) + [c[1] for c in self.counts.values()]
        return pa.record_batch([pa.array(tables, pa.string()), pa.array(files, pa.string()),
                                pa.array(seen, pa.int64()), pa.array(quarantined, pa.int64())], schema=RESULT_SCHEMA)


def _year_unit(job: Job, unit: Unit, persons: list[Persons], writer: _UnitWriter) -> None:
    """Every family's long rows of one year: checked and counted slice by slice, written per partition."""
    year = unit.aar
    families = [(f, [(c, p) for c, p in job.plan.columns.get(f.name, []) if p.aar == year]) for f in job.families]
    families = [(f, columns) for f, columns in families if columns]
    home_column = job.plan.residence_columns().get(year)
    needed = list(dict.fromkeys([*(c for _, columns in families for c, _ in columns),
                                 *([home_column] if home_column else [])]))
    kommuner = job.checks.kommune_lexicon()
    lexicons = {f.name: job.checks.lexicon(f) for f, _ in families}
    classifiers = {f.name: Classifier(f, job.checks, lexicons[f.name]) for f, _ in families}
    chunks: dict[tuple[str, int | None], list[Chunk]] = defaultdict(list)  # (family, municipality) -> rows
    for index, slice_persons in zip(unit.slices, persons):
        table = _read(job.slices[index], needed, needed)
        columns = {name: Column.of(name, table.column(name)) for name in needed}
        homes = residence(columns.get(home_column), table.num_rows, kommuner)
        for family, family_columns in families:
            cells = family_cells([columns[c] for c, _ in family_columns], [p for _, p in family_columns], family,
                                 slice_persons, classifiers[family.name])
            writer.count(family.table, cells.seen, sum(b.num_rows for b in cells.quarantine))
            writer.quarantine += cells.quarantine
            if family.grain == "week":
                for kommune, chunk in chunks_by_kommune(cells.codes, homes, slice_persons.ids).items():
                    chunks[(family.name, kommune)].append(chunk)
            elif (chunk := chunk_of(cells.codes, homes, slice_persons.ids)) is not None:
                chunks[(family.name, None)].append(chunk)
    _write_year(year, families, chunks, lexicons, kommuner, writer)


def _write_year(year: int, families: list[tuple[Family, list]], chunks: dict[tuple[str, int | None], list[Chunk]],
                lexicons: dict[str, Lexicon], kommuner: Lexicon, writer: _UnitWriter) -> None:
    """One file per family and partition: the weekly table's municipality is a partition, the others'
    a column."""
    by_name = {f.name: (f, columns) for f, columns in families}
    for (name, kommune), family_chunks in chunks.items():
        family, columns = by_name[name]
        periods = Periods.of([p for _, p in columns])
        if kommune is None:
            data = long_table(family, family_chunks, periods, lexicons[name], kommuner)
            partition = {"aar": year}
        else:
            data = long_table(family, family_chunks, periods, lexicons[name], None)
            partition = {"aar": year, "kommune": kommuner.values[kommune].as_py()}
        writer.write(family.table, data, partition, stats_columns(family))


def _persons_unit(job: Job, unit: Unit, persons: list[Persons], writer: _UnitWriter) -> None:
    """dsa_borger (persons without a problem), quarantined persons, and every cell of a malformed column."""
    families = {f.name: f for f in job.families}
    malformed = [(families[name], columns) for name, columns in job.plan.malformed.items()]
    needed = list(dict.fromkeys([*job.plan.attributes, *(c for _, columns in malformed for c in columns)]))
    classifiers = {f.name: Classifier(f, job.checks, Lexicon(None), MALFORMED_COLUMN) for f, _ in malformed}
    kept = []
    for index, slice_persons in zip(unit.slices, persons):
        table = _read(job.slices[index], needed, [c for _, columns in malformed for c in columns])
        bad = slice_persons.bad()
        good = pa.array(~bad)
        kept.append(pa.table([slice_persons.ids.filter(good), _koen(table, job.plan).filter(good),
                              _birth(table, job.plan).filter(good)], schema=PERSON_SCHEMA))
        n = int(np.count_nonzero(bad))
        writer.count(PERSON_TABLE, len(bad), n)
        if n:
            rows = pa.array(np.flatnonzero(bad))
            writer.quarantine.append(pa.record_batch([
                pa.repeat(pa.scalar(PERSON_TABLE), n), pa.nulls(n, pa.string()), slice_persons.ids.take(rows),
                pa.nulls(n, pa.int32()), pa.nulls(n, pa.int32()), pa.nulls(n, pa.string()),
                slice_persons.errors.take(rows),
            ], schema=QUARANTINE_SCHEMA))
        for family, columns in malformed:
            cells = family_cells([Column.of(c, table.column(c)) for c in columns], [None] * len(columns), family,
                                 slice_persons, classifiers[family.name])
            writer.count(family.table, cells.seen, sum(b.num_rows for b in cells.quarantine))
            writer.quarantine += cells.quarantine
    writer.write(PERSON_TABLE, pa.concat_tables(kept), {}, PERSON_STATS)


def with_duplicates(persons: Persons, duplicates: frozenset[str]) -> Persons:
    """Every copy of a person who occurs more than once is quarantined (a bad pnr keeps that reason)."""
    if not duplicates:
        return persons
    twice = pc.is_in(persons.ids, value_set=pa.array(sorted(duplicates), pa.string()))
    return Persons(persons.ids, pc.coalesce(persons.errors, pc.if_else(twice, DUPLICATE, None)))


def _read(piece: Slice, columns: list[str], as_dictionary: list[str]) -> pa.Table:
    """Only ``columns`` of one row group; text columns among ``as_dictionary`` as Arrow dictionaries. The
    column chunks are fetched in a few large reads (``pre_buffer``), the footer parsed once per file."""
    file = pq.ParquetFile(piece.path, metadata=_footer(piece.path), read_dictionary=as_dictionary, pre_buffer=True)
    return file.read_row_group(piece.row_group, columns=columns)


_FOOTERS: dict[tuple[str, int, int], pq.FileMetaData] = {}


def _footer(path: str) -> pq.FileMetaData:
    """A Parquet file's footer (1,200 columns: ~10 ms to parse), kept per worker while the file is unchanged."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _FOOTERS:
        if len(_FOOTERS) > 64:
            _FOOTERS.clear()
        _FOOTERS[key] = pq.read_metadata(path)
    return _FOOTERS[key]


def _numbers(batches: Iterator[pa.RecordBatch]) -> Iterator[int]:
    for batch in batches:
        yield from batch.column(0).to_pylist()


# --- The long rows of one family as a DataFrame (inspection, tests): nothing written ----------------------

def family_rows_task(plan: ColumnPlan, family: Family, checks: Checks, key_holder, duplicates_holder) -> Callable:
    """The data rows of one family's long table, in ``data_schema(family)``, for slices (path, row group)."""
    columns = plan.columns.get(family.name, [])
    homes_of = plan.residence_columns()
    needed = list(dict.fromkeys([plan.person_id, *(c for c, _ in columns), *homes_of.values()]))
    schema = data_schema(family)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for path, row_group in zip(batch.column("path").to_pylist(), batch.column("row_group").to_pylist()):
                table = _read(Slice(path, row_group, 0), needed, needed)
                persons = with_duplicates(persons_of(table, plan.person_id, key_holder.value),
                                           duplicates_holder.value)
                kommuner, lexicon = checks.kommune_lexicon(), checks.lexicon(family)
                classify = Classifier(family, checks, lexicon)
                for year in sorted({p.aar for _, p in columns}):
                    year_columns = [(c, p) for c, p in columns if p.aar == year]
                    cells = family_cells([Column.of(c, table.column(c)) for c, _ in year_columns],
                                         [p for _, p in year_columns], family, persons, classify)
                    home = Column.of(homes_of[year], table.column(homes_of[year])) if year in homes_of else None
                    chunk = chunk_of(cells.codes, residence(home, table.num_rows, kommuner), persons.ids)
                    if chunk is None:
                        continue
                    data = long_table(family, [chunk], Periods.of([p for _, p in year_columns]), lexicon, kommuner)
                    data = data.append_column("aar", pa.repeat(pa.scalar(year, pa.int32()), data.num_rows))
                    yield from data.select(schema.names).cast(schema).to_batches()

    return run
