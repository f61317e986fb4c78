"""The ingest's write path: Parquet files written by tasks and committed to Delta in one commit, the
vectorised kernel on hand-made matrices, and the guarantees a Delta table keeps (history, time travel,
restore, pruning, data skipping, roll-back when the counts do not reconcile)."""

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable

import dream.ingest.pipeline as pipeline
from dream.errors import ReconciliationError
from dream.ingest import ingest
from dream.ingest.unpivot import BAD, BLANK, Column, chunk_of, chunks_by_kommune, person_dictionary
from dream.tables import (
    commit_files, current_version, delta_stats, file_tag, remove_uncommitted, rows_written, write_data_file,
)
from tests.wide import pid, write_parquet

D = dt.date
SCHEMA = pa.schema([("person_id", pa.string()), ("aar", pa.int32()), ("uge", pa.int32()),
                    ("uge_start", pa.date32()), ("ydelseskode", pa.string()), ("kommune", pa.string())])
SPARK_SCHEMA = "person_id string, aar int, uge int, uge_start date, ydelseskode string, kommune string"
STATS = ["uge", "uge_start", "ydelseskode"]


def week_file(table, aar, kommune, persons, weeks, codes, tag="part-test-00000"):
    """One partition file with person ids and codes as dictionary arrays, as the ingest writes them."""
    data = pa.table({
        "person_id": pa.DictionaryArray.from_arrays(pa.array(persons, pa.int32()), pa.array(["a", "b", "c"])),
        "uge": pa.array(weeks, pa.int32()),
        "uge_start": pa.array([D(aar, 1, 6) + dt.timedelta(weeks=w - 1) for w in weeks], pa.date32()),
        "ydelseskode": pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(["111", "130", "999"])),
    })
    return write_data_file(str(table), data, {"aar": aar, "kommune": kommune}, tag, STATS)


def load(spark, path, **options):
    reader = spark.read.format("delta")
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load(str(path))


def test_a_written_file_is_described_for_the_log(tmp_path):
    file = week_file(tmp_path / "t", 2020, "101", [0, 0, 2], [1, 2, 5], [1, 1, 0])
    assert file.path.startswith("aar=2020/kommune=101/part-test-00000-") and file.path.endswith(".zstd.parquet")
    assert file.partition_values == {"aar": "2020", "kommune": "101"}
    assert file.rows == 3 and file.size == (tmp_path / "t" / file.path).stat().st_size
    # "999" is in the dictionary but on no row: it is not the maximum
    assert json.loads(file.stats) == {
        "numRecords": 3, "minValues": {"uge": 1, "uge_start": "2020-01-06", "ydelseskode": "111"},
        "maxValues": {"uge": 5, "uge_start": "2020-02-03", "ydelseskode": "130"},
        "nullCount": {"uge": 0, "uge_start": 0, "ydelseskode": 0}}
    written = pq.read_table(tmp_path / "t" / file.path)
    assert written.schema.field("person_id").type == pa.string()  # no Arrow schema stored: plain types
    assert written.column("person_id").to_pylist() == ["a", "a", "c"]


def test_statistics_leave_out_what_delta_would_truncate_and_count_nulls():
    long = "x" * 33
    data = pa.table({"s": pa.array(["b", long, None]), "t": pa.array(["b", "a", None]),
                     "g": pa.array([0.5, None, 0.25]), "n": pa.array([None, None, None], pa.int32())})
    stats = json.loads(delta_stats(data, ["s", "t", "g", "n", "missing"], 3))
    assert stats == {"numRecords": 3, "minValues": {"t": "a", "g": 0.25}, "maxValues": {"t": "b", "g": 0.5},
                     "nullCount": {"s": 1, "t": 1, "g": 1, "n": 3}}


def test_commit_creates_overwrites_and_keeps_history(spark, tmp_path):
    table = tmp_path / "dsa_y"
    first = [week_file(table, 2020, "101", [0, 1], [1, 1], [0, 1]), week_file(table, 2021, "147", [2], [3], [2])]
    assert commit_files(spark, str(table), SCHEMA, ["aar", "kommune"], first, STATS) == 0
    second = [week_file(table, 2021, "751", [1], [2], [1])]
    assert commit_files(spark, str(table), SCHEMA, ["aar", "kommune"], second, STATS) == 1

    v0 = spark.createDataFrame([("a", 2020, 1, D(2020, 1, 6), "111", "101"),
                                ("b", 2020, 1, D(2020, 1, 6), "130", "101"),
                                ("c", 2021, 3, D(2021, 1, 20), "999", "147")], SPARK_SCHEMA)
    v1 = spark.createDataFrame([("b", 2021, 2, D(2021, 1, 13), "130", "751")], SPARK_SCHEMA)
    assert_df_equality(load(spark, table), v1, ignore_nullable=True)
    assert_df_equality(load(spark, table, versionAsOf=0), v0, ignore_row_order=True, ignore_nullable=True)
    history = DeltaTable.forPath(spark, str(table)).history().orderBy("version").collect()
    assert [(h.operation, h.operationMetrics["numOutputRows"], h.operationMetrics["numRemovedFiles"])
            for h in history] == [("WRITE", "3", "0"), ("WRITE", "1", "2")]
    assert rows_written(spark, str(tmp_path), "dsa_y") == 1 and current_version(spark, str(tmp_path), "dsa_y") == 1
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{table}`").first()
    assert detail.partitionColumns == ["aar", "kommune"]
    assert detail.properties == {"delta.dataSkippingStatsColumns": "uge,uge_start,ydelseskode"}

    DeltaTable.forPath(spark, str(table)).restoreToVersion(0)
    assert_df_equality(load(spark, table), v0, ignore_row_order=True, ignore_nullable=True)


def test_partitions_and_statistics_prune_files(spark, tmp_path):
    table = tmp_path / "t"
    files = [week_file(table, 2020, "101", [0], [1], [0]), week_file(table, 2020, "147", [1], [40], [1]),
             week_file(table, 2021, "101", [2], [1], [0])]
    commit_files(spark, str(table), SCHEMA, ["aar", "kommune"], files, STATS)
    by_partition = load(spark, table).where("aar = 2020 and kommune = '147'").inputFiles()
    by_statistics = load(spark, table).where("uge > 30").inputFiles()
    by_code = load(spark, table).where("ydelseskode = '111'").inputFiles()
    assert [f.split("/t/")[1] for f in by_partition] == [files[1].path]
    assert [f.split("/t/")[1] for f in by_statistics] == [files[1].path]
    assert sorted(f.split("/t/")[1] for f in by_code) == sorted([files[0].path, files[2].path])


def test_append_keeps_rows_and_refuses_another_schema(spark, tmp_path):
    table = str(tmp_path / "log")
    schema = pa.schema([("tabel", pa.string()), ("antal", pa.int64())])
    for rows in (["dsa_y"], ["dsa_nykom", "dsa_y"]):
        data = pa.table({"tabel": rows, "antal": pa.array(range(len(rows)), pa.int64())})
        commit_files(spark, table, schema, [], [write_data_file(table, data, {}, "part-x", ["tabel"])], mode="append")
    assert sorted(r.tabel for r in load(spark, table).collect()) == ["dsa_nykom", "dsa_y", "dsa_y"]
    other = pa.schema([("tabel", pa.string())])
    with pytest.raises(ValueError, match="differs"):
        commit_files(spark, table, other, [], [], mode="append")


def test_only_uncommitted_files_of_the_run_are_removed(spark, tmp_path):
    table = tmp_path / "t"
    kept = week_file(table, 2020, "101", [0], [1], [0], tag=file_tag("run1", 0))
    orphan = week_file(table, 2020, "147", [1], [1], [0], tag=file_tag("run1", 3))
    other_run = week_file(table, 2020, "147", [1], [1], [0], tag=file_tag("run2", 3))
    commit_files(spark, str(table), SCHEMA, ["aar", "kommune"], [kept], STATS)
    assert remove_uncommitted(str(table), "part-run1", {kept.path}) == 1
    assert (table / kept.path).exists() and (table / other_run.path).exists() and not (table / orphan.path).exists()


def test_column_reads_distinct_values_and_rows():
    column = Column.of("y_2001", pa.chunked_array([pa.array([" 130", None, "", "130 ", "111"]).dictionary_encode()]))
    assert column.text.to_pylist() == ["130", "", "130", "111"]
    assert column.entry.tolist() == [0, -1, 1, 2, 3]
    plain = Column.of("grad_2020_01", pa.chunked_array([pa.array([0.5, None])]))  # numbers are read as text
    assert plain.text.to_pylist() == ["0.5"] and plain.entry.tolist() == [0, -1]


def test_good_cells_are_cut_by_municipality_person_by_person():
    codes = np.array([[0, BLANK, 2],  # person 0 lives in municipality 1
                      [BAD, 1, BLANK],  # person 1 in municipality 0
                      [3, 3, 3],  # person 2 in municipality 1
                      [BLANK, BLANK, BLANK]], np.int32)  # person 3 in municipality 0: no good cell
    ids = pa.array(["p0", "p1", "p2", "p3"])
    chunks = chunks_by_kommune(codes, np.array([1, 0, 1, 0], np.int32), ids)
    assert sorted(chunks) == [0, 1]
    assert (chunks[0].rows.tolist(), chunks[0].columns.tolist(), chunks[0].values.tolist()) == ([1], [1], [1])
    assert (chunks[1].rows.tolist(), chunks[1].columns.tolist(), chunks[1].values.tolist()) == \
        ([0, 0, 2, 2, 2], [0, 2, 0, 1, 2], [0, 2, 3, 3, 3])
    whole = chunk_of(codes, np.array([1, 0, 1, 0], np.int32), ids)
    assert (whole.rows.tolist(), whole.kommune.tolist()) == ([0, 0, 1, 2, 2, 2], [1, 1, 0, 1, 1, 1])
    persons = person_dictionary([chunks[1], chunks[0]])  # two chunks: their dictionaries follow each other
    assert persons.dictionary.to_pylist() == ["p0", "p2", "p1"]
    assert persons.indices.to_pylist() == [0, 0, 1, 1, 1, 2]


DELIVERY = [
    {"pnr": "0101701234", "koen": "M", "foed_dato": "1970-01-01", "y_2052": "130", "y_2101": "130",
     "grad_2021_01": "0.5", "nykom_2020": "101", "nykom_2021": "147"},
    {"pnr": "0202801234", "koen": "K", "foed_dato": "1980-02-02", "y_2052": "", "y_2101": "890",
     "grad_2021_01": "1", "nykom_2020": "751", "nykom_2021": "751"},
    {"pnr": "0303901234", "koen": "K", "foed_dato": "1990-03-03", "y_2052": "111", "y_2101": None,
     "grad_2021_01": " ", "nykom_2020": "101", "nykom_2021": "101"},
]
EXPECTED_Y = [
    (pid("0101701234"), 2020, 52, D(2020, 12, 21), "130", "101"),
    (pid("0101701234"), 2021, 1, D(2021, 1, 4), "130", "147"),
    (pid("0202801234"), 2021, 1, D(2021, 1, 4), "890", "751"),
    (pid("0303901234"), 2020, 52, D(2020, 12, 21), "111", "101"),
]


def test_row_groups_in_several_tasks_give_the_same_rows(spark, config, tmp_path, monkeypatch):
    """One person per row group and one person per task: every partition gets a file from each task that
    has rows for it, and the rows are those of one task."""
    source = tmp_path / "d.parquet"
    write_parquet(DELIVERY, source)
    pq.write_table(pq.read_table(source), source, row_group_size=1)
    monkeypatch.setattr(pipeline, "MAX_PERSONS_PER_TASK", 1)
    result = ingest(spark, str(source), str(tmp_path / "wh"), config, progress=False)
    assert_df_equality(load(spark, tmp_path / "wh" / "dsa_y"), spark.createDataFrame(EXPECTED_Y, SPARK_SCHEMA),
                       ignore_row_order=True, ignore_nullable=True)
    grad = {(r.person_id, r.grad, r.kommune) for r in load(spark, tmp_path / "wh" / "dsa_grad").collect()}
    assert grad == {(pid("0101701234"), 0.5, "147"), (pid("0202801234"), 1.0, "751")}
    assert len(load(spark, tmp_path / "wh" / "dsa_y").where("aar = 2020 and kommune = '101'").inputFiles()) == 2
    assert all(c.holds for c in result.counts)


def test_a_second_delivery_is_a_new_version_and_a_mismatch_rolls_back(spark, config, tmp_path, monkeypatch):
    warehouse = tmp_path / "wh"
    first = write_parquet(DELIVERY, tmp_path / "first.parquet")
    ingest(spark, first, str(warehouse), config, progress=False)
    second = write_parquet(DELIVERY[:1], tmp_path / "second.parquet")
    result = ingest(spark, second, str(warehouse), config, progress=False)
    assert result.versions["dsa_y"] == 1
    assert load(spark, warehouse / "dsa_y").count() == 2
    assert_df_equality(load(spark, warehouse / "dsa_y", versionAsOf=0), spark.createDataFrame(EXPECTED_Y, SPARK_SCHEMA),
                       ignore_row_order=True, ignore_nullable=True)

    # A commit that reports one row fewer than were counted: every table goes back to version 1
    real = pipeline.rows_written
    monkeypatch.setattr(pipeline, "rows_written",
                        lambda s, w, name: real(s, w, name) - (name == "dsa_y"))
    with pytest.raises(ReconciliationError, match="rolled back"):
        ingest(spark, first, str(warehouse), config, progress=False)
    assert load(spark, warehouse / "dsa_y").count() == 2
    assert current_version(spark, str(warehouse), "dsa_y") == 3  # version 2 written, version 3 restores 1
    assert load(spark, warehouse / "dsa_borger").count() == 1
    logged = [r.afstemt for r in load(spark, warehouse / "koersel_log").where("tabel = 'dsa_y'").collect()]
    assert sorted(logged) == [False, True, True]
