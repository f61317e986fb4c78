"""Steps that go through each person's weeks in turn, fed whole persons at a time without a Spark shuffle.

``fact_dream`` is partitioned by ``person_bucket`` (``dream.model.fact``): all the weeks of a person lie in
one bucket's files. ``map_buckets`` runs one Spark task per bucket; the task reads that bucket's files with
pyarrow (text columns stay dictionary-encoded) and hands them to a function on Arrow tables (numpy inside),
whose rows come back as a DataFrame. No shuffle, no sort by Spark, no window. A table without that
partitioning (or with deletion vectors) is read by Spark and shuffled by person instead; the function is
the same, so both ways give the same rows.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from dream.tables import files_by_partition, filesystem

log = logging.getLogger(__name__)

PERSON_BUCKET = "person_bucket"  # fact_dream's partition column: all of a person's weeks are in one bucket
PersonsFunction = Callable[[pa.Table], "pa.Table | None"]  # whole persons' rows in, any rows (or None) out


def map_buckets(spark: SparkSession, table: str, columns: list[str], function: PersonsFunction,
                schema: str, by: str = PERSON_BUCKET, years_from: int | None = None) -> DataFrame:
    """``function`` applied to the ``columns`` of whole persons of the Delta table at ``table``: a DataFrame
    of its output (``schema``, a DDL string). One task per person bucket, or per value of another partition
    column ``by`` for a function that needs only all of a person's rows with that value (a year of
    ``overgang_52``); when the table is not partitioned by it, Spark reads it and shuffles its rows by person.
    ``years_from``: only the files of the years (partition ``aar``) from it on are read, where the table is
    partitioned so; elsewhere every row is, so ``function`` itself must leave out the rows before it."""
    buckets = files_by_partition(spark, table, by)
    if buckets is None:
        log.info("  %s is not partitioned by %s: its rows are shuffled by person", table, by)
        return map_persons(spark.read.format("delta").load(table).select(*columns), function, schema)
    if years_from is not None:
        buckets = {bucket: kept for bucket, files in buckets.items()
                   if (kept := [(f, v) for f, v in files if "aar" not in v or int(v["aar"]) >= years_from])}
    groups = sorted(buckets.values(), key=len, reverse=True)  # the largest first

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for index in batch.column(0).to_pylist():
                rows = read_bucket(groups[index], columns)
                yield from _batches(function, rows)
    return spark.range(len(groups), numPartitions=max(len(groups), 1)).mapInArrow(run, schema)


def map_persons(rows: DataFrame, function: PersonsFunction, schema: str) -> DataFrame:
    """``function`` on whole persons of ``rows`` (any DataFrame with ``person_id``): shuffled by person only,
    not sorted; each task gets all the rows of its persons."""
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = [b for b in batches if b.num_rows]
        if batches:  # a shuffle partition no person hashed to has no batch at all
            yield from _batches(function, pa.Table.from_batches(batches))
    return rows.repartition("person_id").mapInArrow(run, schema)


def _batches(function: PersonsFunction, rows: pa.Table) -> Iterator[pa.RecordBatch]:
    """``function(rows)`` as batches Spark reads back: nothing for no rows, dictionary columns decoded."""
    out = function(rows) if rows.num_rows else None
    if out is not None and out.num_rows:
        yield from pa.table({name: column.cast(column.type.value_type) if pa.types.is_dictionary(column.type)
                             else column for name, column in zip(out.column_names, out.columns)}).to_batches()


def read_bucket(files: list[tuple[str, dict]], columns: list[str], text: tuple[str, ...] = (),
                kommuner: tuple[str, ...] | None = None) -> pa.Table | None:
    """``columns`` of Parquet files of a Delta table (None: no files); a partition column among them from
    the files' partition values: as text when named in ``text`` (``kommune`` of ``dsa_y``), else as an
    integer (never null: ``aar``). Text columns dictionary-encoded; only the rows of ``kommuner`` when given
    (of the files that have the column)."""
    parts = []
    for location, values in files:
        fs, file = filesystem(location)
        schema = pq.read_schema(file, filesystem=fs)
        stored = [c for c in columns if c not in values]
        strings = [c for c in stored if pa.types.is_string(schema.field(c).type)]
        where = [("kommune", "in", list(kommuner))] if kommuner is not None and "kommune" in schema.names else None
        part = pq.read_table(file, columns=stored, read_dictionary=strings, filesystem=fs, filters=where)
        for column in columns:
            if column in values and column in text:
                part = part.append_column(column, pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(part.num_rows, np.int32)), pa.array([values[column]], pa.string())))
            elif column in values:
                part = part.append_column(column, pa.array(np.full(part.num_rows, int(values[column]), np.int32)))
        parts.append(part.select(columns))
    return pa.concat_tables(parts).unify_dictionaries() if parts else None


def encoded(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """A text column (plain, or dictionary-encoded) as (index per row, -1 where null; the values)."""
    encoded = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(encoded.type):
        encoded = pc.dictionary_encode(encoded)
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return indices, encoded.dictionary.cast(pa.string())


def take(indices: np.ndarray, values: pa.Array, rows: np.ndarray | None) -> pa.DictionaryArray:
    """``values[indices[rows]]`` as a dictionary array; null where the index is -1."""
    picked = indices if rows is None else indices[rows]
    return pa.DictionaryArray.from_arrays(pa.array(picked, mask=picked < 0), values)


def smallest_text(indices: np.ndarray, values: pa.Array, starts: np.ndarray) -> np.ndarray:
    """Per segment of rows (``starts``: the first row of each), the index of the smallest non-null text
    (SQL's ``min``: byte order of UTF-8, which is code point order), -1 when all are null."""
    rank = np.empty(len(values) + 1, np.int64)
    rank[np.argsort(np.array(values.to_pylist(), dtype=object), kind="stable")] = np.arange(len(values))
    rank[len(values)] = len(values)  # null: after every value
    of_rank = np.append(np.argsort(rank[:-1]), -1)
    return of_rank[np.minimum.reduceat(rank[np.where(indices < 0, len(values), indices)], starts)]


def numbers(table: pa.Table, column: str) -> np.ndarray:
    """An integer column as int32 numpy (no nulls expected)."""
    return table.column(column).combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)


def days(table: pa.Table, column: str) -> np.ndarray:
    """A date column as days since 1970-01-01 (int32)."""
    return table.column(column).combine_chunks().view(pa.int32()).to_numpy(zero_copy_only=False)


def month_numbers(day: np.ndarray) -> np.ndarray:
    """year * 12 + month - 1 of days since 1970-01-01: adjacent months differ by exactly 1."""
    return date_parts(day)[0] + 1970 * 12


# Days spanned by a column of dates up to which ``date_parts`` works out each day of the span once.
_DATE_SPAN = 1 << 20


def date_parts(day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(months since January 1970, day of the month 1-31, the last day of its month) of each day (days since
    1970). Numpy's calendar conversions cost ~0.1 s per million values and the days repeat (a year's weeks
    have ~53 Thursdays, the persons' births span a century), so each day from the smallest to the largest
    is converted once and looked up."""
    if not len(day):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    low, high = int(day.min()), int(day.max())
    if high - low >= _DATE_SPAN:
        return _converted(day)
    months, day_of_month, last = _converted(np.arange(low, high + 1))
    at = day.astype(np.int64) - low
    return months[at], day_of_month[at], last[at]


def _converted(day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = day.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    day_of_month = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    last = (dates + 1).astype("datetime64[M]") != months
    return months.astype(np.int64), day_of_month, last


def month_labels(month: np.ndarray) -> pa.DictionaryArray:
    """'YYYY-MM' of ``month_numbers``, as a dictionary array (one string per distinct month)."""
    distinct, index = np.unique(month, return_inverse=True)
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)),
                                          pa.array([f"{m // 12}-{m % 12 + 1:02d}" for m in distinct], pa.string()))
