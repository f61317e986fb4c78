"""The vectorised unpivot of one slice of the wide table, run inside Spark tasks (``mapInArrow``).

Turning 600-column rows into Spark rows is what makes Spark slow on the wide table, so Spark never sees
them: each task reads its slice with pyarrow, unpivots it with Arrow compute kernels column by column and
hands back narrow batches. Every non-blank cell becomes exactly one row, either data (``fejl`` null) or
quarantine (``fejl`` says why); per family the task also emits one ``optalt`` row with the number of
non-blank input cells it saw, counted independently of the rows, so the run can reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dream.ingest.families import ColumnPlan, Family
from dream.reference import UNKNOWN_KOMMUNE

UNION_SCHEMA = pa.schema([
    ("slags", pa.string()),  # "data", "karantaene" or "optalt"
    ("tabel", pa.string()),
    ("kolonne", pa.string()),  # input column (quarantine rows only)
    ("person_id", pa.string()),
    ("aar", pa.int32()),
    ("periode", pa.int32()),
    ("dato", pa.date32()),
    ("kommune", pa.string()),
    ("vaerdi", pa.string()),
    ("fejl", pa.string()),
    ("antal", pa.int64()),
])
COLUMNS_PER_BATCH = 64  # bounds a task's memory: ~64 weeks of one slice per output batch

BAD_PNR = "pnr er ikke 10 cifre"
DUPLICATE = "personen findes flere gange i leverancen"
MALFORMED_COLUMN = "kolonnenavnet har en ugyldig periode"


@dataclass(frozen=True)
class Checks:
    """Value sets the cells are checked against (plain Python sets: they travel to the tasks by pickle)."""

    benefit_codes: frozenset[str]
    kommuner: frozenset[str]


def blank_mask(values: pa.Array) -> np.ndarray:
    """True where a cell is blank: NULL, empty or only whitespace."""
    trimmed = pc.utf8_trim_whitespace(values)
    present = pc.and_(pc.is_valid(trimmed), pc.greater(pc.utf8_length(trimmed), 0))
    return ~pc.fill_null(present, False).to_numpy(zero_copy_only=False)


def value_errors(values: pa.Array, check: str, checks: Checks) -> pa.Array:
    """Per cell: null when the value is fine, else the reason it goes to quarantine."""
    none = pa.nulls(len(values), pa.string())
    if check == "benefit_code":
        shape = pc.match_substring_regex(values, r"^[0-9]{3}$")
        known = pc.is_in(values, value_set=pa.array(sorted(checks.benefit_codes)))
        return pc.if_else(shape, pc.if_else(known, none, "ydelseskoden findes ikke i kodelisten"),
                          "ydelseskoden er ikke 3 cifre")
    if check == "kommune":
        known = pc.is_in(values, value_set=pa.array(sorted(checks.kommuner)))
        return pc.if_else(known, none, "ukendt kommunekode")
    if check == "fraction":
        number = pc.cast(pc.if_else(pc.match_substring_regex(values, r"^\s*[0-9]*\.?[0-9]+\s*$"), values, None),
                         pa.float64())
        ok = pc.fill_null(pc.and_(pc.greater_equal(number, 0.0), pc.less_equal(number, 1.0)), False)
        return pc.if_else(ok, none, "beskaeftigelsesgrad uden for 0..1")
    return none


def residence(table: pa.Table, plan: ColumnPlan, checks: Checks) -> dict[int, pa.Array]:
    """Year -> each person's municipality at that year's end; "000" when blank or not a municipality."""
    out = {}
    for year, column in plan.residence_columns().items():
        values = pc.utf8_trim_whitespace(table.column(column).combine_chunks())
        known = pc.fill_null(pc.is_in(values, value_set=pa.array(sorted(checks.kommuner))), False)
        out[year] = pc.if_else(known, values, UNKNOWN_KOMMUNE)
    return out


def unpivot_family(
    table: pa.Table,
    family: Family,
    columns: list,
    person_ids: pa.Array,
    person_errors: pa.Array,
    homes: dict[int, pa.Array],
    checks: Checks,
    error: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """The non-blank cells of one family's columns as union rows, ``COLUMNS_PER_BATCH`` columns at a time.
    ``error`` quarantines every cell (for columns whose name is malformed)."""
    seen = 0
    unknown_home = pa.array([UNKNOWN_KOMMUNE] * len(person_ids), pa.string())
    for start in range(0, len(columns), COLUMNS_PER_BATCH):
        parts = []
        for column, period in columns[start:start + COLUMNS_PER_BATCH]:
            raw = table.column(column).combine_chunks()
            if not pa.types.is_string(raw.type) and not pa.types.is_large_string(raw.type):
                raw = pc.cast(raw, pa.string())
            keep = np.flatnonzero(~blank_mask(raw))
            if len(keep) == 0:
                continue
            seen += len(keep)
            rows = pa.array(keep)
            values = pc.utf8_trim_whitespace(raw.take(rows))
            reason = pa.array([error] * len(keep), pa.string()) if error else value_errors(values, family.check, checks)
            reason = pc.coalesce(person_errors.take(rows), reason)
            home = homes.get(period.aar, unknown_home) if period is not None else unknown_home
            n = len(keep)
            parts.append(pa.record_batch({
                "slags": pc.if_else(pc.is_null(reason), "data", "karantaene"),
                "tabel": pa.array([family.table] * n, pa.string()),
                "kolonne": pc.if_else(pc.is_null(reason), pa.nulls(n, pa.string()), column),
                "person_id": person_ids.take(rows),
                "aar": pa.array(np.full(n, period.aar if period else 0, np.int32)),
                "periode": pa.array(np.full(n, period.periode if period else 0, np.int32)),
                "dato": pa.array([period.start if period else None] * 1, pa.date32()).take(pa.array(np.zeros(n, np.int64))),
                "kommune": home.take(rows),
                "vaerdi": values,
                "fejl": reason,
                "antal": pa.nulls(n, pa.int64()),
            }, schema=UNION_SCHEMA))
        if parts:
            yield pa.Table.from_batches(parts, UNION_SCHEMA).combine_chunks().to_batches()[0]
    yield count_row(family.table, seen)


def count_row(table_name: str, seen: int) -> pa.RecordBatch:
    row = {name: [None] for name in UNION_SCHEMA.names}
    row.update(slags=["optalt"], tabel=[table_name], antal=[seen])
    return pa.RecordBatch.from_pydict(row, schema=UNION_SCHEMA)
