"""A catalogue of malformed deliveries: each gets a clear error (and nothing is published) or its bad
cells go to quarantine with the reason, and the counts still reconcile."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dream.errors import InputError
from dream.ingest import ingest
from tests.wide import pid, write_parquet

GOOD = {"pnr": "0101701234", "koen": "M", "foed_dato": "1970-01-01", "y_2101": "130", "nykom_2021": "101"}


def structural(spark, config, tmp_path, source, message):
    warehouse = tmp_path / "warehouse"
    with pytest.raises(InputError, match=message):
        ingest(spark, str(source), str(warehouse), config, progress=False)
    published = [p.name for p in warehouse.iterdir() if not p.name.startswith("_")] if warehouse.exists() else []
    assert published == [], "nothing may be published from a failed run"


def test_no_person_column(spark, config, tmp_path):
    source = write_parquet([{k: v for k, v in GOOD.items() if k != "pnr"}], tmp_path / "d.parquet")
    structural(spark, config, tmp_path, source, r"no person column: expected one of \['pnr', 'cpr', 'cprnr'\]")


def test_no_weekly_columns(spark, config, tmp_path):
    source = write_parquet([{"pnr": "0101701234", "nykom_2021": "101"}], tmp_path / "d.parquet")
    structural(spark, config, tmp_path, source, r"no weekly benefit columns \(y_YYWW\)")


def test_truncated_parquet(spark, config, tmp_path):
    source = write_parquet([GOOD] * 50, tmp_path / "d.parquet")
    data = open(source, "rb").read()
    open(source, "wb").write(data[: len(data) // 2])
    structural(spark, config, tmp_path, source, "cannot be read as Parquet .*is the file complete")


def test_empty_file(spark, config, tmp_path):
    source = tmp_path / "d.parquet"
    source.write_bytes(b"")
    structural(spark, config, tmp_path, source, "cannot be read as Parquet")


def test_no_rows(spark, config, tmp_path):
    source = tmp_path / "d.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in GOOD}), source)
    structural(spark, config, tmp_path, source, "holds no rows")


def test_missing_input(spark, config, tmp_path):
    structural(spark, config, tmp_path, tmp_path / "nowhere.parquet", "does not exist")


def test_unknown_format(spark, config, tmp_path):
    source = tmp_path / "d.txt"
    source.write_text("pnr\n")
    structural(spark, config, tmp_path, source, "unknown input format '.txt'")


def test_empty_csv(spark, config, tmp_path):
    source = tmp_path / "d.csv"
    source.write_text("")
    structural(spark, config, tmp_path, source, "CSV file is empty")


def test_truncated_sas(spark, config, tmp_path):
    source = tmp_path / "d.xpt"
    source.write_bytes(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000")
    structural(spark, config, tmp_path, source, "SAS file cannot be read")


@pytest.fixture(scope="module")
def quarantined(spark, config, tmp_path_factory):
    """One delivery with a row-level problem of every kind beside one good person."""
    folder = tmp_path_factory.mktemp("quarantine")
    rows = [
        {**GOOD, "y_2102": "12", "y_2103": "123", "y_2104": "890", "y_2201": "890", "nykom_2022": "998",
         "grad_2021_01": "1.5", "grad_2021_02": "0.25", "grad_2021_13": "1", "y_2154": "130", "kolonne_x": "?"},
        {**GOOD, "pnr": "12345"},
        {**GOOD, "pnr": "0202801234"},
        {**GOOD, "pnr": "0202801234", "koen": "K"},
    ]
    warehouse = folder / "warehouse"
    result = ingest(spark, write_parquet(rows, folder / "d.parquet"), str(warehouse), config, progress=False)
    table = spark.read.format("delta").load(str(warehouse / "karantaene"))
    return result, {(r.tabel, r.kolonne, r.person_id, r.vaerdi, r.fejl) for r in table.collect()}, warehouse


def test_row_level_problems_go_to_quarantine_with_the_reason(quarantined):
    _, rows, _ = quarantined
    a, dup = pid("0101701234"), pid("0202801234")
    expected = {
        ("dsa_y", "y_2102", a, "12", "ydelseskoden er ikke 3 cifre"),
        ("dsa_y", "y_2103", a, "123", "ydelseskoden findes ikke i kodelisten"),
        ("dsa_nykom", "nykom_2022", a, "998", "ukendt kommunekode"),
        ("dsa_grad", "grad_2021_01", a, "1.5", "beskaeftigelsesgrad uden for 0..1"),
        ("dsa_grad", "grad_2021_13", a, "1", "kolonnenavnet har en ugyldig periode"),
        ("dsa_y", "y_2154", a, "130", "kolonnenavnet har en ugyldig periode"),
        ("dsa_y", "y_2101", pid("12345"), "130", "pnr er ikke 10 cifre"),
        ("dsa_nykom", "nykom_2021", pid("12345"), "101", "pnr er ikke 10 cifre"),
        ("dsa_borger", None, pid("12345"), None, "pnr er ikke 10 cifre"),
    }
    for _ in range(2):  # both copies of a duplicate person are quarantined, never one of them kept
        expected |= {("dsa_y", "y_2101", dup, "130", "personen findes flere gange i leverancen"),
                     ("dsa_nykom", "nykom_2021", dup, "101", "personen findes flere gange i leverancen"),
                     ("dsa_borger", None, dup, None, "personen findes flere gange i leverancen")}
    assert rows == expected


def test_quarantine_keeps_the_counts_reconciled(quarantined):
    result, _, _ = quarantined
    counts = {c.tabel: (c.input_celler, c.skrevet, c.karantaene) for c in result.counts}
    assert counts["dsa_borger"] == (4, 1, 3)
    assert counts["dsa_y"] == (9, 3, 6)  # good: 130, 890 and 890 of person A
    assert counts["dsa_grad"] == (3, 1, 2)
    assert all(c.holds for c in result.counts)


def test_unmatched_columns_are_reported_not_loaded(quarantined):
    result, _, _ = quarantined
    assert result.unmatched_columns == ["kolonne_x"]
    assert result.malformed_columns == {"y": ["y_2154"], "grad": ["grad_2021_13"]}


def test_unknown_residence_keeps_the_week_under_000(spark, quarantined):
    """nykom_2022 holds no municipality: the week of 2022 is kept, under kommune 000."""
    _, _, warehouse = quarantined
    dsa_y = spark.read.format("delta").load(str(warehouse / "dsa_y"))
    assert {(r.aar, r.uge, r.kommune) for r in dsa_y.collect()} == {(2021, 1, "101"), (2021, 4, "101"), (2022, 1, "000")}
