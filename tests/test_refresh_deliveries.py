"""A catalogue of malformed deliveries refreshed onto a warehouse that holds a published delivery: each stops
with a message naming what to fix, the failure is recorded, and no table changes. (Row-level problems, which
go to quarantine while the rest is published, are catalogued in test_ingest_malformed.py.)"""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from dream.errors import InputError
from dream.refresh import refresh, runs
from tests.deliveries import copy_warehouse, data_tables, fingerprints


def _october(published) -> pa.Table:
    return pq.read_table(published.october)


def _parquet(table: pa.Table, path) -> str:
    pq.write_table(table, path)
    return str(path)


def missing_file(published, folder):
    return str(folder / "nowhere.parquet")


def unknown_format(published, folder):
    (folder / "d.txt").write_text("pnr;y_2601\n")
    return str(folder / "d.txt")


def empty_file(published, folder):
    (folder / "d.parquet").write_bytes(b"")
    return str(folder / "d.parquet")


def truncated_parquet(published, folder):
    data = open(published.october, "rb").read()
    (folder / "d.parquet").write_bytes(data[: len(data) * 2 // 3])
    return str(folder / "d.parquet")


def no_rows(published, folder):
    return _parquet(_october(published).slice(0, 0), folder / "d.parquet")


def no_person_column(published, folder):
    return _parquet(_october(published).drop_columns(["pnr"]), folder / "d.parquet")


def no_weekly_columns(published, folder):
    table = _october(published)
    return _parquet(table.select([c for c in table.column_names if not c.startswith("y_")]), folder / "d.parquet")


def missing_week(published, folder):
    return _parquet(_october(published).drop_columns(["y_2615"]), folder / "d.parquet")


def cpr_as_numbers(published, folder):
    table = _october(published)
    numbers = pc.cast(table.column("pnr"), pa.int64())
    return _parquet(table.set_column(table.column_names.index("pnr"), "pnr", numbers), folder / "d.parquet")


def codes_as_decimals(published, folder):
    table = _october(published)
    i = table.column_names.index("y_2601")
    decimals = pc.cast(pc.if_else(pc.equal(table.column(i), ""), None, table.column(i)), pa.float64())
    return _parquet(table.set_column(i, "y_2601", decimals), folder / "d.parquet")


def files_that_differ(published, folder):
    table = _october(published)
    (folder / "parts").mkdir()
    _parquet(table.slice(0, 30), folder / "parts" / "a.parquet")
    _parquet(table.slice(30).drop_columns(["koen"]), folder / "parts" / "b.parquet")
    return str(folder / "parts")


def duplicate_columns_csv(published, folder):
    (folder / "d.csv").write_text("pnr,y_2601,y_2601\n0101701234,130,130\n")
    return str(folder / "d.csv")


def header_only_csv(published, folder):
    (folder / "d.csv").write_text("pnr,koen,y_2601\n")
    return str(folder / "d.csv")


def unreadable_sas(published, folder):
    (folder / "d.sas7bdat").write_bytes(b"\x00" * 1024)
    return str(folder / "d.sas7bdat")


def older_than_published(published, folder):
    return published.september  # the warehouse holds 2026-10 in these tests


def half_the_persons(published, folder):
    return _parquet(_october(published).slice(0, 30), folder / "d.parquet")


def every_week_blank(published, folder):
    table = _october(published)
    for name in [c for c in table.column_names if c.startswith("y_")]:
        table = table.set_column(table.column_names.index(name), name, pa.nulls(table.num_rows, pa.string()))
    return _parquet(table, folder / "d.parquet")


CATALOGUE = [
    (missing_file, None, "the input does not exist"),
    (unknown_format, None, "unknown input format '.txt'"),
    (empty_file, None, "cannot be read as Parquet"),
    (truncated_parquet, None, "cannot be read as Parquet .*is the file complete"),
    (no_rows, None, "holds no rows"),
    (no_person_column, None, r"no person column: expected one of \['pnr', 'cpr', 'cprnr'\]"),
    (no_weekly_columns, None, r"no weekly benefit columns \(y_YYWW\)"),
    (missing_week, None, r"1 weekly columns are missing between y_2501 and y_2644 \(first: y_2615\)"),
    (cpr_as_numbers, None, "the person column 'pnr' is int64: CPR numbers must be delivered as text"),
    (codes_as_decimals, None, "1 weekly columns are not text or whole numbers .*'y_2601' is double"),
    (files_that_differ, None, "its columns differ from those of"),
    (duplicate_columns_csv, None, "duplicate column names"),
    (header_only_csv, None, "holds no rows"),
    (unreadable_sas, None, "SAS file cannot be read"),
    (older_than_published, None, "delivery 2026-09 is older than the published delivery 2026-10"),
    (half_the_persons, None, "30 persons, 20% or more fewer than the 60 of delivery 2026-10"),
    (every_week_blank, None, "every weekly cell is blank or quarantined: no benefit week to publish"),
    (lambda p, f: p.october, "2026-09", r"delivery 2026-09 holds weeks up to y_2644 \(2026-10 by its Thursday\)"),
    (lambda p, f: p.october, "2026-13", "the delivery must be named by its month as YYYY-MM"),
]


@pytest.fixture(scope="module")
def warehouse(published, tmp_path_factory):
    return copy_warehouse(published.warehouse, tmp_path_factory.mktemp("catalogue") / "warehouse")


def _versions(spark, warehouse):
    return {name: spark.sql(f"DESCRIBE HISTORY delta.`{warehouse / name}` LIMIT 1").first().version
            for name in data_tables(warehouse)}


@pytest.mark.parametrize("make, leverance, message", CATALOGUE,
                         ids=[m.__name__ if m.__name__ != "<lambda>" else f"delivery-{d}" for m, d, _ in CATALOGUE])
def test_a_malformed_delivery_stops_and_publishes_nothing(spark, config, published, warehouse, tmp_path,
                                                          make, leverance, message):
    before = _versions(spark, warehouse)
    failures = runs(spark, str(warehouse)).where(F.col("status") == "fejlet").count()
    with pytest.raises(InputError, match=message):
        refresh(spark, make(published, tmp_path), str(warehouse), config, leverance=leverance, progress=False)
    after = _versions(spark, warehouse)
    if after != before:  # a failure after the writes rolls them back: new versions holding the old data
        assert fingerprints(spark, warehouse) == published.october_prints, "nothing may be published from a failed run"
    recorded = runs(spark, str(warehouse)).where(F.col("status") == "fejlet").orderBy(F.col("afsluttet").desc())
    assert recorded.count() == failures + 1
    assert recorded.first().fejl.startswith("InputError: ")
    assert not (warehouse / "_staging").exists() or not any((warehouse / "_staging").iterdir())
