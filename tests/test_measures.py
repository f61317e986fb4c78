"""The measure tables per municipality and month, on a hand-made ``fact_dream`` with hand-computed results.

Same delivery span as tests/test_spells.py: 2019-W01 (Monday 31 December 2018) to 2021-W07 (Monday 15
February 2021). 2019 has 52 ISO weeks, so 2019-W01..2020-W01 are 53 weeks (371 days) and 2019-W01..W52 are
52 weeks (364 days: not yet 12 months). January 2020 is 2020-W01..W05 (Thursdays 2 to 30 January), June
2020 is W23..W26. The long-window measure runs with a window of 10 weeks.
"""

from __future__ import annotations

import datetime as dt
import logging

import pyarrow as pa
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from dream.errors import ConfigError
from dream.measures.duration import duration_counts_of
from dream.measures.pipeline import build_measures, read_population
from dream.measures.public_support import build_public_support, support_cells_of
from dream.model.spells import spell_months
from dream.tables import write_table
from tests.test_spells import KJ_J, SDP, W, on, person, write_delivery

TOTAL = "Offentlig forsørgelse i alt"
WINDOW = 10

FACT = [
    # Kontanthjælp (jobparate) in 101, seen from December 2019 and January 2020.
    *person("M1", on("130", W(2019, 1), W(2020, 1))),  # 53 weeks, all passive
    *person("M2", on("130", W(2019, 1), W(2019, 51))),  # 12 months minus one week, ends in December
    *person("M3", {**on("130", W(2019, 1), W(2020, 1)), W(2019, 30): "133"}),  # active inside the last 52 weeks
    *person("M4", {**on("130", W(2019, 2), W(2020, 1)), W(2019, 1): "133"}),  # active only 53 weeks back
    *person("M5", on("130", W(2020, 2), W(2020, 3))),  # a new short spell
    *person("M6", on("783", W(2020, 1), W(2020, 5)), born=dt.date(1952, 12, 1)),  # 67: not 16-66
    *person("M7", on("890", W(2020, 3), W(2020, 5)), born=dt.date(1975, 5, 5)),
    # Activation spells in 147: status 1 and 13 weeks after the start.
    *person("G1", {W(2020, 10): "130", **on("135", W(2020, 11), W(2020, 14)), **on("130", W(2020, 15), W(2020, 23))},
            kommune="147"),  # wage subsidy; 13 weeks on (W24) blank: self-supporting
    *person("G2", {W(2020, 10): "130", **on("133", W(2020, 11), W(2020, 12)), **on("890", W(2020, 13), W(2020, 23)),
                   W(2020, 24): "521"}, kommune="147"),  # guidance; then voksenlærling 13 weeks on
    *person("G3", {W(2020, 11): "133", **on("999", W(2020, 12), W(2021, 7))}, kommune="147"),  # dead: not measured
    *person("G4", on("137", W(2021, 1), W(2021, 7)), kommune="147"),  # starts in the last 13 weeks of the data
    *person("G5", on("135", W(2019, 1), W(2019, 3)), kommune="147"),  # starts in the first week: left out
    # Public support in a 10-week window (June 2020: W17..W26) in 751.
    *person("S1", on("890", W(2020, 15), W(2020, 26)), kommune="751"),  # 10 of 10
    *person("S2", {**on("890", W(2020, 15), W(2020, 16)), **on("890", W(2020, 20), W(2020, 24))},
            kommune="751"),  # 5: W15-W16 lie before the window
    *person("S4", {**on("111", W(2020, 18), W(2020, 25)), W(2020, 26): "771"}, kommune="751"),  # 9, as Fleksjob
    *person("S5", {**on("651", W(2020, 17), W(2020, 25)), W(2020, 26): "890"}, kommune="751"),  # SU is not support: 1
]
POPULATION = [("101", 2020, 15, 500), ("101", 2020, 30, 1000), ("101", 2020, 66, 1000), ("101", 2020, 67, 700),
              ("101", 2019, 30, 9999)]


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("measures") / "wh")
    write_delivery(spark, folder, FACT)
    write_table(spark.createDataFrame(POPULATION, "kommune string, aar int, alder int, antal long"), folder,
                "befolkning", [])
    # Only the spell table the measures read (tests/test_spells.py covers build_spell_tables); the progression
    # makes its activation spells from the weeks.
    fact = spark.read.format("delta").load(f"{folder}/fact_dream")
    write_table(spell_months(fact), folder, "fact_forloeb_maaned", [])
    build_measures(spark, folder, window_weeks=WINDOW)
    return folder


def load(spark, warehouse, name):
    return spark.read.format("delta").load(f"{warehouse}/{name}")


def cell(spark, warehouse, name, periode, kommune):
    return load(spark, warehouse, name).where((F.col("periode") == periode) & (F.col("kommune") == kommune))


def test_duration_intervals_of_skema_1_in_days(spark, warehouse):
    schema = "ydelsesgruppe string, inddeling string, varighed string, antal_personer long"
    got = cell(spark, warehouse, "maaling_varighed", "2020-01", "101").where(F.col("ydelsesgruppe") == KJ_J)
    expected = spark.createDataFrame([
        (KJ_J, "maaned", "Under 1 måned", 1),  # M5: 14 days
        (KJ_J, "maaned", "12 måneder og derover", 3),  # M1, M3, M4: 371 days
        (KJ_J, "sum", "Under 12 måneder", 1),
        (KJ_J, "sum", "12 måneder og derover", 3),
        (KJ_J, "aar", "1-2 år", 3),
    ], schema)
    assert_df_equality(got.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)
    december = cell(spark, warehouse, "maaling_varighed", "2019-12", "101").where(F.col("ydelsesgruppe") == KJ_J)
    expected = spark.createDataFrame([  # M1, M3, M4: 364 days; M2: 357 days
        (KJ_J, "maaned", "11 måneder", 4), (KJ_J, "sum", "Under 12 måneder", 4)], schema)
    assert_df_equality(december.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)


def test_duration_counts_at_interval_bounds_with_null_days_and_null_kommune():
    # 364 days: under 12 months; 365: 12 months and more and 1-2 years; 3650: 10 years and more; no days
    # (NULL): in no interval; a NULL kommune is a cell of its own.
    rows = pa.table({"periode": ["2020-01"] * 5, "kommune": ["101", "101", "101", None, "101"],
                     "ydelsesgruppe": [KJ_J] * 5, "dage": pa.array([364, 365, 3650, 365, None], pa.int32())})
    counts = duration_counts_of(rows)
    got = sorted(((r["kommune"], r["sortering"], r["antal_personer"]) for r in counts.to_pylist()), key=str)
    assert got == sorted([("101", 12, 1), ("101", 14, 1),  # 364: "11 måneder", "Under 12 måneder"
                          ("101", 13, 2), ("101", 15, 2), ("101", 16, 1), ("101", 19, 1),  # 365 and 3650
                          (None, 13, 1), (None, 15, 1), (None, 16, 1)], key=str)


def test_passive_share_counts_only_12_months_and_looks_52_weeks_back(spark, warehouse):
    got = cell(spark, warehouse, "maaling_passivandel", "2020-01", "101").select(
        "ydelsesgruppe", "antal_personer", "antal_passive", "passivandel")
    expected = spark.createDataFrame(  # M1 and M4 passive, M3 active
        [(KJ_J, 3, 2, 2 / 3)], "ydelsesgruppe string, antal_personer long, antal_passive long, passivandel double")
    assert_df_equality(got, expected, ignore_nullable=True)
    # December 2019: 364 days at most, so nobody has 12 months yet.
    assert cell(spark, warehouse, "maaling_passivandel", "2019-12", "101").count() == 0


def test_public_support_full_time_persons_and_share_of_the_16_66_population(spark, warehouse):
    got = cell(spark, warehouse, "maaling_offentlig_forsoergelse", "2020-01", "101").select(
        "ydelsesgruppe", "ydelsesuger", "uger_i_perioden", "fuldtidspersoner", "antal_personer", "befolkning_16_66",
        "andel_af_befolkning")
    expected = spark.createDataFrame([
        (KJ_J, 5, 5, 1.0, 4, 2000, 1.0 / 2000),  # M1, M3, M4 one week each, M5 two
        (SDP, 3, 5, 0.6, 1, 2000, 0.6 / 2000),  # M7; M6 (67) is left out
        (TOTAL, 8, 5, 1.6, 5, 2000, 1.6 / 2000),
    ], "ydelsesgruppe string, ydelsesuger long, uger_i_perioden int, fuldtidspersoner double, antal_personer long, "
       "befolkning_16_66 long, andel_af_befolkning double")
    assert_approx_df_equality(got, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_public_support_cells_of_a_bucket_a_person_in_two_groups_and_a_week_without_municipality():
    # Thursdays 2, 9 and 16 January 2020. P1 is on two groups in January: one person in the all-groups row.
    # P2's week has no municipality: a cell of its own (NULL). P3 (67) and P4 (not public support): left out.
    mondays = [dt.date(2019, 12, 30), dt.date(2020, 1, 6), dt.date(2020, 1, 13)]
    weeks = pa.table({
        "person_id": ["P1", "P1", "P2", "P3", "P4"], "uge_start": [mondays[0], mondays[1], mondays[1], mondays[2],
                                                                   mondays[2]],
        "kommune": ["101", "101", None, "101", "101"], "ydelsesgruppe": [KJ_J, SDP, KJ_J, KJ_J, KJ_J],
        "offentlig_forsoergelse": [True, True, True, True, False], "alder": [30, 30, 40, 67, 30],
    })
    got = support_cells_of(weeks, TOTAL).cast(pa.schema([
        ("periode", pa.string()), ("kommune", pa.string()), ("ydelsesgruppe", pa.string()),
        ("ydelsesuger", pa.int64()), ("antal_personer", pa.int64())])).to_pylist()
    expected = [("2020-01", "101", KJ_J, 1, 1), ("2020-01", "101", SDP, 1, 1), ("2020-01", "101", TOTAL, 2, 1),
                ("2020-01", None, KJ_J, 1, 1), ("2020-01", None, TOTAL, 1, 1)]
    assert sorted((tuple(r.values()) for r in got), key=str) == sorted(expected, key=str)


def test_without_a_population_table_the_share_is_null_with_a_warning(spark, warehouse, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert read_population(spark, str(tmp_path)) is None
    assert "No befolkning table" in caplog.text
    rows = build_public_support(load(spark, warehouse, "fact_dream"), load(spark, warehouse, "dim_tid"), None) \
        .where("periode = '2020-01' and kommune = '101'").collect()
    assert {r.ydelsesgruppe: r.fuldtidspersoner for r in rows} == {KJ_J: 1.0, SDP: 0.6, TOTAL: 1.6}
    assert all(r.befolkning_16_66 is None and r.andel_af_befolkning is None for r in rows)


PROGRESSION_SCHEMA = ("periode string, aktiveringstype string, uger_efter_start int, antal_forloeb long, "
                      "antal_beskaeftigelse long, antal_virksomhedsrettet long, antal_andet long, "
                      "antal_ikke_opgjort long, andel_beskaeftigelse double, andel_virksomhedsrettet double, "
                      "andel_andet double")


def test_progression_1_and_13_weeks_after_an_activation_starts(spark, warehouse):
    lt, vejl, praktik = "Løntilskud, privat", "Vejledning og opkvalificering", "Virksomhedspraktik, privat"
    expected = spark.createDataFrame([
        ("2020-03", lt, 1, 1, 0, 1, 0, 0, 0.0, 1.0, 0.0),  # G1: still on wage subsidy
        ("2020-03", lt, 13, 1, 1, 0, 0, 0, 1.0, 0.0, 0.0),  # G1: blank week
        ("2020-03", vejl, 1, 2, 0, 0, 1, 1, 0.0, 0.0, 1.0),  # G2 guidance (other); G3 dead (not measured)
        ("2020-03", vejl, 13, 2, 1, 0, 0, 1, 1.0, 0.0, 0.0),  # G2 voksenlærling; G3 dead
        ("2021-01", praktik, 1, 1, 0, 1, 0, 0, 0.0, 1.0, 0.0),  # G4
        ("2021-01", praktik, 13, 1, 0, 0, 0, 1, None, None, None),  # G4: 2021-W14 is past the data
    ], PROGRESSION_SCHEMA)
    got = load(spark, warehouse, "maaling_progression").where(F.col("kommune") == "147")
    assert got.where(F.col("ydelsesgruppe") != KJ_J).count() == 0
    assert_df_equality(got.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)


def test_share_of_a_long_window_on_public_support(spark, warehouse):
    got = cell(spark, warehouse, "maaling_andel_paa_ydelse", "2020-06", "751").select(
        "ydelsesgruppe", "vindue_uger", "vindue_start", "vindue_slut", "antal_personer", "gns_uger", "gns_andel",
        "antal_76_100", "andel_76_100")
    start, end = dt.date(2020, 4, 20), dt.date(2020, 6, 22)  # 2020-W17 and W26
    expected = spark.createDataFrame([
        (SDP, WINDOW, start, end, 3, 16 / 3, 16 / 30, 1, 1 / 3),  # S1 10, S2 5, S5 1
        ("Fleksjob", WINDOW, start, end, 1, 9.0, 0.9, 1, 1.0),  # S4: 8 weeks dagpenge + 1 fleksjob
        (TOTAL, WINDOW, start, end, 4, 6.25, 0.625, 2, 0.5),
    ], "ydelsesgruppe string, vindue_uger int, vindue_start date, vindue_slut date, antal_personer long, "
       "gns_uger double, gns_andel double, antal_76_100 long, andel_76_100 double")
    assert_approx_df_equality(got, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_months_without_a_whole_window_are_left_out(spark, warehouse):
    # 10 weeks back from March 2019's last week (W13) is W04: the first month with a whole window.
    first = load(spark, warehouse, "maaling_andel_paa_ydelse").agg(F.min("periode")).first()[0]
    assert first == "2019-03"


def test_a_window_too_short_to_mean_anything_is_refused(spark, warehouse):
    with pytest.raises(ConfigError, match="window_weeks"):
        build_measures(spark, warehouse, window_weeks=4)


def test_measure_tables_carry_no_person_ids(spark, warehouse):
    for name in ("maaling_varighed", "maaling_passivandel", "maaling_offentlig_forsoergelse", "maaling_progression",
                 "maaling_andel_paa_ydelse"):
        assert "person_id" not in load(spark, warehouse, name).columns, name
