"""Ingest on hand-made wide tables with hand-written expected long rows."""

import datetime as dt

import pyarrow.csv as pacsv
import pytest
from chispa import assert_df_equality

from dream.ingest import ingest
from tests.wide import pid, wide_table, write_parquet

D = dt.date
Y_SCHEMA = "person_id string, aar int, uge int, uge_start date, ydelseskode string, kommune string"

# Person A moves from København (101) to Frederiksberg (147) at the turn of 2020/2021; week 53 of 2020
# (Thursday 31 Dec 2020) is still 2020's and so København's. Person B has no known residence in 2020.
# The three blank forms ("", whitespace, NULL) are all dropped.
DELIVERY = [
    {"pnr": "0101701234", "koen": "M", "foed_dato": "1970-01-01",
     "y_2052": "130", "y_2053": "135", "y_2101": "", "y_2102": "730",
     "nykom_2020": "101", "nykom_2021": "147"},
    {"pnr": "0202801234", "koen": "K", "foed_dato": "1980-02-02",
     "y_2052": "  ", "y_2053": None, "y_2101": "890", "y_2102": "890",
     "nykom_2020": "", "nykom_2021": "751"},
]
EXPECTED_Y = [
    (pid("0101701234"), 2020, 52, D(2020, 12, 21), "130", "101"),
    (pid("0101701234"), 2020, 53, D(2020, 12, 28), "135", "101"),
    (pid("0101701234"), 2021, 2, D(2021, 1, 11), "730", "147"),
    (pid("0202801234"), 2021, 1, D(2021, 1, 4), "890", "751"),
    (pid("0202801234"), 2021, 2, D(2021, 1, 11), "890", "751"),
]


def load(spark, warehouse, table):
    return spark.read.format("delta").load(str(warehouse / table))


@pytest.fixture(scope="module")
def parquet_run(spark, config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ingest")
    source = write_parquet(DELIVERY, folder / "dream.parquet")
    warehouse = folder / "warehouse"
    result = ingest(spark, source, str(warehouse), config, progress=False)
    return result, warehouse


def test_weekly_rows_with_week_53_moves_and_blanks(spark, parquet_run):
    _, warehouse = parquet_run
    expected = spark.createDataFrame(EXPECTED_Y, Y_SCHEMA)
    assert_df_equality(load(spark, warehouse, "dsa_y"), expected, ignore_row_order=True, ignore_nullable=True)


def test_dsa_y_is_partitioned_by_year_and_kommune(spark, parquet_run):
    _, warehouse = parquet_run
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{warehouse / 'dsa_y'}`").first()
    assert detail.partitionColumns == ["aar", "kommune"]
    assert sorted(p.name for p in (warehouse / "dsa_y").glob("aar=2020/*")) == ["kommune=101"]


def test_persons_and_residence(spark, parquet_run):
    _, warehouse = parquet_run
    assert_df_equality(
        load(spark, warehouse, "dsa_borger"),
        spark.createDataFrame([(pid("0101701234"), "M", D(1970, 1, 1)), (pid("0202801234"), "K", D(1980, 2, 2))],
                              "person_id string, koen string, foed_dato date"),
        ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(
        load(spark, warehouse, "dsa_nykom"),
        spark.createDataFrame([(pid("0101701234"), 2020, "101", "101"), (pid("0101701234"), 2021, "147", "147"),
                               (pid("0202801234"), 2021, "751", "751")],
                              "person_id string, aar int, bopaelskommune string, kommune string"),
        ignore_row_order=True, ignore_nullable=True)


def test_reconciliation_is_reported_and_logged(spark, parquet_run):
    result, warehouse = parquet_run
    counts = {c.tabel: (c.input_celler, c.skrevet, c.karantaene) for c in result.counts}
    assert counts == {"dsa_borger": (2, 2, 0), "dsa_y": (5, 5, 0), "dsa_nykom": (3, 3, 0)}
    logged = {(r.tabel, r.input_celler, r.skrevet, r.afstemt) for r in load(spark, warehouse, "koersel_log").collect()}
    assert logged == {("dsa_borger", 2, 2, True), ("dsa_y", 5, 5, True), ("dsa_nykom", 3, 3, True)}


def test_no_cpr_number_leaves_the_input(spark, parquet_run):
    _, warehouse = parquet_run
    for table in ("dsa_y", "dsa_borger", "dsa_nykom", "karantaene", "koersel_log"):
        text = " ".join(str(v) for row in load(spark, warehouse, table).collect() for v in row)
        assert "0101701234" not in text and "0202801234" not in text


def test_csv_and_sas_inputs_give_the_same_rows(spark, config, tmp_path):
    import pyreadstat

    table = wide_table(DELIVERY)
    csv_path = tmp_path / "dream.csv"
    pacsv.write_csv(table, csv_path)
    xpt_path = tmp_path / "dream.xpt"
    pyreadstat.write_xport(table.to_pandas(), str(xpt_path), table_name="DREAM")
    expected = spark.createDataFrame(EXPECTED_Y, Y_SCHEMA)
    for source in (csv_path, xpt_path):
        warehouse = tmp_path / f"wh_{source.suffix[1:]}"
        ingest(spark, str(source), str(warehouse), config, progress=False)
        assert_df_equality(load(spark, warehouse, "dsa_y"), expected, ignore_row_order=True, ignore_nullable=True)


def test_iso_year_differs_from_calendar_year(spark, config, tmp_path):
    rows = [{"pnr": "0303901234", "koen": "K", "foed_dato": "1990-03-03", "y_1553": "111", "y_2501": "111",
             "nykom_2015": "461", "nykom_2025": "461"}]
    warehouse = tmp_path / "wh"
    ingest(spark, write_parquet(rows, tmp_path / "d.parquet"), str(warehouse), config, progress=False)
    got = {(r.aar, r.uge, r.uge_start) for r in load(spark, warehouse, "dsa_y").collect()}
    # 2015-W53 ends on Sunday 3 Jan 2016; 2025-W01 starts on Monday 30 Dec 2024.
    assert got == {(2015, 53, D(2015, 12, 28)), (2025, 1, D(2024, 12, 30))}


def test_the_pseudonym_key_stays_out_of_logs_and_query_plans(spark, config, tmp_path, caplog, monkeypatch):
    from dream.ingest.families import load_families, plan_columns
    from dream.ingest.pipeline import family_output
    from dream.ingest.pseudonym import KEY_ENV, pseudonymise
    from dream.ingest.tasks import SLICE_SCHEMA
    from dream.ingest.unpivot import Checks

    key = "distinctive-secret-key-0987654321"
    monkeypatch.setenv(KEY_ENV, key)
    source = write_parquet(DELIVERY, tmp_path / "d.parquet")
    with caplog.at_level("DEBUG"):
        ingest(spark, source, str(tmp_path / "wh"), config, progress=False)
    assert key not in caplog.text
    ids = {r.person_id for r in load(spark, tmp_path / "wh", "dsa_borger").collect()}
    assert ids == {pseudonymise(key.encode(), "0101701234"), pseudonymise(key.encode(), "0202801234")}

    spec = load_families()
    plan = plan_columns(list(DELIVERY[0]), spec, source)
    holder = spark.sparkContext.broadcast(key.encode())
    slices = spark.createDataFrame([(source, 0)], SLICE_SCHEMA)
    weekly = family_output(slices, plan, spec.families[0], Checks(frozenset(), frozenset()), holder,
                           spark.sparkContext.broadcast(frozenset()))
    executed = weekly._jdf.queryExecution().toString()
    assert "MapInArrow" in executed and key not in executed
