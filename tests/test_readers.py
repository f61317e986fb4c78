"""The Delta tables the pipeline writes are readable by an independent reader: delta-rs (the `deltalake`
package, no JVM) sees the same rows and values as Spark, the latest version after a second overwrite, and
the first delivery again by time travel to version 0. The weekly table is also checked against the wide
input itself, worked out here with pyarrow alone."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable as SparkDeltaTable

from dream.calendar import IsoWeek, expand_two_digit_year, week_range
from dream.ingest import ingest
from dream.model.pipeline import build_model
from dream.reference import UNKNOWN_KOMMUNE
from dream.synth import generate
from tests.wide import pid

deltalake = pytest.importorskip("deltalake", reason="the independent Delta reader (pip install deltalake)")

WEEKS = week_range(IsoWeek(2023, 1), IsoWeek(2024, 52))
DELIVERIES = {"first": (200, 1), "second": (150, 2)}  # persons, seed: two different deliveries
TABLES = {"dsa_y": ["aar", "kommune"], "fact_dream": ["aar", "person_bucket"], "noegletal": ["periodetype"]}


@pytest.fixture(scope="module")
def warehouse(spark, config, tmp_path_factory):
    """Two deliveries, each ingested and modelled into the same warehouse: every table overwritten once."""
    tmp = tmp_path_factory.mktemp("readers")
    inputs = {}
    for name, (persons, seed) in DELIVERIES.items():
        inputs[name] = tmp / f"{name}.parquet"
        generate(persons, seed, inputs[name], weeks=WEEKS, progress=False)
    warehouse = tmp / "warehouse"
    versions = {}
    for name, source in inputs.items():
        ingest(spark, str(source), str(warehouse), config, progress=False)
        build_model(spark, str(warehouse), measures=False)  # the tables read here, not the measures
        versions[name] = {t: spark_version(spark, warehouse / t) for t in TABLES}
    return {"path": warehouse, "inputs": inputs, "versions": versions}


def spark_version(spark, path) -> int:
    return SparkDeltaTable.forPath(spark, str(path)).history(1).select("version").first().version


def spark_rows(spark, path, version: int | None = None) -> list[dict]:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return sorted_rows(reader.load(str(path)).toArrow())


def reader_rows(path, version: int | None = None) -> list[dict]:
    return sorted_rows(deltalake.DeltaTable(str(path), version=version).to_pyarrow_table())


def sorted_rows(table: pa.Table) -> list[dict]:
    columns = sorted(table.column_names)
    rows = table.select(columns).to_pylist()
    return sorted(rows, key=lambda r: tuple((v is None, "" if v is None else str(v)) for v in r.values()))


def weeks_from_input(path) -> list[dict]:
    """dsa_y as the wide input says it must be: one row per non-blank weekly cell, the ISO year and week
    from the column name, residence from nykom_<ISO year> (unknown: 000)."""
    wide = pq.read_table(path).to_pylist()
    rows = []
    for person in wide:
        for column, code in person.items():
            match = re.fullmatch(r"y_(\d\d)(\d\d)", column)
            if not match or code is None or not code.strip():
                continue
            aar, uge = expand_two_digit_year(int(match[1])), int(match[2])
            kommune = (person.get(f"nykom_{aar}") or "").strip() or UNKNOWN_KOMMUNE
            rows.append({"aar": aar, "kommune": kommune, "person_id": pid(person["pnr"]), "uge": uge,
                         "uge_start": dt.date.fromisocalendar(aar, uge, 1), "ydelseskode": code.strip()})
    return sorted_rows(pa.Table.from_pylist(rows))


def test_the_reader_sees_the_latest_version(warehouse, spark):
    for table in TABLES:
        path = warehouse["path"] / table
        latest = deltalake.DeltaTable(str(path))
        assert latest.version() == warehouse["versions"]["second"][table] > warehouse["versions"]["first"][table]
        assert latest.metadata().partition_columns == TABLES[table]


@pytest.mark.parametrize("table", list(TABLES))
def test_latest_rows_equal_what_spark_reads(warehouse, spark, table):
    path = warehouse["path"] / table
    rows = reader_rows(path)
    assert rows and rows == spark_rows(spark, path)


@pytest.mark.parametrize("table", list(TABLES))
def test_time_travel_to_the_first_delivery_equals_what_spark_reads(warehouse, spark, table):
    path = warehouse["path"] / table
    first = warehouse["versions"]["first"][table]
    rows = reader_rows(path, version=first)
    assert rows and rows == spark_rows(spark, path, version=first)
    assert rows != reader_rows(path)  # the second delivery is another table


def test_weekly_rows_are_the_inputs_cells_in_both_versions(warehouse):
    path = warehouse["path"] / "dsa_y"
    assert reader_rows(path) == weeks_from_input(warehouse["inputs"]["second"])
    assert reader_rows(path, version=warehouse["versions"]["first"]["dsa_y"]) == \
        weeks_from_input(warehouse["inputs"]["first"])


def test_the_reader_prunes_the_weekly_partitions(warehouse):
    """Asked for one year and municipality, the reader opens only that partition's files and gets exactly
    its rows."""
    dsa_y = deltalake.DeltaTable(str(warehouse["path"] / "dsa_y"))
    everything = dsa_y.to_pyarrow_table()
    aar, kommune = everything["aar"][0].as_py(), everything["kommune"][0].as_py()
    files = dsa_y.file_uris(file_pruning_predicate=[("aar", "=", aar), ("kommune", "=", kommune)])
    assert files and all(f"/aar={aar}/kommune={kommune}/" in uri for uri in files)
    assert len(files) < len(dsa_y.file_uris())
    part = dsa_y.to_pyarrow_table(filters=[("aar", "=", aar), ("kommune", "=", kommune)])
    expected = [r for r in everything.to_pylist() if r["aar"] == aar and r["kommune"] == kommune]
    assert part.num_rows > 0 and sorted_rows(part) == sorted_rows(pa.Table.from_pylist(expected))


def test_fact_has_one_row_per_weekly_row_in_the_reader_too(warehouse):
    fact = deltalake.DeltaTable(str(warehouse["path"] / "fact_dream")).to_pyarrow_table(columns=["person_id", "aar", "uge"])
    weeks = deltalake.DeltaTable(str(warehouse["path"] / "dsa_y")).to_pyarrow_table(columns=["person_id", "aar", "uge"])
    assert sorted_rows(fact) == sorted_rows(weeks)
