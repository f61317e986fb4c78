"""The functions Spark tasks run (``mapInArrow``): each reads its Parquet row groups with pyarrow and
returns narrow Arrow batches. Their inputs are a tiny DataFrame of slices (path, row group)."""

from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dream.ingest.families import ColumnPlan, FamilySpec
from dream.ingest.pseudonym import pseudonymise_array
from dream.ingest.unpivot import BAD_PNR, DUPLICATE, MALFORMED_COLUMN, Checks, residence, unpivot_family

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


def _persons(table: pa.Table, plan: ColumnPlan, key: bytes, duplicates: frozenset[str]):
    """(person ids, per-person quarantine reason or null)."""
    pnr = pc.utf8_trim_whitespace(table.column(plan.person_id).combine_chunks().cast(pa.string()))
    ids = pseudonymise_array(key, pnr)
    valid = pc.fill_null(pc.match_substring_regex(pnr, r"^[0-9]{10}$"), False)
    duplicate = pc.is_in(ids, value_set=pa.array(sorted(duplicates), pa.string()))
    none = pa.nulls(len(ids), pa.string())
    errors = pc.if_else(valid, pc.if_else(duplicate, DUPLICATE, none), BAD_PNR)
    return ids, errors


def person_task(plan: ColumnPlan, key_holder, duplicates_holder=None) -> Callable:
    """Rows of dsa_borger: person_id, koen, foed_dato; ``fejl`` set for persons that go to quarantine."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        duplicates = duplicates_holder.value if duplicates_holder else frozenset()
        for path, row_group in _slices(batches):
            table = pq.ParquetFile(path).read_row_group(row_group, columns=[plan.person_id, *plan.attributes])
            ids, errors = _persons(table, plan, key_holder.value, duplicates)
            n = len(ids)
            koen = table.column("koen").combine_chunks().cast(pa.string()) if "koen" in plan.attributes \
                else pa.nulls(n, pa.string())
            birth = pa.nulls(n, pa.date32())
            if "foed_dato" in plan.attributes:
                text = pc.utf8_trim_whitespace(table.column("foed_dato").combine_chunks().cast(pa.string()))
                birth = pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
            yield pa.record_batch([ids, koen, birth, errors], schema=PERSON_SCHEMA)

    return run


def unpivot_task(plan: ColumnPlan, spec: FamilySpec, checks: Checks, key_holder, duplicates_holder) -> Callable:
    """Union rows (see ``dream.ingest.unpivot``) of every family of the slices the task is given."""
    families = {f.name: f for f in spec.families}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for path, row_group in _slices(batches):
            table = pq.ParquetFile(path).read_row_group(row_group)
            ids, errors = _persons(table, plan, key_holder.value, duplicates_holder.value)
            homes = residence(table, plan, checks)
            for name, columns in plan.columns.items():
                yield from unpivot_family(table, families[name], columns, ids, errors, homes, checks)
            for name, columns in plan.malformed.items():
                yield from unpivot_family(table, families[name], [(c, None) for c in columns], ids, errors,
                                          homes, checks, error=MALFORMED_COLUMN)

    return run
