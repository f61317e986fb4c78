"""The functions Spark tasks run (``mapInArrow``): each reads its Parquet row groups with pyarrow, only
the columns it needs, and returns narrow Arrow batches. Their input is a tiny DataFrame of slices
(path, row group); the wide rows never become Spark rows."""

from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dream.ingest.families import ColumnPlan, Family, FamilySpec
from dream.ingest.pseudonym import pseudonymise_array
from dream.ingest.unpivot import (
    BAD_PNR, DUPLICATE, MALFORMED_COLUMN, Checks, Persons, data_batches, problem_batches, residence,
)

SLICE_SCHEMA = "path string, row_group int"
PERSON_SCHEMA = pa.schema([
    ("person_id", pa.string()),
    ("koen", pa.string()),
    ("foed_dato", pa.date32()),
    ("fejl", pa.string()),
])


def _slices(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[str, int]]:
    for batch in batches:
        yield from zip(batch.column("path").to_pylist(), batch.column("row_group").to_pylist())


def _read(path: str, row_group: int, columns: list[str]) -> pa.Table:
    return pq.ParquetFile(path).read_row_group(row_group, columns=columns)


def persons_of(table: pa.Table, plan: ColumnPlan, key: bytes, duplicates: frozenset[str]) -> Persons:
    pnr = pc.utf8_trim_whitespace(table.column(plan.person_id).combine_chunks().cast(pa.string()))
    ids = pseudonymise_array(key, pnr)
    valid = pc.fill_null(pc.match_substring_regex(pnr, r"^[0-9]{10}$"), False)
    duplicate = pc.is_in(ids, value_set=pa.array(sorted(duplicates), pa.string()))
    none = pa.nulls(len(ids), pa.string())
    return Persons(ids, pc.if_else(valid, pc.if_else(duplicate, DUPLICATE, none), BAD_PNR))


def person_task(plan: ColumnPlan, key_holder) -> Callable:
    """Rows of dsa_borger (person_id, koen, foed_dato); ``fejl`` set for a pnr that is not 10 digits."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for path, row_group in _slices(batches):
            table = _read(path, row_group, [plan.person_id, *plan.attributes])
            persons = persons_of(table, plan, key_holder.value, frozenset())
            n = len(persons.ids)
            koen = table.column("koen").combine_chunks().cast(pa.string()) if "koen" in plan.attributes \
                else pa.nulls(n, pa.string())
            birth = pa.nulls(n, pa.date32())
            if "foed_dato" in plan.attributes:
                text = pc.utf8_trim_whitespace(table.column("foed_dato").combine_chunks().cast(pa.string()))
                birth = pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
            yield pa.record_batch([persons.ids, koen, birth, persons.errors], schema=PERSON_SCHEMA)

    return run


def check_task(plan: ColumnPlan, spec: FamilySpec, checks: Checks, key_holder, duplicates_holder) -> Callable:
    """Quarantined cells and per-family counts of non-blank input cells, for every family."""
    families = {f.name: f for f in spec.families}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for path, row_group in _slices(batches):
            table = _read(path, row_group, None)
            persons = persons_of(table, plan, key_holder.value, duplicates_holder.value)
            for name, columns in plan.columns.items():
                yield from problem_batches(table, families[name], columns, persons, checks)
            for name, columns in plan.malformed.items():
                yield from problem_batches(table, families[name], [(c, None) for c in columns], persons, checks,
                                           error=MALFORMED_COLUMN)

    return run


def family_task(plan: ColumnPlan, family: Family, checks: Checks, key_holder, duplicates_holder) -> Callable:
    """The data rows of one family's long table."""
    columns = plan.columns[family.name]
    needed = [plan.person_id, *[c for c, _ in columns], *plan.residence_columns().values()]

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for path, row_group in _slices(batches):
            table = _read(path, row_group, list(dict.fromkeys(needed)))
            persons = persons_of(table, plan, key_holder.value, duplicates_holder.value)
            yield from data_batches(table, family, columns, persons, residence(table, plan, checks), checks)

    return run
