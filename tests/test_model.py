"""Week fact, transitions 52 weeks on and key figures, on a hand-made delivery with hand-computed results.

The delivery's last week is 2021-W10 (Monday 8 March 2021), so a week is followed up only if its Monday
+ 364 days is at most 8 March 2021, i.e. up to 2020-W11; later weeks are censored.
"""

import datetime as dt
import threading

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dream.errors import InputError
from dream.ingest import ingest
from dream.model.fact import ROWS_PER_PERSON_BUCKET, person_bucket, person_buckets
from dream.model.keyfigures import COUNTS, NOEGLETAL_ARROW, key_figures_of
from dream.model.pipeline import build_model
from tests.deliveries import copy_warehouse
from tests.wide import pid, write_parquet

FORTSAT, ANDEN, IKKE = "Modtager fortsat ydelsen", "Modtager anden ydelse", "Modtager ikke længere ydelser"
KJ_J, KJ_A = "Kontanthjælp (Jobparate)", "Kontanthjælp (Aktivitetsparate)"
A, B, C, D, E = "0101701234", "0202801234", "0303901234", "0404601234", "0505851234"
WEEKS = ["y_1938", "y_2010", "y_2011", "y_2037", "y_2038", "y_2039", "y_2109", "y_2110"]


def person(pnr, **cells):
    row = {"pnr": pnr, "koen": "K", "foed_dato": "1970-06-30", **{w: "" for w in WEEKS}}
    row.update(cells)
    return row


DELIVERY = [
    # A moves from 101 to 147; blank exactly 52 weeks after 2019-W38, on benefits either side of it.
    person(A, y_1938="130", y_2037="130", y_2039="130", nykom_2019="101", nykom_2020="147"),
    # B: 2020 has 53 weeks, so 52 weeks after 2020-W10 is 2021-W09 (same benefit), not 2021-W10 (111).
    person(B, y_2010="890", y_2109="890", y_2110="111", nykom_2020="751", nykom_2021="751"),
    # C: code 730 both times; the visitation category moves the group from job- to activity-ready.
    person(C, y_1938="730", y_2038="730", visit_2019_3="jobparat", visit_2020_3="aktivitetsparat",
           nykom_2019="101", nykom_2020="101"),
    # D: dagpenge, then dead (999) 52 weeks later; residence unknown in 2020.
    person(D, y_1938="111", y_2038="999", nykom_2019="101", nykom_2020=""),
    # E: two weeks of March 2020 with different outcomes: the month takes the last week's.
    person(E, y_2010="130", y_2011="130", y_2109="130", nykom_2020="101", nykom_2021="101"),
]


@pytest.fixture(scope="module")
def warehouse(spark, config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    ingest(spark, write_parquet(DELIVERY, folder / "d.parquet"), str(folder / "wh"), config, progress=False)
    build_model(spark, str(folder / "wh"))
    return folder / "wh"


def load(spark, warehouse, name):
    return spark.read.format("delta").load(str(warehouse / name))


def test_transitions_52_weeks_on(spark, warehouse):
    got = load(spark, warehouse, "overgang_52").select(
        "person_id", "aar", "uge", "kommune", "ydelsesgruppe", "ydelsesgruppe_52", "ydelseskode_52", "modtagerstatus")
    expected = spark.createDataFrame([
        (pid(A), 2019, 38, "101", KJ_J, "Ingen ydelse", None, IKKE),
        (pid(B), 2020, 10, "751", "Sygedagpenge", "Sygedagpenge", "890", FORTSAT),
        (pid(C), 2019, 38, "101", KJ_J, KJ_A, "730", ANDEN),
        (pid(D), 2019, 38, "101", "A-dagpenge", "Anden ydelse", "999", ANDEN),
        (pid(E), 2020, 10, "101", KJ_J, KJ_J, "130", FORTSAT),
        (pid(E), 2020, 11, "101", KJ_J, "Ingen ydelse", None, IKKE),
    ], "person_id string, aar int, uge int, kommune string, ydelsesgruppe string, ydelsesgruppe_52 string, "
       "ydelseskode_52 string, modtagerstatus string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_fact_holds_each_person_in_one_bucket(spark, warehouse):
    """fact_dream is partitioned by year and person bucket; a small delivery has the least buckets, 2."""
    fact = load(spark, warehouse, "fact_dream")
    assert spark.sql(f"DESCRIBE DETAIL delta.`{warehouse / 'fact_dream'}`").first().partitionColumns == \
        ["aar", "person_bucket"]
    buckets = {r.person_id: r.buckets for r in fact.groupBy("person_id").agg(
        F.collect_set("person_bucket").alias("buckets")).collect()}
    assert len(buckets) == 5 and all(len(b) == 1 for b in buckets.values())
    assert set().union(*map(set, buckets.values())) <= {0, 1}
    # The bucket is the rule's: the person id's hash among the 2 buckets (a reader finds a person by it).
    assert fact.where(F.col("person_bucket") != person_bucket(F.col("person_id"), 2)).count() == 0


def test_the_buckets_grow_with_the_weekly_rows():
    assert person_buckets(0) == person_buckets(ROWS_PER_PERSON_BUCKET) == 2
    assert person_buckets(3 * ROWS_PER_PERSON_BUCKET + 1) == 4
    assert person_buckets(1_200_000_000) == 300  # the national table: ~1.2 billion person-weeks


def test_fact_lays_residence_visitation_and_age_on_weeks(spark, warehouse):
    fact = {(r.person_id, r.aar, r.uge): r for r in load(spark, warehouse, "fact_dream").collect()}
    assert fact[(pid(A), 2019, 38)].kommune == "101" and fact[(pid(A), 2020, 37)].kommune == "147"
    assert fact[(pid(D), 2020, 38)].kommune == "000"
    c19, c20 = fact[(pid(C), 2019, 38)], fact[(pid(C), 2020, 38)]
    assert (c19.ydelsesgruppe, c19.visitationskategori, c19.kvartal) == (KJ_J, "jobparat", 3)
    assert (c20.ydelsesgruppe, c20.visitationskategori) == (KJ_A, "aktivitetsparat")
    assert fact[(pid(B), 2020, 10)].alder == 49  # born 30 June 1970, Thursday 5 March 2020
    assert fact[(pid(B), 2021, 9)].maaned == 3
    assert len(fact) == 13  # every non-blank person-week, censored ones included


def key_figures(spark, warehouse, period, level, area):
    rows = load(spark, warehouse, "noegletal").where(
        f"periode = '{period}' and niveau = '{level}' and omraade = '{area}'").collect()
    return {r.ydelsesgruppe: (r.antal_borgere, r.antal_fortsat, r.antal_anden, r.antal_ikke_laengere) for r in rows}


def test_key_figures_per_week_municipality_region_and_country(spark, warehouse):
    week38 = {KJ_J: (2, 0, 1, 1), "A-dagpenge": (1, 0, 1, 0), "Udvalgte ydelser": (2, 1, 0, 1)}
    assert key_figures(spark, warehouse, "2019-W38", "kommune", "101") == week38
    assert key_figures(spark, warehouse, "2019-W38", "region", "1084") == week38
    assert key_figures(spark, warehouse, "2019-W38", "land", "DK") == week38
    assert key_figures(spark, warehouse, "2020-W10", "land", "DK") == {
        "Sygedagpenge": (1, 1, 0, 0), KJ_J: (1, 1, 0, 0), "Udvalgte ydelser": (1, 1, 0, 0)}


def test_a_month_counts_each_person_once_with_their_last_week(spark, warehouse):
    # March 2020: E in weeks 10 (fortsat) and 11 (ikke længere) counts once, as ikke længere.
    assert key_figures(spark, warehouse, "2020-03", "kommune", "101") == {
        KJ_J: (1, 0, 0, 1), "Udvalgte ydelser": (1, 0, 0, 1)}


def test_statuses_add_up_to_recipients_and_shares_to_one(spark, warehouse):
    for r in load(spark, warehouse, "noegletal").collect():
        assert r.antal_fortsat + r.antal_anden + r.antal_ikke_laengere == r.antal_borgere
        assert abs(r.andel_fortsat + r.andel_anden + r.andel_ikke_laengere - 1) < 1e-9


def test_key_figures_of_sum_repeated_cells_and_count_a_kommune_without_region_in_region_null():
    # Counts of 101 (region 1084) in two rows of the same cell (two tasks' shares), 999 without a region;
    # week 53 and December of 2020.
    counts = pa.table({
        "periodetype": ["uge", "uge", "uge", "maaned"], "aar": pa.array([2020] * 4, pa.int32()),
        "nummer": pa.array([53, 53, 53, 12], pa.int32()), "kommune": ["101", "101", "999", "101"],
        "ydelsesgruppe": [KJ_J] * 4, "antal_borgere": [3, 1, 2, 4], "antal_fortsat": [1, 1, 0, 2],
        "antal_anden": [1, 0, 2, 1], "antal_ikke_laengere": [1, 0, 0, 1]}).cast(pa.schema(
            [(c, pa.int64()) if c.startswith("antal") else (c, t) for c, t in zip(
                ["periodetype", "aar", "nummer", "kommune", "ydelsesgruppe", *COUNTS],
                [pa.string(), pa.int32(), pa.int32(), pa.string(), pa.string()] + [pa.int64()] * 4)]))
    figures = key_figures_of(counts, {"101": "1084"})
    rows = sorted((tuple(r.values()) for r in figures.to_pylist()), key=str)
    assert rows == sorted([
        ("uge", "2020-W53", "kommune", "101", KJ_J, 4, 2, 1, 1, 0.5, 0.25, 0.25),
        ("uge", "2020-W53", "kommune", "999", KJ_J, 2, 0, 2, 0, 0.0, 1.0, 0.0),
        ("uge", "2020-W53", "region", "1084", KJ_J, 4, 2, 1, 1, 0.5, 0.25, 0.25),
        ("uge", "2020-W53", "region", None, KJ_J, 2, 0, 2, 0, 0.0, 1.0, 0.0),
        ("uge", "2020-W53", "land", "DK", KJ_J, 6, 2, 3, 1, 2 / 6, 3 / 6, 1 / 6),
        ("maaned", "2020-12", "kommune", "101", KJ_J, 4, 2, 1, 1, 0.5, 0.25, 0.25),
        ("maaned", "2020-12", "region", "1084", KJ_J, 4, 2, 1, 1, 0.5, 0.25, 0.25),
        ("maaned", "2020-12", "land", "DK", KJ_J, 4, 2, 1, 1, 0.5, 0.25, 0.25)], key=str)
    assert figures.schema == NOEGLETAL_ARROW


def test_an_error_in_the_measures_goes_up_after_the_benchmark_alongside_has_stopped(spark, warehouse, tmp_path):
    # The benchmark runs in a second thread beside the measures: a population table without its columns
    # stops the measures; the model waits for the benchmark's thread before the error goes up.
    copy = copy_warehouse(warehouse, tmp_path / "wh")
    spark.createDataFrame([("101",)], "kommune string").write.format("delta").save(str(copy / "befolkning"))
    with pytest.raises(InputError, match="lacks the column"):
        build_model(spark, str(copy))
    assert not [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]


def test_dimensions(spark, warehouse):
    tid = {(r.aar, r.uge): r for r in load(spark, warehouse, "dim_tid").collect()}
    assert tid[(2019, 38)].maaned_navn == "2019-09" and tid[(2021, 9)].uge_start == dt.date(2021, 3, 1)
    assert load(spark, warehouse, "dim_kommune").count() == 99
    assert load(spark, warehouse, "dim_ydelse").count() == 134
    assert load(spark, warehouse, "dim_modtagerstatus").count() == 3
