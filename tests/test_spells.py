"""Benefit spells, raw runs, activation spells and DFDG visitation spells, on a hand-made ``fact_dream``
with hand-computed results.

The delivery runs from 2019-W01 (Monday 31 December 2018, Thursday 3 January 2019) to 2021-W07 (Monday
15 February 2021). February 2021 is cut off (2021-W08 would still be February), so the last whole month
is January 2021 and a spell whose last week lies in January 2021 is still running.

Months of the 2019 weeks by their Thursday: January W01-W05, February W06-W09, March W10-W13, April
W14-W17, May W18-W22 (five weeks), June W23-W26.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import DataType

import dream.tables as tables

from dream.calendar import IsoWeek, week_range
from dream.model.activation import ACTIVATION_SCHEMA
from dream.model.dimensions import dim_tid
from dream.model.fact import PERSON_BUCKET, person_bucket
from dream.model.pipeline import build_spell_tables
from dream.model.spells import RUN_SCHEMA, SPELL_MONTH_SCHEMA, DeliveredSpan, build_spells, spell_months
from dream.model.spells import SPELL_SCHEMA as FORLOEB_SCHEMA  # SPELL_SCHEMA below: the expected rows' columns
from dream.model.visitation import build_visitation_spells
from dream.reference import code_lookup
from dream.tables import files_by_partition, write_table

FIRST, LAST = IsoWeek(2019, 1), IsoWeek(2021, 7)
KJ_J, KJ_A, SDP, AD = "Kontanthjælp (Jobparate)", "Kontanthjælp (Aktivitetsparate)", "Sygedagpenge", "A-dagpenge"
FACT_SCHEMA = ("person_id string, aar int, uge int, uge_start date, maaned int, kvartal int, ydelseskode string, "
               "ydelsesgruppe string, aktiveringstype string, aktiv boolean, offentlig_forsoergelse boolean, "
               "kommune string, visitationskategori string, matchkategori string, branche string, "
               "arbejdsstedskommune string, virkform string, grad double, akasse string, akasse_medlem string, "
               "alder int")
EVENT_SCHEMA = "person_id string, starttidspunkt timestamp, visitationskategori string"


def W(aar: int, uge: int) -> IsoWeek:
    return IsoWeek(aar, uge)


def on(code: str, first: IsoWeek, last: IsoWeek) -> dict[IsoWeek, str]:
    return {w: code for w in week_range(first, last)}


def age(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def person(person_id: str, codes: dict[IsoWeek, str], kommune: str = "101", moves: dict[IsoWeek, str] | None = None,
           born: dt.date = dt.date(1980, 1, 1), visit: str | None = None) -> list[tuple]:
    """``fact_dream`` rows of one person: group, activation type and flags from the reference data;
    ``moves``: week -> municipality from that week on."""
    lookup, rows = code_lookup(), []
    for week, code in sorted(codes.items()):
        c = lookup[code]
        here = max(((w, k) for w, k in (moves or {}).items() if w <= week), default=(None, kommune))[1]
        year, month = week.maaned
        rows.append((person_id, week.aar, week.uge, week.monday, month, (month - 1) // 3 + 1, code, c.ydelsesgruppe,
                     c.aktiveringstype, c.aktiv, c.offentlig_forsoergelse, here, visit, None, None, None, None,
                     None, None, None, age(born, week.thursday)))
    return rows


def write_delivery(spark, warehouse: str, rows: list[tuple], events: list[tuple] | None = None) -> None:
    """``fact_dream`` and ``dim_tid`` (every week FIRST..LAST) as ``build_model`` would have written them."""
    write_table(spark.createDataFrame(rows, FACT_SCHEMA).coalesce(1), warehouse, "fact_dream", [])
    weeks = spark.createDataFrame([(w.aar, w.uge, w.monday) for w in week_range(FIRST, LAST)],
                                  "aar int, uge int, uge_start date")
    write_table(dim_tid(weeks).coalesce(1), warehouse, "dim_tid", [])
    if events is not None:
        write_table(spark.createDataFrame(events, EVENT_SCHEMA), warehouse, "dfdg_visitation", [])


FACT = [
    # P1: a 3-week gap (W14-W16) leaves April with a week (W17): one spell. Moves to 147 in W17.
    *person("P1", {**on("130", W(2019, 10), W(2019, 13)), **on("130", W(2019, 17), W(2019, 20))},
            moves={W(2019, 17): "147"}),
    # P2: a 4-week gap that is all of February (W06-W09): two spells.
    *person("P2", {**on("890", W(2019, 1), W(2019, 5)), **on("890", W(2019, 10), W(2019, 12))}),
    # P3: a 4-week gap across January and February (W04-W07) covers no whole month: one spell.
    *person("P3", {**on("111", W(2019, 1), W(2019, 3)), **on("111", W(2019, 8), W(2019, 9))}),
    # P4: a 5-week gap (W17-W21): the last week of April and four of May's five: one spell.
    *person("P4", {**on("730", W(2019, 13), W(2019, 16)), **on("730", W(2019, 22), W(2019, 24))}),
    # P5: a 5-week gap (W14-W18) that holds all of April: two spells.
    *person("P5", {**on("760", W(2019, 12), W(2019, 13)), **on("760", W(2019, 19), W(2019, 20))}),
    # P6: over the 53-week year 2020 into 2021; ends in January 2021, the last whole month: still running.
    *person("P6", on("783", W(2020, 50), W(2021, 3))),
    # P7: ends in December 2020 (January 2021 wholly without): ended. Then dead: 999 is no benefit spell.
    *person("P7", {**on("890", W(2020, 49), W(2020, 52)), **on("999", W(2021, 2), W(2021, 7))}),
    # P8: passive, then wage subsidy in the last delivered week: one benefit spell, a running activation.
    *person("P8", {**on("130", W(2021, 5), W(2021, 6)), W(2021, 7): "135"}),
    # P9: dagpenge, sickness, dagpenge: the dagpenge spell is not broken by two weeks of another group.
    *person("P9", {**on("111", W(2019, 30), W(2019, 31)), **on("890", W(2019, 32), W(2019, 33)),
                   **on("111", W(2019, 34), W(2019, 35))}),
    # A1: passive, guidance, internship, passive, internship (2020): three activation spells.
    *person("A1", {**on("130", W(2020, 1), W(2020, 2)), **on("133", W(2020, 3), W(2020, 5)),
                   **on("137", W(2020, 6), W(2020, 7)), W(2020, 8): "130", W(2020, 9): "137"},
            kommune="147", visit="jobparat"),
    # A2: a blank week splits a wage subsidy; a change of benefit under the same activation type does not.
    *person("A2", {W(2020, 10): "215", W(2020, 12): "215", **on("135", W(2020, 20), W(2020, 21)),
                   W(2020, 22): "215"}, moves={W(2020, 21): "751"}),
    # A3: active in the first delivered week: it may have started before the data.
    *person("A3", on("133", W(2019, 1), W(2019, 2))),
]

EVENTS = [
    # V1: two starts on 4 March 2019 (the later one, aktivitetsparat, counts), then jobparat from Wed 20 March.
    ("V1", dt.datetime(2019, 3, 4, 9, 0), "jobparat"),
    ("V1", dt.datetime(2019, 3, 4, 14, 30), "aktivitetsparat"),
    ("V1", dt.datetime(2019, 3, 20, 10, 0), "jobparat"),
    # V2: a spell from Wed 24 April, ended by a start on 6 May 2019 (after April: not laid out in April).
    ("V2", dt.datetime(2019, 4, 24, 8, 0), "uddannelsesparat"),
    ("V2", dt.datetime(2019, 5, 6, 8, 0), "jobparat"),
    # V3: a spell of one day (Monday 1 April) that holds no Thursday.
    ("V3", dt.datetime(2019, 4, 1, 8, 0), "jobparat"),
    ("V3", dt.datetime(2019, 4, 2, 8, 0), "aktivitetsparat"),
]


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("spells") / "wh")
    write_delivery(spark, folder, FACT, EVENTS)
    build_spell_tables(spark, folder)
    return folder


def load(spark, warehouse, name, persons):
    return spark.read.format("delta").load(f"{warehouse}/{name}").where(F.col("person_id").isin(persons))


SPELL_SCHEMA = ("person_id string, ydelsesgruppe string, forloeb_nr int, start_aar int, start_uge int, slut_aar int, "
                "slut_uge int, uger int, uger_med_ydelse int, dage int, igangvaerende boolean, "
                "startet_foer_data boolean, kommune string")


def test_a_spell_breaks_only_after_a_whole_calendar_month_without_the_group(spark, warehouse):
    expected = spark.createDataFrame([
        ("P1", KJ_J, 1, 2019, 10, 2019, 20, 11, 8, 77, False, False, "147"),
        ("P2", SDP, 1, 2019, 1, 2019, 5, 5, 5, 35, False, True, "101"),
        ("P2", SDP, 2, 2019, 10, 2019, 12, 3, 3, 21, False, False, "101"),
        ("P3", AD, 1, 2019, 1, 2019, 9, 9, 5, 63, False, True, "101"),
        ("P4", KJ_A, 1, 2019, 13, 2019, 24, 12, 7, 84, False, False, "101"),
        ("P5", "Revalidering", 1, 2019, 12, 2019, 13, 2, 2, 14, False, False, "101"),
        ("P5", "Revalidering", 2, 2019, 19, 2019, 20, 2, 2, 14, False, False, "101"),
        ("P9", AD, 1, 2019, 30, 2019, 35, 6, 4, 42, False, False, "101"),
        ("P9", SDP, 1, 2019, 32, 2019, 33, 2, 2, 14, False, False, "101"),
    ], SPELL_SCHEMA)
    got = load(spark, warehouse, "fact_forloeb", ["P1", "P2", "P3", "P4", "P5", "P9"]).select(*expected.columns)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_spells_at_the_end_of_the_data_over_a_53_week_year_and_without_exit_codes(spark, warehouse):
    expected = spark.createDataFrame([
        ("P6", "Førtidspension", 1, 2020, 50, 2021, 3, 7, 7, 49, True, False, "101"),
        ("P7", SDP, 1, 2020, 49, 2020, 52, 4, 4, 28, False, False, "101"),
        ("P8", KJ_J, 1, 2021, 5, 2021, 7, 3, 3, 21, True, False, "101"),
    ], SPELL_SCHEMA)
    got = load(spark, warehouse, "fact_forloeb", ["P6", "P7", "P8"]).select(*expected.columns)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_spell_months_count_weeks_duration_and_active_weeks_as_seen_from_each_month(spark, warehouse):
    expected = spark.createDataFrame([
        # P1: March (W10-W13), April (W17, moved to 147), May (W18-W20).
        ("P1", "2019-03", 13, "101", 4, 4, 28, 0),
        ("P1", "2019-04", 17, "147", 1, 5, 56, 0),
        ("P1", "2019-05", 20, "147", 3, 8, 77, 0),
        # A1: January 2020 is W01-W05 (3 active), February W06-W09 (3 more active).
        ("A1", "2020-01", 5, "147", 5, 5, 35, 3),
        ("A1", "2020-02", 9, "147", 4, 9, 63, 6),
    ], "person_id string, periode string, uge int, kommune string, uger_i_maaned int, uger_med_ydelse int, dage int, "
       "aktive_uger_52 int")
    got = load(spark, warehouse, "fact_forloeb_maaned", ["P1", "A1"]).select(*expected.columns)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_raw_runs_are_consecutive_weeks_with_one_code(spark, warehouse):
    expected = spark.createDataFrame([
        ("P1", "130", KJ_J, 2019, 10, 2019, 13, 4, "101"),
        ("P1", "130", KJ_J, 2019, 17, 2019, 20, 4, "147"),
        ("P6", "783", "Førtidspension", 2020, 50, 2021, 3, 7, "101"),
        ("P7", "890", SDP, 2020, 49, 2020, 52, 4, "101"),
        ("P7", "999", "Anden ydelse", 2021, 2, 2021, 7, 6, "101"),
        ("P8", "130", KJ_J, 2021, 5, 2021, 6, 2, "101"),
        ("P8", "135", KJ_J, 2021, 7, 2021, 7, 1, "101"),
    ], "person_id string, ydelseskode string, ydelsesgruppe string, start_aar int, start_uge int, slut_aar int, "
       "slut_uge int, uger int, kommune string")
    got = load(spark, warehouse, "fact_ydelsesperiode", ["P1", "P6", "P7", "P8"]).select(*expected.columns)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_activation_spells_break_on_a_blank_or_passive_week_and_on_a_change_of_type(spark, warehouse):
    vejl, praktik, lt = "Vejledning og opkvalificering", "Virksomhedspraktik, privat", "Løntilskud, privat"
    expected = spark.createDataFrame([
        ("A1", 1, vejl, 2020, 3, dt.date(2019, 12, 30) + dt.timedelta(weeks=2), 2020, 5, 3, KJ_J, "133", "147",
         "jobparat", False, False),
        ("A1", 2, praktik, 2020, 6, dt.date(2020, 2, 3), 2020, 7, 2, KJ_J, "137", "147", "jobparat", False, False),
        ("A1", 3, praktik, 2020, 9, dt.date(2020, 2, 24), 2020, 9, 1, KJ_J, "137", "147", "jobparat", False, False),
        ("A2", 1, lt, 2020, 10, dt.date(2020, 3, 2), 2020, 10, 1, AD, "215", "101", None, False, False),
        ("A2", 2, lt, 2020, 12, dt.date(2020, 3, 16), 2020, 12, 1, AD, "215", "101", None, False, False),
        ("A2", 3, lt, 2020, 20, dt.date(2020, 5, 11), 2020, 22, 3, KJ_J, "135", "101", None, False, False),
        ("A3", 1, vejl, 2019, 1, dt.date(2018, 12, 31), 2019, 2, 2, KJ_J, "133", "101", None, False, True),
        ("P8", 1, lt, 2021, 7, dt.date(2021, 2, 15), 2021, 7, 1, KJ_J, "135", "101", None, True, False),
    ], "person_id string, forloeb_nr int, aktiveringstype string, start_aar int, start_uge int, start_uge_start date, "
       "slut_aar int, slut_uge int, uger int, ydelsesgruppe string, ydelseskode string, kommune string, "
       "visitationskategori string, igangvaerende boolean, startet_foer_data boolean")
    got = load(spark, warehouse, "fact_aktivering", ["A1", "A2", "A3", "P8"]).select(*expected.columns)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_visitation_spells_end_at_the_next_start_and_are_laid_out_up_to_the_last_full_month(spark):
    events = spark.createDataFrame(EVENTS, EVENT_SCHEMA)
    # April 2019 is the last full month: its last week by Thursday is W17 (Thursday 25 April).
    got = build_visitation_spells(events, dt.date(2019, 4, 30)).select(
        "person_id", "aar", "uge", "visitationskategori", "start_dato", "slut_dato", "gaelder_torsdag")
    a, j, u = "aktivitetsparat", "jobparat", "uddannelsesparat"
    open_end = dt.date(9999, 12, 31)
    v1a, v1j = (dt.date(2019, 3, 4), dt.date(2019, 3, 20)), (dt.date(2019, 3, 20), open_end)
    v3j, v3a = (dt.date(2019, 4, 1), dt.date(2019, 4, 2)), (dt.date(2019, 4, 2), open_end)
    expected = spark.createDataFrame([
        ("V1", 2019, 10, a, *v1a, True), ("V1", 2019, 11, a, *v1a, True), ("V1", 2019, 12, a, *v1a, False),
        *[("V1", 2019, uge, j, *v1j, True) for uge in range(12, 18)],
        ("V2", 2019, 17, u, dt.date(2019, 4, 24), dt.date(2019, 5, 6), True),
        ("V3", 2019, 14, j, *v3j, False),
        *[("V3", 2019, uge, a, *v3a, True) for uge in range(14, 18)],
    ], "person_id string, aar int, uge int, visitationskategori string, start_dato date, slut_dato date, "
       "gaelder_torsdag boolean")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_the_model_lays_out_dfdg_events_up_to_the_deliverys_last_full_month(spark, warehouse):
    # January 2021 is the last whole month; its last week by Thursday is 2021-W04. 2020-W53 is laid out.
    weeks = load(spark, warehouse, "fact_visitation_uge", ["V1"]).where("visitationskategori = 'jobparat'")
    rows = {(r.aar, r.uge) for r in weeks.collect()}
    assert max(rows) == (2021, 4) and (2020, 53) in rows
    assert len(rows) == 41 + 53 + 4  # 2019-W12..W52, all of 2020, 2021-W01..W04


def test_the_delivered_span_knows_which_months_are_whole():
    span = DeliveredSpan.of(FIRST.monday, LAST.monday)
    assert (span.first_full_month, span.last_full_month) == (2019 * 12 + 0, 2021 * 12 + 0)
    assert span.last_full_month_end == dt.date(2021, 1, 31)
    whole = DeliveredSpan.of(W(2019, 2).monday, W(2021, 8).monday)  # starts a week into January, ends with February
    assert (whole.first_full_month, whole.last_full_month_end) == (2019 * 12 + 1, dt.date(2021, 2, 28))


SPELL_TABLES = {  # table -> (its schema, its partition columns)
    "fact_forloeb_maaned": (SPELL_MONTH_SCHEMA, ["aar"]), "fact_forloeb": (FORLOEB_SCHEMA, ["ydelsesgruppe"]),
    "fact_ydelsesperiode": (RUN_SCHEMA, ["ydelsesgruppe"]), "fact_aktivering": (ACTIVATION_SCHEMA, ["start_aar"]),
}


def test_the_four_tables_of_a_fact_dream_by_person_bucket_equal_those_of_the_shuffle(spark, warehouse, tmp_path,
                                                                                    monkeypatch):
    """The fixture's fact_dream has no person buckets (its rows are shuffled by person); here one task per
    bucket reads the bucket's files. Same rows, schemas (as Spark reads them) and partitioning."""
    folder = str(tmp_path / "wh")
    write_delivery(spark, folder, FACT)
    weeks = spark.createDataFrame(FACT, FACT_SCHEMA)
    write_table(weeks.withColumn(PERSON_BUCKET, person_bucket(F.col("person_id"), 3)), folder, "fact_dream",
                ["aar", PERSON_BUCKET])
    assert len(files_by_partition(spark, f"{folder}/fact_dream", PERSON_BUCKET)) == 3
    monkeypatch.setattr(tables, "PACKED_FILE_BYTES", 1)  # unpacked, the files' names show the tasks
    versions = build_spell_tables(spark, folder)
    assert {versions[name] for name in SPELL_TABLES} == {0}
    for name, (ddl, partitions) in SPELL_TABLES.items():
        got, shuffled = (spark.read.format("delta").load(f"{w}/{name}") for w in (folder, warehouse))
        assert got.schema == shuffled.schema == DataType.fromDDL(ddl)  # every column nullable, as Spark wrote
        assert spark.sql(f"DESCRIBE DETAIL delta.`{folder}/{name}`").first().partitionColumns == partitions
        assert got.count() == shuffled.count() > 0
        assert got.exceptAll(shuffled).count() == 0 == shuffled.exceptAll(got).count()
    # The files are named part-<run>-<task>-<uuid>: one task per bucket wrote them.
    tasks = {p.name.split("-")[2] for name in SPELL_TABLES for p in (Path(folder) / name).rglob("*.parquet")}
    assert tasks == {"00000", "00001", "00002"}


def test_spells_from_the_month_rows_of_any_dataframe_are_those_written(spark, warehouse):
    """``build_spells`` (a spell is its last month row) on month rows shuffled by person, as a library call."""
    span = DeliveredSpan.of(FIRST.monday, LAST.monday)
    months = spell_months(spark.createDataFrame(FACT, FACT_SCHEMA))
    got = build_spells(months, span)
    written = spark.read.format("delta").load(f"{warehouse}/fact_forloeb")
    assert got.count() == written.count() > 10
    assert_df_equality(got, written.select(*got.columns), ignore_row_order=True, ignore_nullable=True)
