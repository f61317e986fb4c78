"""The vectorised unpivot of one slice of the wide table, run inside Spark tasks (``mapInArrow``).

Turning 600-column rows into Spark rows is what makes Spark slow on the wide table, so Spark never sees
them: each task reads its slice with pyarrow, unpivots it with Arrow compute kernels column by column and
hands back narrow batches. Every non-blank cell is either a data row (of its family's table) or a
quarantine row (with the reason). The check pass also counts each family's non-blank input cells, by a
path of its own, so the run can reconcile them against the rows Delta reports having written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dream.ingest.families import ColumnPlan, Family, Period
from dream.reference import UNKNOWN_KOMMUNE

COLUMNS_PER_BATCH = 64  # bounds a task's memory: ~64 weeks of one slice per output batch

BAD_PNR = "pnr er ikke 10 cifre"
DUPLICATE = "personen findes flere gange i leverancen"
MALFORMED_COLUMN = "kolonnenavnet har en ugyldig periode"

PROBLEM_SCHEMA = pa.schema([
    ("slags", pa.string()),  # "karantaene" (a quarantined cell) or "optalt" (a count of input cells)
    ("tabel", pa.string()),
    ("kolonne", pa.string()),
    ("person_id", pa.string()),
    ("aar", pa.int32()),
    ("periode", pa.int32()),
    ("vaerdi", pa.string()),
    ("fejl", pa.string()),
    ("antal", pa.int64()),
])
_PERIOD_NAME = {"week": "uge", "month": "maaned", "quarter": "kvartal"}


def data_schema(family: Family) -> pa.Schema:
    """The output contract of a family's long table."""
    fields = [("person_id", pa.string()), ("aar", pa.int32())]
    if family.grain in _PERIOD_NAME:
        fields.append((_PERIOD_NAME[family.grain], pa.int32()))
    if family.grain == "week":
        fields.append(("uge_start", pa.date32()))
    fields += [(family.value, pa.float64() if family.check == "fraction" else pa.string()),
               ("kommune", pa.string())]
    return pa.schema(fields)


@dataclass(frozen=True)
class Checks:
    """Value sets the cells are checked against (they travel to the tasks by pickle)."""

    benefit_codes: frozenset[str]
    kommuner: frozenset[str]


@dataclass(frozen=True)
class Persons:
    """The persons of one slice: pseudonymised ids and, per person, a quarantine reason or null."""

    ids: pa.Array
    errors: pa.Array


@dataclass(frozen=True)
class Cells:
    """The non-blank cells of one input column."""

    column: str
    period: Period | None
    rows: pa.Array  # row numbers within the slice
    values: pa.Array  # trimmed text
    errors: pa.Array  # null, or why the cell goes to quarantine


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
        number = _as_fraction(values)
        ok = pc.fill_null(pc.and_(pc.greater_equal(number, 0.0), pc.less_equal(number, 1.0)), False)
        return pc.if_else(ok, none, "beskaeftigelsesgrad uden for 0..1")
    return none


def _as_fraction(values: pa.Array) -> pa.Array:
    numeric = pc.match_substring_regex(values, r"^[0-9]*\.?[0-9]+$")
    return pc.cast(pc.if_else(numeric, values, None), pa.float64())


def residence(table: pa.Table, plan: ColumnPlan, checks: Checks) -> dict[int, pa.Array]:
    """Year -> each person's municipality at that year's end; "000" when blank or not a municipality.
    The year of a week is its ISO year, which is the year of its Thursday: the Thursday rule."""
    out = {}
    for year, column in plan.residence_columns().items():
        values = pc.utf8_trim_whitespace(_text(table.column(column)))
        known = pc.fill_null(pc.is_in(values, value_set=pa.array(sorted(checks.kommuner))), False)
        out[year] = pc.if_else(known, values, UNKNOWN_KOMMUNE)
    return out


def _text(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    return array if pa.types.is_string(array.type) else pc.cast(array, pa.string())


def cells_of(table: pa.Table, family: Family, columns: list, persons: Persons, checks: Checks,
             error: str | None = None) -> Iterator[Cells]:
    """The non-blank cells of each column; ``error`` quarantines them all (a malformed column name)."""
    for column, period in columns:
        raw = _text(table.column(column))
        keep = np.flatnonzero(~blank_mask(raw))
        if len(keep) == 0:
            continue
        rows = pa.array(keep)
        values = pc.utf8_trim_whitespace(raw.take(rows))
        errors = pa.array([error] * len(keep), pa.string()) if error else value_errors(values, family.check, checks)
        yield Cells(column, period, rows, values, pc.coalesce(persons.errors.take(rows), errors))


def data_batches(table: pa.Table, family: Family, columns: list, persons: Persons,
                 homes: dict[int, pa.Array], checks: Checks) -> Iterator[pa.RecordBatch]:
    """A family's data rows (cells without a problem), ``COLUMNS_PER_BATCH`` input columns at a time,
    person by person: a person's rows lie together, so the 64-character ids compress to almost nothing."""
    schema = data_schema(family)
    unknown = pa.array(np.full(len(persons.ids), UNKNOWN_KOMMUNE, dtype=object), pa.string())
    for start in range(0, len(columns), COLUMNS_PER_BATCH):
        parts, order = [], []
        for cells in cells_of(table, family, columns[start:start + COLUMNS_PER_BATCH], persons, checks):
            ok = pc.is_null(cells.errors)
            rows, values = cells.rows.filter(ok), cells.values.filter(ok)
            n = len(rows)
            if not n:
                continue
            period = cells.period
            out = [persons.ids.take(rows), _repeat(period.aar, n, pa.int32())]
            if family.grain in _PERIOD_NAME:
                out.append(_repeat(period.periode, n, pa.int32()))
            if family.grain == "week":
                out.append(_repeat(period.start, n, pa.date32()))
            out.append(_as_fraction(values) if family.check == "fraction" else values)
            out.append(homes.get(period.aar, unknown).take(rows))
            parts.append(pa.record_batch(out, schema=schema))
            order.append(rows.to_numpy())
        if parts:
            person_major = np.argsort(np.concatenate(order), kind="stable")
            yield from pa.Table.from_batches(parts, schema).take(person_major).combine_chunks().to_batches()


def problem_batches(table: pa.Table, family: Family, columns: list, persons: Persons, checks: Checks,
                    error: str | None = None) -> Iterator[pa.RecordBatch]:
    """A family's quarantined cells, then one row counting all its non-blank input cells."""
    seen = 0
    for cells in cells_of(table, family, columns, persons, checks, error):
        seen += len(cells.rows)
        bad = pc.is_valid(cells.errors)
        n = pc.sum(bad.cast(pa.int64())).as_py()
        if n:
            period = cells.period
            yield pa.record_batch([
                _repeat("karantaene", n, pa.string()), _repeat(family.table, n, pa.string()),
                _repeat(cells.column, n, pa.string()), persons.ids.take(cells.rows.filter(bad)),
                _repeat(period.aar if period else None, n, pa.int32()),
                _repeat(period.periode if period else None, n, pa.int32()),
                cells.values.filter(bad), cells.errors.filter(bad), pa.nulls(n, pa.int64()),
            ], schema=PROBLEM_SCHEMA)
    count = {name: [None] for name in PROBLEM_SCHEMA.names}
    count.update(slags=["optalt"], tabel=[family.table], antal=[seen])
    yield pa.RecordBatch.from_pydict(count, schema=PROBLEM_SCHEMA)


def _repeat(value, n: int, type_: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type_), n)
