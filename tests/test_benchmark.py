"""ydelsesaktivitet_benchmark: inner cells, suppression, the confidential table, rates and releases, on a
hand-made warehouse of 16 persons in kommuner 101 and 147 (Region Hovedstaden, 1084) and 751 (1082)."""

import datetime as dt
import shutil

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dream.benchmark import build_benchmark
from dream.benchmark.audit import audit_benchmark
from dream.benchmark.cells import POPULATION
from dream.benchmark.pipeline import CONFIDENTIAL, KEY_FIGURES, SUMMARY, TABLE
from dream.disclosure import Dimension
from dream.disclosure.audit import audit
from dream.tables import table_path, write_table

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
