"""``overgang_52`` by its implementations on hand-made weeks with hand-computed rows: ``build_transitions``
(a Spark window), ``write_transitions`` (tasks join with numpy and write the files; one Delta commit) and
``write_transitions_from_table`` (the same tasks reading a ``fact_dream`` partitioned by person bucket),
and the Delta guarantees the model and the refresh rely on (version, history, roll-back, no stray files).

The last delivered Monday is 8 March 2021 (2021-W10): a week is followed up when its Monday + 364 days is
at most that, i.e. up to 2020-W11 (Monday 9 March 2020); later weeks are censored (no row at all).
"""

import datetime as dt
from contextlib import contextmanager

import pyarrow as pa
import pytest
from chispa import assert_df_equality

import dream.tables as tables
from pyspark.sql import functions as F

from dream.model.fact import PERSON_BUCKET, person_bucket
from dream.model.transitions import build_transitions, write_transitions, write_transitions_from_table
from dream.tables import (
    arrow_schema, current_version, file_tag, roll_back, rows_written, write_partitioned, write_table, write_tables,
)

D = dt.date
LAST_MONDAY = D(2021, 3, 8)
FACT_SCHEMA = ("person_id string, aar int, uge int, uge_start date, maaned int, kommune string, ydelseskode string, "
               "ydelsesgruppe string")
OVERGANG_SCHEMA = FACT_SCHEMA + ", ydelseskode_52 string, ydelsesgruppe_52 string, modtagerstatus string"
SAME, OTHER, NONE = "Modtager fortsat ydelsen", "Modtager anden ydelse", "Modtager ikke længere ydelser"
BLANK = "Ingen ydelse"

FACT = [
    ("p1", 2020, 2, D(2020, 1, 6), 1, "101", "130", "G1"),  # the same group 52 weeks on
    ("p1", 2020, 3, D(2020, 1, 13), 1, "101", "130", "G1"),  # no row 52 weeks on: blank
    ("p1", 2021, 1, D(2021, 1, 4), 1, "147", "130", "G1"),  # censored (and the follow-up of week 2)
    ("p2", 2020, 2, D(2020, 1, 6), 1, "751", "111", "G2"),  # another group (an exit code) 52 weeks on
    ("p2", 2021, 1, D(2021, 1, 4), 1, "751", "999", "G3"),  # censored
    ("p3", 2019, 52, D(2019, 12, 23), 12, "000", "130", "G1"),  # year boundary: 52 weeks on is 2020-W52, blank
    # 2020 has 53 weeks: 52 weeks after 2020-W10 is 2021-W09 (same group), not 2021-W10 (another one).
    ("p4", 2020, 10, D(2020, 3, 2), 3, "461", "890", "G4"),
    ("p4", 2020, 53, D(2020, 12, 28), 12, "461", "890", "G4"),  # censored
    ("p4", 2021, 9, D(2021, 3, 1), 3, "461", "890", "G4"),  # censored
    ("p4", 2021, 10, D(2021, 3, 8), 3, "461", "111", "G5"),  # censored
    # Null groups: a week without a group is "another" benefit later; a later week without one is blank.
    ("p5", 2020, 5, D(2020, 1, 27), 1, None, "xxx", None),
    ("p5", 2021, 4, D(2021, 1, 25), 1, "101", "130", "G1"),  # censored
    ("p6", 2020, 5, D(2020, 1, 27), 1, "101", "130", "G1"),
    ("p6", 2021, 4, D(2021, 1, 25), 1, "101", "yyy", None),  # censored
    # Censoring is by the Monday: 2020-W11 (9 March 2020) is the last week followed up, 2020-W12 is not.
    ("p7", 2020, 11, D(2020, 3, 9), 3, "101", "130", "G1"),
    ("p7", 2020, 12, D(2020, 3, 16), 3, "101", "130", "G1"),  # censored
    ("p7", 2021, 10, D(2021, 3, 8), 3, "101", "130", "G1"),  # censored
]
EXPECTED = [
    ("p1", 2020, 2, D(2020, 1, 6), 1, "101", "130", "G1", "130", "G1", SAME),
    ("p1", 2020, 3, D(2020, 1, 13), 1, "101", "130", "G1", None, BLANK, NONE),
    ("p2", 2020, 2, D(2020, 1, 6), 1, "751", "111", "G2", "999", "G3", OTHER),
    ("p3", 2019, 52, D(2019, 12, 23), 12, "000", "130", "G1", None, BLANK, NONE),
    ("p4", 2020, 10, D(2020, 3, 2), 3, "461", "890", "G4", "890", "G4", SAME),
    ("p5", 2020, 5, D(2020, 1, 27), 1, None, "xxx", None, "130", "G1", OTHER),
    ("p6", 2020, 5, D(2020, 1, 27), 1, "101", "130", "G1", "yyy", BLANK, NONE),
    ("p7", 2020, 11, D(2020, 3, 9), 3, "101", "130", "G1", "130", "G1", SAME),
]


@contextmanager
def shuffle_partitions(spark, n):
    """More shuffle partitions than the tests' two, so that the persons land in several write tasks."""
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(n))
    try:
        yield
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


def load(spark, path, **options):
    reader = spark.read.format("delta")
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load(str(path))


def data_files(table):
    return sorted(p.relative_to(table) for p in table.rglob("*.parquet"))


@pytest.fixture
def fact(spark):
    return spark.createDataFrame(FACT, FACT_SCHEMA).repartition(3)  # several input partitions too


@pytest.fixture
def expected(spark):
    return spark.createDataFrame(EXPECTED, OVERGANG_SCHEMA)


def test_the_window_gives_the_hand_computed_rows(fact, expected):
    assert_df_equality(build_transitions(fact, LAST_MONDAY), expected, ignore_row_order=True, ignore_nullable=True)


def test_tasks_write_the_hand_computed_rows_as_one_delta_commit(spark, fact, expected, tmp_path):
    with shuffle_partitions(spark, 4):
        version = write_transitions(fact, LAST_MONDAY, str(tmp_path), "overgang_52")
    table = tmp_path / "overgang_52"
    written = load(spark, table)
    assert_df_equality(written, expected, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(written, build_transitions(fact, LAST_MONDAY), ignore_row_order=True, ignore_nullable=True)
    assert version == 0 == current_version(spark, str(tmp_path), "overgang_52")
    assert rows_written(spark, str(tmp_path), "overgang_52") == len(EXPECTED)
    assert spark.sql(f"DESCRIBE DETAIL delta.`{table}`").first().partitionColumns == ["aar"]
    assert sorted(p.name for p in table.glob("aar=*")) == ["aar=2019", "aar=2020"]
    # The tasks' files of a year are packed into one before the commit; every file is in the commit.
    files = data_files(table)
    assert sorted(f.parent.name for f in files) == ["aar=2019", "aar=2020"]
    assert len(files) == len(written.inputFiles())


def test_a_task_without_persons_writes_nothing(spark, tmp_path):
    """One person, four shuffle partitions: three tasks get no rows at all."""
    one = spark.createDataFrame([r for r in FACT if r[0] == "p4"], FACT_SCHEMA)
    with shuffle_partitions(spark, 4):
        write_transitions(one, LAST_MONDAY, str(tmp_path), "overgang_52")
    expected = spark.createDataFrame([r for r in EXPECTED if r[0] == "p4"], OVERGANG_SCHEMA)
    assert_df_equality(load(spark, tmp_path / "overgang_52"), expected, ignore_row_order=True, ignore_nullable=True)
    assert len(data_files(tmp_path / "overgang_52")) == 1


def test_rewriting_a_table_of_write_table_keeps_history_and_rolls_back(spark, fact, expected, tmp_path):
    """The refresh's machinery: a table write_table made, replaced by write_transitions, restored by roll_back."""
    first = build_transitions(fact.where("person_id = 'p1'"), LAST_MONDAY)
    assert write_table(first, str(tmp_path), "overgang_52", ["aar"]) == 0
    version = write_transitions(fact, LAST_MONDAY, str(tmp_path), "overgang_52")
    assert version == 1 == current_version(spark, str(tmp_path), "overgang_52")
    assert_df_equality(load(spark, tmp_path / "overgang_52"), expected, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(load(spark, tmp_path / "overgang_52", versionAsOf=0), first, ignore_row_order=True,
                       ignore_nullable=True)
    roll_back(spark, str(tmp_path), {"overgang_52": 0})
    assert_df_equality(load(spark, tmp_path / "overgang_52"), first, ignore_row_order=True, ignore_nullable=True)
    assert current_version(spark, str(tmp_path), "overgang_52") == 2  # a restore is a commit of its own


def test_a_failed_commit_leaves_the_table_and_its_files_as_they_were(spark, fact, tmp_path, monkeypatch):
    write_transitions(fact, LAST_MONDAY, str(tmp_path), "overgang_52")
    table = tmp_path / "overgang_52"
    before = data_files(table)

    def fail(*args, **kwargs):
        assert len(data_files(table)) > len(before)  # the tasks have written this run's files
        raise RuntimeError("commit refused")

    monkeypatch.setattr(tables, "commit_files", fail)
    with pytest.raises(RuntimeError, match="commit refused"):
        write_transitions(fact, LAST_MONDAY, str(tmp_path), "overgang_52")
    assert data_files(table) == before  # the tasks' files of the failed run are gone
    assert current_version(spark, str(tmp_path), "overgang_52") == 0


def fact_table(spark, fact, folder, partitions, **properties) -> str:
    """``fact`` as a Delta table like ``fact_dream``: a column the step does not read, and a person bucket."""
    table = (fact.coalesce(1).withColumn("alder", F.lit(40))
             .withColumn(PERSON_BUCKET, person_bucket(F.col("person_id"), 3)).write.format("delta").partitionBy(*partitions))
    for key, value in properties.items():
        table = table.option(key, value)
    table.save(str(folder / "fact_dream"))
    return str(folder / "fact_dream")


def test_a_task_per_person_bucket_reads_the_table_and_writes_the_hand_computed_rows(spark, fact, expected, tmp_path,
                                                                                    monkeypatch):
    source = fact_table(spark, fact, tmp_path, ["aar", PERSON_BUCKET])
    buckets = {r[0] for r in spark.read.format("delta").load(source).select(PERSON_BUCKET).distinct().collect()}
    assert len(buckets) == 3  # the seven persons fall in every bucket
    version = write_transitions_from_table(spark, source, LAST_MONDAY, str(tmp_path), "overgang_52")
    table = tmp_path / "overgang_52"
    assert_df_equality(load(spark, table), expected, ignore_row_order=True, ignore_nullable=True)
    assert version == 0 and rows_written(spark, str(tmp_path), "overgang_52") == len(EXPECTED)
    assert sorted(f.parent.name for f in data_files(table)) == ["aar=2019", "aar=2020"]  # packed: one a year
    # Files are named part-<run>-<task>-<uuid>: left unpacked, the files show one task per bucket.
    monkeypatch.setattr(tables, "PACKED_FILE_BYTES", 1)
    before = set(data_files(table))
    write_transitions_from_table(spark, source, LAST_MONDAY, str(tmp_path), "overgang_52")
    assert_df_equality(load(spark, table), expected, ignore_row_order=True, ignore_nullable=True)
    assert len({f.name.split("-")[2] for f in set(data_files(table)) - before}) == 3


def test_a_table_not_partitioned_by_person_is_shuffled_by_person(spark, fact, expected, tmp_path):
    source = fact_table(spark, fact, tmp_path, ["aar"])
    write_transitions_from_table(spark, source, LAST_MONDAY, str(tmp_path), "overgang_52")
    assert_df_equality(load(spark, tmp_path / "overgang_52"), expected, ignore_row_order=True, ignore_nullable=True)


def test_rows_deleted_from_the_table_are_not_read_from_its_files(spark, fact, expected, tmp_path):
    """A week deleted with a deletion vector is still in its Parquet file: the step must not see it."""
    source = fact_table(spark, fact, tmp_path, ["aar", PERSON_BUCKET], **{"delta.enableDeletionVectors": "true"})
    spark.sql(f"DELETE FROM delta.`{source}` WHERE person_id = 'p7' AND uge = 11")
    assert any('"deletionVector"' in line for line in (tmp_path / "fact_dream" / "_delta_log" /
                                                      "00000000000000000001.json").read_text().splitlines())
    write_transitions_from_table(spark, source, LAST_MONDAY, str(tmp_path), "overgang_52")
    assert_df_equality(load(spark, tmp_path / "overgang_52"), expected.where("person_id != 'p7'"),
                       ignore_row_order=True, ignore_nullable=True)


# --- several tables written by the same tasks (dream.tables.write_tables) ------------------------------------

ROWS_SCHEMA = "person_id string, aar int, gruppe string"
ROWS = [("p1", 2020, "G1"), ("p2", 2020, None), ("p3", 2021, "G2"), ("p4", None, "G1"), ("p5", 2021, "G1"),
        ("p6", 2020, "G2")]  # p4: a null partition value


def two_tables(spark, folder, run_number: int = 0) -> dict[str, tuple]:
    """Tables ``a`` (the rows, partitioned by ``aar``) and ``b`` (their persons, not partitioned) of ``folder``,
    and ``tasks(run_id)``: three Spark tasks, each writing its third of the rows into both (a row per file)."""
    a, b = str(folder / "a"), str(folder / "b")
    rows = ROWS[:len(ROWS) - run_number]  # a later run writes fewer rows

    def tasks(run_id):
        def run(batches):
            for batch in batches:
                for task in batch.column(0).to_pylist():
                    part = pa.Table.from_pylist([dict(zip(["person_id", "aar", "gruppe"], r)) for r in rows[task::3]],
                                                schema)
                    tag = file_tag(run_id, task)
                    added = [(a, f.add_action()) for f in write_partitioned(a, part, ["aar"], tag, ["gruppe"])]
                    added += [(b, f.add_action()) for f in write_partitioned(b, part.select(["person_id"]), [], tag,
                                                                             [])]
                    yield pa.record_batch([pa.array([t for t, _ in added], pa.string()),
                                           pa.array([f for _, f in added], pa.string())], names=["tabel", "fil"])
        return spark.range(3, numPartitions=3).mapInArrow(run, "tabel string, fil string")

    schema = arrow_schema(ROWS_SCHEMA)
    return {"tables": {a: (schema, ["aar"], ["gruppe"]), b: (arrow_schema("person_id string"), [], [])},
            "tasks": tasks, "rows": rows, "a": a, "b": b}


def test_tasks_write_two_tables_and_each_gets_one_commit_with_its_files_packed(spark, tmp_path):
    run = two_tables(spark, tmp_path)
    versions = write_tables(spark, run["tables"], run["tasks"])
    assert versions == {run["a"]: 0, run["b"]: 0}
    expected = spark.createDataFrame(ROWS, ROWS_SCHEMA)
    assert_df_equality(load(spark, run["a"]), expected, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(load(spark, run["b"]), expected.select("person_id"), ignore_row_order=True,
                       ignore_nullable=True)
    assert spark.sql(f"DESCRIBE DETAIL delta.`{run['a']}`").first().partitionColumns == ["aar"]
    assert rows_written(spark, str(tmp_path), "a") == rows_written(spark, str(tmp_path), "b") == len(ROWS)
    # Three tasks wrote a file per table and year; packed, a year (null too) has one file, b has one.
    assert sorted(f.parent.name for f in data_files(tmp_path / "a")) == [
        "aar=2020", "aar=2021", "aar=__HIVE_DEFAULT_PARTITION__"]
    assert len(data_files(tmp_path / "b")) == 1
    for name in ("a", "b"):  # no file but the committed ones
        assert len(data_files(tmp_path / name)) == len(load(spark, tmp_path / name).inputFiles())


def test_when_a_later_commit_fails_the_earlier_table_stays_committed_and_no_file_is_left(spark, tmp_path,
                                                                                        monkeypatch):
    first = two_tables(spark, tmp_path)
    write_tables(spark, first["tables"], first["tasks"])
    before = {name: data_files(tmp_path / name) for name in ("a", "b")}
    second = two_tables(spark, tmp_path, run_number=1)
    commit = tables.commit_files

    def fail_b(spark, path, *args, **kwargs):
        if path == second["b"]:
            raise RuntimeError("commit refused")
        return commit(spark, path, *args, **kwargs)

    monkeypatch.setattr(tables, "commit_files", fail_b)
    with pytest.raises(RuntimeError, match="commit refused"):
        write_tables(spark, second["tables"], second["tasks"])
    # a (committed first) has the second run's rows; b is as it was, without the run's files.
    assert current_version(spark, str(tmp_path), "a") == 1 and current_version(spark, str(tmp_path), "b") == 0
    assert load(spark, second["a"]).count() == len(second["rows"]) == len(ROWS) - 1
    assert data_files(tmp_path / "b") == before["b"]
    assert len(data_files(tmp_path / "a")) == len(before["a"]) + len(load(spark, second["a"]).inputFiles())
    # The caller undoes the tables it changed (the refresh does so with roll_back).
    roll_back(spark, str(tmp_path), {"a": 0})
    assert_df_equality(load(spark, second["a"]), spark.createDataFrame(ROWS, ROWS_SCHEMA), ignore_row_order=True,
                       ignore_nullable=True)
