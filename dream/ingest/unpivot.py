"""The vectorised unpivot of one slice of the wide table, run inside Spark tasks.

Turning 1,200-column rows into Spark rows is what makes Spark slow on the wide table, so Spark never sees
them. Each input column is read as Arrow dictionary-encoded text (a few hundred distinct values, an index
per row), so every rule is applied to the column's distinct values only, and the rows just look their
answer up: each cell becomes the id of its value in the family's ``Lexicon``, ``BLANK`` or ``BAD``
(quarantined, with the reason). A family's cells of one slice form a (persons x columns) matrix of these
codes; the long rows are its non-blank, good cells, person by person, and the values stay dictionary
indices until Parquet writes them as such.

Every non-blank cell is either a long row or a quarantine row; each family's non-blank cells are counted
here, from the input side, so the run can reconcile them with the rows its Delta commit reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dream.ingest.families import Family, Period
from dream.reference import UNKNOWN_KOMMUNE

BLANK, BAD = -1, -2  # cell codes besides a value's lexicon id

BAD_PNR = "pnr er ikke 10 cifre"
DUPLICATE = "personen findes flere gange i leverancen"
MALFORMED_COLUMN = "kolonnenavnet har en ugyldig periode"

QUARANTINE_SCHEMA = pa.schema([
    ("tabel", pa.string()),
    ("kolonne", pa.string()),
    ("person_id", pa.string()),
    ("aar", pa.int32()),
    ("periode", pa.int32()),
    ("vaerdi", pa.string()),
    ("fejl", pa.string()),
])
_PERIOD_NAME = {"week": "uge", "month": "maaned", "quarter": "kvartal"}
_EPOCH = 719_163  # date.toordinal() of 1970-01-01: date32 is days since then


def data_schema(family: Family) -> pa.Schema:
    """The output contract of a family's long table."""
    fields = [("person_id", pa.string()), ("aar", pa.int32())]
    if family.grain in _PERIOD_NAME:
        fields.append((_PERIOD_NAME[family.grain], pa.int32()))
    if family.grain == "week":
        fields.append(("uge_start", pa.date32()))
    fields += [(family.value, value_type(family)), ("kommune", pa.string())]
    return pa.schema(fields)


def value_type(family: Family) -> pa.DataType:
    return pa.float64() if family.check == "fraction" else pa.string()


@dataclass(frozen=True)
class Checks:
    """Value sets the cells are checked against (they travel to the tasks by pickle)."""

    benefit_codes: frozenset[str]
    kommuner: frozenset[str]

    def kommune_lexicon(self) -> Lexicon:
        """The municipalities, then ``000`` (unknown residence) last."""
        return Lexicon(pa.array([*sorted(self.kommuner - {UNKNOWN_KOMMUNE}), UNKNOWN_KOMMUNE], pa.string()))

    def lexicon(self, family: Family) -> Lexicon:
        """Fixed for code lists (a value outside them is quarantined anyway), else grown as values are met."""
        if family.check == "benefit_code":
            return Lexicon(pa.array(sorted(self.benefit_codes), pa.string()))
        if family.check == "kommune":
            return self.kommune_lexicon()
        return Lexicon(None, value_type(family))


class Lexicon:
    """The distinct values of one table met by one task; a long row holds its value's index here."""

    def __init__(self, known: pa.Array | None, kind: pa.DataType = pa.string()):
        self.fixed = known is not None
        self.values = known if known is not None else pa.array([], kind)

    def ids(self, values: pa.Array) -> np.ndarray:
        """The index of each value (never null); a grown lexicon adds the new ones, a fixed one gives BAD."""
        found = pc.index_in(values, value_set=self.values)
        if found.null_count and not self.fixed:
            new = pc.unique(values.filter(pc.is_null(found)))
            self.values = pa.concat_arrays([self.values, new.cast(self.values.type)])
            found = pc.index_in(values, value_set=self.values)
        return pc.fill_null(found, BAD).to_numpy(zero_copy_only=False).astype(np.int32)

    def unknown(self) -> int:
        """The id of the last value (``000`` in the municipality lexicon)."""
        return len(self.values) - 1


@dataclass
class Column:
    """One input column of a slice by its distinct values: ``entry`` per row (-1 for NULL) into ``text``
    (the distinct values, trimmed)."""

    name: str
    text: pa.Array
    entry: np.ndarray

    @classmethod
    def of(cls, name: str, column: pa.ChunkedArray) -> Column:
        if not pa.types.is_dictionary(column.type):
            if not pa.types.is_string(column.type):
                column = pc.cast(column, pa.string())
            column = pc.dictionary_encode(column)
        array = pa.chunked_array(column.chunks, column.type).unify_dictionaries().combine_chunks() \
            if column.num_chunks != 1 else column.chunk(0)
        text = pc.fill_null(pc.utf8_trim_whitespace(array.dictionary.cast(pa.string())), "")
        return cls(name, text, _indices(array.indices))

    def per_row(self, per_entry: np.ndarray, null_value: int) -> np.ndarray:
        """Look a per-value answer up for every row (``null_value`` where the cell is NULL)."""
        return np.append(per_entry, np.int32(null_value)).astype(np.int32)[self.entry]


def _indices(indices: pa.Array) -> np.ndarray:
    """Dictionary indices as numpy, -1 where NULL (read straight from the buffers: no Arrow kernel)."""
    values = np.frombuffer(indices.buffers()[1], indices.type.to_pandas_dtype(),
                           count=indices.offset + len(indices))[indices.offset:].astype(np.int32)
    if indices.null_count:
        bits = np.unpackbits(np.frombuffer(indices.buffers()[0], np.uint8), bitorder="little")
        values[bits[indices.offset:indices.offset + len(indices)] == 0] = -1
    return values


def value_errors(values: pa.Array, check: str, checks: Checks) -> pa.Array:
    """Per value: null when the value is fine, else the reason it goes to quarantine."""
    none = pa.nulls(len(values), pa.string())
    if check == "benefit_code":
        shape = pc.match_substring_regex(values, r"^[0-9]{3}$")
        known = pc.is_in(values, value_set=pa.array(sorted(checks.benefit_codes), pa.string()))
        return pc.if_else(shape, pc.if_else(known, none, "ydelseskoden findes ikke i kodelisten"),
                          "ydelseskoden er ikke 3 cifre")
    if check == "kommune":
        known = pc.is_in(values, value_set=pa.array(sorted(checks.kommuner), pa.string()))
        return pc.if_else(known, none, "ukendt kommunekode")
    if check == "fraction":
        number = as_fraction(values)
        ok = pc.fill_null(pc.and_(pc.greater_equal(number, 0.0), pc.less_equal(number, 1.0)), False)
        return pc.if_else(ok, none, "beskaeftigelsesgrad uden for 0..1")
    return none


def as_fraction(values: pa.Array) -> pa.Array:
    numeric = pc.match_substring_regex(values, r"^[0-9]*\.?[0-9]+$")
    return pc.cast(pc.if_else(numeric, values, None), pa.float64())


def residence(column: Column | None, rows: int, kommuner: Lexicon) -> np.ndarray:
    """Each person's municipality id at the year's end; ``000`` when blank, not a municipality or when the
    delivery has no residence column for the year. The year of a week is its ISO year (that of its
    Thursday), so laying ``nykom_<ISO year>`` on it is the Thursday rule."""
    if column is None:
        return np.full(rows, kommuner.unknown(), np.int32)
    ids = kommuner.ids(column.text)  # BAD for a blank or unknown code
    return column.per_row(np.where(ids < 0, kommuner.unknown(), ids).astype(np.int32), kommuner.unknown())


@dataclass
class Persons:
    """The persons of one slice: pseudonymised ids and, per person, a quarantine reason or null."""

    ids: pa.Array
    errors: pa.Array

    def bad(self) -> np.ndarray:
        return pc.is_valid(self.errors).to_numpy(zero_copy_only=False)


@dataclass
class FamilyCells:
    """One family's cells of one slice for one year: codes (persons x columns), non-blank count, quarantine."""

    codes: np.ndarray
    seen: int
    quarantine: list[pa.RecordBatch] = field(default_factory=list)


class Classifier:
    """The answer for each distinct value of a column: its lexicon id, BLANK or BAD (and why). Columns of a
    family mostly hold the same few hundred values, so each distinct dictionary is classified once."""

    def __init__(self, family: Family, checks: Checks, lexicon: Lexicon, error: str | None = None):
        self.family, self.checks, self.lexicon, self.error = family, checks, lexicon, error
        self._seen: dict[tuple, tuple[np.ndarray, pa.Array]] = {}

    def __call__(self, text: pa.Array) -> tuple[np.ndarray, pa.Array]:
        key = tuple(text.to_pylist())
        if key not in self._seen:
            self._seen[key] = self._classify(text)
        return self._seen[key]

    def _classify(self, text: pa.Array) -> tuple[np.ndarray, pa.Array]:
        blank = pc.equal(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
        reasons = pa.array([self.error] * len(text), pa.string()) if self.error \
            else value_errors(text, self.family.check, self.checks)
        good = ~blank & pc.is_null(reasons).to_numpy(zero_copy_only=False)
        ids = np.full(len(text), BAD, np.int32)
        ids[blank] = BLANK
        if good.any():
            keys = text.filter(pa.array(good))
            ids[good] = self.lexicon.ids(as_fraction(keys) if self.family.check == "fraction" else keys)
        return ids, reasons


def family_cells(columns: list[Column], periods: list[Period | None], family: Family, persons: Persons,
                 classify: Classifier) -> FamilyCells:
    """Classify every cell of ``columns``: every non-blank cell is counted, and a bad one (its value, or its
    person) goes to quarantine with the reason; the codes of the good ones are lexicon ids."""
    codes = np.empty((len(persons.ids), len(columns)), np.int32)
    reasons = []
    for j, column in enumerate(columns):
        ids, why = classify(column.text)
        codes[:, j] = column.per_row(ids, BLANK)
        reasons.append(why)
    present = codes != BLANK
    cells = FamilyCells(codes, int(np.count_nonzero(present)))
    bad = codes == BAD
    person_bad = persons.bad()
    if person_bad.any():
        bad |= present & person_bad[:, None]
    for j in np.flatnonzero(bad.any(axis=0)):
        rows = np.flatnonzero(bad[:, j])
        codes[rows, j] = BAD
        cells.quarantine.append(_quarantine_batch(family, columns[j], periods[j], persons, reasons[j], rows))
    return cells


def _quarantine_batch(family: Family, column: Column, period: Period | None, persons: Persons,
                      reasons: pa.Array, rows: np.ndarray) -> pa.RecordBatch:
    take = pa.array(rows)
    entries = pa.array(column.entry[rows])
    n = len(rows)
    return pa.record_batch([
        _repeat(family.table, n, pa.string()), _repeat(column.name, n, pa.string()), persons.ids.take(take),
        _repeat(period.aar if period else None, n, pa.int32()),
        _repeat(period.periode if period else None, n, pa.int32()),
        column.text.take(entries), pc.coalesce(persons.errors.take(take), reasons.take(entries)),
    ], schema=QUARANTINE_SCHEMA)


@dataclass
class Chunk:
    """Long rows of one slice (person by person): the slice's ids, and per row the person's row in the
    slice (ascending), the input column, the value's lexicon id and (tables not partitioned by it) the
    municipality id."""

    ids: pa.Array
    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    kommune: np.ndarray | None = None


def chunks_by_kommune(codes: np.ndarray, homes: np.ndarray, ids: pa.Array) -> dict[int, Chunk]:
    """The good cells, one chunk per municipality of residence: the persons are put in municipality order
    first (a stable sort keeps them in row order within one), so each municipality's rows lie together."""
    order = np.argsort(homes, kind="stable")
    flat = codes[order].ravel()
    cells = np.flatnonzero(flat >= 0)  # person-major: the row-major order of the (persons x columns) matrix
    width = codes.shape[1]
    person, column = np.divmod(cells, width)
    rows, values = order[person].astype(np.int32), flat[cells]
    sorted_homes = homes[order]
    starts = np.flatnonzero(np.diff(sorted_homes, prepend=-1))
    bounds = np.searchsorted(cells, np.append(starts, len(order)) * width)
    return {int(sorted_homes[start]): Chunk(ids, rows[a:b], column[a:b], values[a:b])
            for start, a, b in zip(starts, bounds[:-1], bounds[1:]) if a < b}


def chunk_of(codes: np.ndarray, homes: np.ndarray, ids: pa.Array) -> Chunk | None:
    """The good cells in row order, each with its person's municipality."""
    flat = codes.ravel()
    cells = np.flatnonzero(flat >= 0)
    if not len(cells):
        return None
    rows, column = np.divmod(cells, codes.shape[1])
    rows = rows.astype(np.int32)
    return Chunk(ids, rows, column, flat[cells], homes[rows])


@dataclass(frozen=True)
class Periods:
    """Per input column of one family and year: the period number and first day (date32 days)."""

    number: np.ndarray
    start: np.ndarray

    @classmethod
    def of(cls, periods: list[Period]) -> Periods:
        return cls(np.array([p.periode for p in periods], np.int32),
                   np.array([p.start.toordinal() - _EPOCH for p in periods], np.int32))


def long_table(family: Family, chunks: list[Chunk], periods: Periods, lexicon: Lexicon,
               kommuner: Lexicon | None) -> pa.Table:
    """The Parquet columns of a family's file (no ``aar``; ``kommune`` only when ``kommuner`` is given):
    person ids and values as dictionary arrays, so they are written as dictionary indices unchanged."""
    columns = np.concatenate([c.columns for c in chunks])
    data = {"person_id": person_dictionary(chunks)}
    if family.grain in _PERIOD_NAME:
        data[_PERIOD_NAME[family.grain]] = pa.array(periods.number[columns])
    if family.grain == "week":
        data["uge_start"] = pa.array(periods.start[columns]).view(pa.date32())
    data[family.value] = pa.DictionaryArray.from_arrays(pa.array(np.concatenate([c.values for c in chunks])),
                                                        lexicon.values)
    if kommuner is not None:
        data["kommune"] = pa.DictionaryArray.from_arrays(pa.array(np.concatenate([c.kommune for c in chunks])),
                                                         kommuner.values)
    return pa.table(data)


def person_dictionary(chunks: list[Chunk]) -> pa.DictionaryArray:
    """The person ids of the rows as a dictionary of just the persons present (rows are ascending within a
    chunk, and a valid person is in one slice only, so the chunks' dictionaries simply follow each other)."""
    dictionaries, indices, offset = [], [], 0
    for chunk in chunks:
        new_person = np.diff(chunk.rows, prepend=-1) != 0
        dictionaries.append(chunk.ids.take(pa.array(chunk.rows[new_person])))
        indices.append(np.cumsum(new_person, dtype=np.int32) - 1 + offset)
        offset += len(dictionaries[-1])
    return pa.DictionaryArray.from_arrays(pa.array(np.concatenate(indices)), pa.concat_arrays(dictionaries))


def _repeat(value, n: int, type_: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type_), n)
