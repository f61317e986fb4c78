"""ydelsesaktivitet_benchmark: inner cells, suppression, the confidential table, rates and releases, on a
hand-made warehouse of 16 persons in kommuner 101 and 147 (Region Hovedstaden, 1084) and 751 (1082)."""

import datetime as dt
import shutil
from operator import itemgetter

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dream.benchmark import build_benchmark
from dream.benchmark.audit import audit_benchmark
from dream.benchmark.cells import ACTIVATION_SPELLS, NOT_ACTIVATED, NOT_VISITED, POPULATION, inner_cells_of
from dream.benchmark.pipeline import CONFIDENTIAL, KEY_FIGURES, SUMMARY, TABLE
from dream.disclosure import Dimension
from dream.disclosure.audit import audit
from dream.tables import table_path, write_files, write_table

FACT = "person_id string, uge_start date, ydelsesgruppe string, aktiv boolean, aktiveringstype string, " \
       "kommune string, visitationskategori string"
SPELLS = "person_id string, forloeb_nr int, start_uge_start date"
JAN = [dt.date(2024, 1, d) for d in (1, 8, 15, 22)]  # Thursdays in January
FEB = dt.date(2024, 2, 5)
DP = "Dagpenge"
ALL = "I alt"
RECIPIENTS = "antal ydelsesmodtagere"


def fact_rows(extra_147=()):
    rows = [("p1", JAN[0], DP, False, None, "101", None), ("p1", JAN[1], DP, False, None, "101", None),
            ("p1", JAN[2], DP, False, None, "101", None), ("p1", JAN[3], DP, False, None, "147", None),
            ("p1", FEB, DP, False, None, "147", None)]
    for p in ["p2", "p3", "p4", "p5", "p6", "p7"]:  # 101: 6 persons
        rows += [(p, JAN[0], DP, p == "p2", "Virksomhedspraktik" if p == "p2" else None, "101", None),
                 (p, FEB, DP, False, None, "101", None)]
    for p in ["p8", "p9", *extra_147]:  # 147: with p1, 3 persons (+ extra)
        rows += [(p, JAN[1], DP, False, None, "147", None), (p, FEB, DP, False, None, "147", None)]
    for p in ["p10", "p11", "p12", "p13", "p14", "p15", "p16"]:  # 751: 7 persons
        rows += [(p, JAN[2], DP, False, None, "751", None), (p, FEB, DP, False, None, "751", None)]
    return rows


def make_warehouse(spark, warehouse, extra_147=()):
    write_table(spark.createDataFrame(fact_rows(extra_147), FACT), warehouse, "fact_dream", [])
    write_table(spark.createDataFrame([("p2", 1, JAN[0])], SPELLS), warehouse, "fact_aktivering", [])
    pop = [("101", 2024, 30, 1000), ("147", 2024, 30, 500), ("751", 2024, 30, 2000), ("751", 2024, 70, 99)]
    write_table(spark.createDataFrame(pop, "kommune string, aar int, alder int, antal long"), warehouse,
                "befolkning", [])


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp("benchmark"))
    make_warehouse(spark, warehouse)
    versions = build_benchmark(spark, warehouse)
    return warehouse, versions


def read(spark, warehouse, name):
    return spark.read.format("delta").load(table_path(warehouse, name))


def totals(df):
    """The cells with every non-geographic dimension at I alt."""
    return df.where((F.col("ydelsesgruppe") == ALL) & (F.col("visitationsgruppe") == ALL)
                    & (F.col("aktivering") == ALL))


def test_each_person_once_per_month_in_the_cell_of_the_last_week(spark, built):
    warehouse, versions = built
    assert set(versions) == {TABLE, CONFIDENTIAL, KEY_FIGURES, SUMMARY}
    cells = totals(read(spark, warehouse, CONFIDENTIAL)).where(
        (F.col("maal") == RECIPIENTS) & (F.col("periode") == "2024-01"))
    # p1: 4 January weeks, 3 in 101 and the last in 147 -> once, in 147
    expected = spark.createDataFrame(
        [("kommune", "101", 6), ("kommune", "147", 3), ("kommune", "751", 7), ("region", "1084", 9),
         ("region", "1082", 7), ("land", "DK", 16)], "niveau string, omraade string, antal long")
    assert_df_equality(cells.select("niveau", "omraade", "antal"), expected, ignore_row_order=True)


def test_inner_cells_count_spells_in_their_persons_cell_and_their_distinct_persons():
    # a: two January weeks in 101, active in the first; b and c: 147, not active. Spells: two of a in January
    # (2 spells, 1 person), one of b; a's February spell has no benefit month, x has no weeks: not counted.
    weeks = pa.table({
        "person_id": ["a", "a", "b", "c"], "uge_start": [JAN[0], JAN[1], JAN[0], JAN[2]],
        "ydelsesgruppe": [DP] * 4, "kommune": ["101", "101", "147", "147"], "visitationskategori": [None] * 4,
        "aktiv": [True, False, False, False], "aktiveringstype": ["Virksomhedspraktik", None, None, None],
    })
    spells = pa.table({"person_id": ["a", "a", "b", "a", "x"],
                       "periode": ["2024-01", "2024-01", "2024-01", "2024-02", "2024-01"]})
    got = inner_cells_of(weeks, dt.date(2024, 1, 1), spells).to_pylist()
    a_cell = {"periode": "2024-01", "kommune": "101", "ydelsesgruppe": DP, "visitationsgruppe": NOT_VISITED,
              "aktivering": "Virksomhedspraktik"}
    bc_cell = {**a_cell, "kommune": "147", "aktivering": NOT_ACTIVATED}
    expected = [{**a_cell, "maal": RECIPIENTS, "antal": 1, "personer": 1},
                {**bc_cell, "maal": RECIPIENTS, "antal": 2, "personer": 2},
                {**a_cell, "maal": ACTIVATION_SPELLS, "antal": 2, "personer": 1},
                {**bc_cell, "maal": ACTIVATION_SPELLS, "antal": 1, "personer": 1}]
    key = itemgetter("maal", "kommune")
    assert sorted(got, key=key) == sorted(expected, key=key)


def test_small_cell_is_suppressed_and_kept_in_the_confidential_table(spark, built):
    warehouse, _ = built
    key = (F.col("omraade") == "147") & (F.col("maal") == RECIPIENTS) & (F.col("periode") == "2024-01")
    public = totals(read(spark, warehouse, TABLE)).where(key).select("antal", "undertrykt").collect()
    assert [(r.antal, r.undertrykt) for r in public] == [(None, True)]
    secret = totals(read(spark, warehouse, CONFIDENTIAL)).where(key).select("antal", "aarsag").collect()
    assert [(r.antal, r.aarsag) for r in secret] == [(3, "primær")]


def test_secondary_suppression_passes_the_audit(spark, built):
    warehouse, _ = built
    public = read(spark, warehouse, TABLE).where(F.col("maal") != "antal borgere 16-66 år").toPandas()
    region = {"101": "1084", "147": "1084", "751": "1082"}
    summary = read(spark, warehouse, SUMMARY).toPandas()
    assert summary["sekundaere"].sum() > 0
    for (periode, maal), cells in public.groupby(["periode", "maal"]):
        found = tuple(sorted(cells.loc[cells.niveau == "kommune", "omraade"].unique()))
        geo = Dimension("omraade", "DK", found, ({k: region[k] for k in found},), ("kommune", "region", "land"))
        dims = [geo, *[Dimension.flat(d, ALL, sorted(set(cells[d]) - {ALL}))
                       for d in ("ydelsesgruppe", "visitationsgruppe", "aktivering")]]
        frame = cells.rename(columns={"niveau": "omraade_niveau", "undertrykt": "suppressed"})
        result = audit(frame, dims, value="antal")
        result.raise_if_failed()
        row = summary[(summary.periode == periode) & (summary.maal == maal)].iloc[0]
        assert row.undertrykte == frame["suppressed"].sum() == row.primaere + row.sekundaere + row.overfoerte


def test_the_warehouse_audit_passes_and_catches_a_published_secondary_cell(spark, built, tmp_path):
    warehouse, _ = built
    summary, results = audit_benchmark(spark, warehouse)
    assert all(r.ok for r in results)
    assert summary[["afsloerede", "under_taerskel"]].to_numpy().sum() == 0
    recorded = read(spark, warehouse, SUMMARY).where(F.col("maal") != POPULATION).toPandas()
    both = summary.merge(recorded, on=["periode", "maal"], suffixes=("", "_recorded"))
    assert len(both) == len(summary) == len(recorded) == 4  # January: 3 measures; February: recipients only
    assert (both.undertrykte == both.undertrykte_recorded).all() and both.undertrykte.sum() > 0

    # Publish 101's recipients of January 2024 (6): region 1084 (9) - 101 gives 147's 3 away.
    public = read(spark, warehouse, TABLE)
    cells = public.toPandas()
    leak = ((cells.omraade == "101") & (cells.maal == RECIPIENTS) & (cells.periode == "2024-01")
            & (cells.ydelsesgruppe == ALL) & (cells.visitationsgruppe == ALL) & (cells.aktivering == ALL))
    assert cells.loc[leak, "undertrykt"].tolist() == [True]
    cells.loc[leak, ["antal", "undertrykt"]] = [6, False]
    leaked = str(tmp_path / "leaked")
    write_table(spark.createDataFrame(cells, public.schema), leaked, TABLE, [])
    summary, results = audit_benchmark(spark, leaked)
    failing = summary[summary.afsloerede > 0]
    assert failing[["periode", "maal"]].values.tolist() == [["2024-01", RECIPIENTS]]
    problems = next(r for r in results if not r.ok).problems
    assert ("147", "kommune") in set(zip(problems.omraade, problems.omraade_niveau))


def test_rates_and_ranks_null_where_suppressed(spark, built):
    warehouse, _ = built
    figures = totals(read(spark, warehouse, KEY_FIGURES)).where(
        (F.col("maal") == RECIPIENTS) & (F.col("periode") == "2024-01") & (F.col("niveau") == "kommune"))
    # 147 (3) is primary; 101 goes with it (secondary), else 1084 - 101 would give 147 away
    expected = spark.createDataFrame(
        [("101", 1000, None, None, None), ("147", 500, None, None, None), ("751", 2000, 3.5, 1, 1)],
        "omraade string, befolkning long, pr_1000 double, rang int, antal_rangeret long")
    assert_df_equality(figures.select("omraade", "befolkning", "pr_1000", "rang", "antal_rangeret"), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_change_on_previous_month(spark, built):
    warehouse, _ = built
    feb = totals(read(spark, warehouse, KEY_FIGURES)).where(
        (F.col("maal") == RECIPIENTS) & (F.col("periode") == "2024-02") & (F.col("omraade") == "751"))
    assert [(r.aendring_antal, r.aendring_pr_1000, r.pr_1000_12_mdr) for r in feb.collect()] == [(0, 0.0, 3.5)]


def test_regional_and_national_rates(spark, built):
    warehouse, _ = built
    figures = totals(read(spark, warehouse, KEY_FIGURES)).where(
        (F.col("maal") == RECIPIENTS) & (F.col("periode") == "2024-01") & (F.col("omraade") == "751"))
    assert [(r.pr_1000_region, r.pr_1000_land) for r in figures.collect()] == [(3.5, 16 * 1000 / 3500)]


def test_second_release_keeps_suppressed_cells_suppressed(spark, built, tmp_path):
    warehouse = str(tmp_path / "second")
    shutil.copytree(built[0], warehouse)  # the first release, as built
    make_warehouse(spark, warehouse, extra_147=("p17", "p18"))  # 147 now holds 5 in January
    build_benchmark(spark, warehouse)
    key = (F.col("omraade") == "147") & (F.col("maal") == RECIPIENTS) & (F.col("periode") == "2024-01")
    rows = totals(read(spark, warehouse, CONFIDENTIAL)).where(key).collect()
    assert [(r.antal, r.undertrykt, r.aarsag) for r in rows] == [(5, True, "overført")]


# key_figures on hand-made cells of one cell (Dagpenge, I alt, I alt, recipients) of four kommuner: 101 and
# 147 (1,000 residents each), 751 (2,000) and 153 (500) in 2024; only 751 has residents in 2023. 147 is
# suppressed in February; 153 has no February; 101's 2023-03 has no rate (no residents that year).
PUBLISHED = ("periode string, niveau string, omraade string, ydelsesgruppe string, visitationsgruppe string, "
             "aktivering string, maal string, antal long, undertrykt boolean")
HAND_MADE = [("2023-03", "101", 7, False), ("2023-12", "751", 30, False),
             ("2024-01", "101", 10, False), ("2024-01", "147", 10, False), ("2024-01", "751", 40, False),
             ("2024-01", "153", 2, False),
             ("2024-02", "101", 12, False), ("2024-02", "147", None, True), ("2024-02", "751", 40, False),
             ("2024-03", "101", 14, False), ("2024-03", "147", 9, False), ("2024-03", "751", 28, False),
             ("2024-03", "153", 3, False)]
RESIDENTS = [(2023, "kommune", "751", 2000), (2024, "kommune", "101", 1000), (2024, "kommune", "147", 1000),
             (2024, "kommune", "751", 2000), (2024, "kommune", "153", 500)]
POP = "aar int, niveau string, omraade string, befolkning long"


def key_figures_of(spark, folder, published, pop):
    """The key figures table written from ``published`` cells (a Delta table of two files) as the benchmark
    writes it."""
    from dream.benchmark.publish import KEYS
    from dream.benchmark.rates import NOEGLETAL_ARROW, key_figures_files

    published_path, figures = str(folder / "published"), str(folder / "figures")
    published.repartition(2).write.format("delta").save(published_path)
    write_files(spark, figures, NOEGLETAL_ARROW, [], KEYS,
                lambda run_id: key_figures_files(spark, published_path, figures, run_id, pop))
    return spark.read.format("delta").load(figures)


@pytest.fixture(scope="module")
def hand_made_figures(spark, tmp_path_factory):
    published = spark.createDataFrame(
        [(periode, "kommune", kommune, DP, ALL, ALL, RECIPIENTS, antal, suppressed)
         for periode, kommune, antal, suppressed in HAND_MADE], PUBLISHED)
    return key_figures_of(spark, tmp_path_factory.mktemp("figures"), published, spark.createDataFrame(RESIDENTS, POP))


def test_key_figures_tied_rates_share_rank_and_percentile(spark, hand_made_figures):
    figures = hand_made_figures.select("periode", "omraade", "pr_1000", "rang", "antal_rangeret", "percentil")
    # rang: 1 + the kommuner with a higher rate; percentil: the kommuner with a lower rate / (ranked - 1)
    expected = spark.createDataFrame([
        ("2023-03", "101", None, None, None, None),  # no residents in 2023: no rate, not ranked
        ("2023-12", "751", 15.0, 1, 1, 0.0),  # ranked alone
        ("2024-01", "101", 10.0, 2, 4, 1 / 3), ("2024-01", "147", 10.0, 2, 4, 1 / 3),  # tied
        ("2024-01", "751", 20.0, 1, 4, 1.0), ("2024-01", "153", 4.0, 4, 4, 0.0),
        ("2024-02", "101", 12.0, 2, 2, 0.0), ("2024-02", "147", None, None, None, None),  # suppressed
        ("2024-02", "751", 20.0, 1, 2, 1.0),
        ("2024-03", "101", 14.0, 1, 4, 2 / 3), ("2024-03", "751", 14.0, 1, 4, 2 / 3),  # tied at the top
        ("2024-03", "147", 9.0, 3, 4, 1 / 3), ("2024-03", "153", 6.0, 4, 4, 0.0)],
        "periode string, omraade string, pr_1000 double, rang int, antal_rangeret long, percentil double")
    assert_df_equality(figures, expected, ignore_row_order=True)


def test_key_figures_change_is_null_after_a_gap_month(spark, hand_made_figures):
    figures = hand_made_figures.select("periode", "omraade", "aendring_antal", "aendring_pr_1000")
    expected = spark.createDataFrame([
        ("2023-03", "101", None, None), ("2023-12", "751", None, None),
        ("2024-01", "101", None, None),  # 2023-12 has no row of 101: not 2023-03's
        ("2024-01", "147", None, None), ("2024-01", "153", None, None),
        ("2024-01", "751", 10, 5.0),  # on December 2023, over the year boundary
        ("2024-02", "101", 2, 2.0), ("2024-02", "147", None, None), ("2024-02", "751", 0, 0.0),
        ("2024-03", "101", 2, 2.0), ("2024-03", "147", None, None),  # February suppressed
        ("2024-03", "751", -12, -6.0), ("2024-03", "153", None, None)],  # no February: not January's
        "periode string, omraade string, aendring_antal long, aendring_pr_1000 double")
    assert_df_equality(figures, expected, ignore_row_order=True)


def test_key_figures_12_months_average_null_with_a_suppressed_or_rateless_month_in_it(spark, hand_made_figures):
    figures = hand_made_figures.select("periode", "omraade", "pr_1000_12_mdr", "pr_1000_land", "pr_1000_region")
    # the month and the 11 calendar months before it, over the months that have a row
    expected = spark.createDataFrame([
        ("2023-03", "101", None), ("2023-12", "751", 15.0),
        ("2024-01", "101", None), ("2024-02", "101", None),  # 2023-03 (no rate) is in their 12 months
        ("2024-03", "101", (10.0 + 12.0 + 14.0) / 3),  # ... but not in March's
        ("2024-01", "147", 10.0), ("2024-02", "147", None), ("2024-03", "147", None),  # February suppressed
        ("2024-01", "751", (15.0 + 20.0) / 2), ("2024-02", "751", (15.0 + 20.0 + 20.0) / 3),
        ("2024-03", "751", (15.0 + 20.0 + 20.0 + 14.0) / 4),
        ("2024-01", "153", 4.0), ("2024-03", "153", (4.0 + 6.0) / 2)],  # a missing month is no suppressed one
        "periode string, omraade string, pr_1000_12_mdr double")
    assert_df_equality(figures, expected.select("*", *[F.lit(None).cast("double").alias(c)
                                                       for c in ("pr_1000_land", "pr_1000_region")]),
                       ignore_row_order=True)


def test_key_figures_refuse_a_population_with_two_rows_for_an_area(spark, tmp_path):
    published = spark.createDataFrame([("2024-01", "kommune", "101", DP, ALL, ALL, RECIPIENTS, 10, False)],
                                      PUBLISHED)
    twice = spark.createDataFrame([(2024, "kommune", "101", 1000), (2024, "kommune", "101", 900)], POP)
    with pytest.raises(ValueError, match="more than one row for aar 2024, kommune 101"):
        key_figures_of(spark, tmp_path, published, twice)
    assert not (tmp_path / "figures" / "_delta_log").exists()  # refused before anything is written
