"""fact_dream on a hand-made delivery: the monthly, quarterly and yearly values laid on each week by its
Thursday (also across the turn of the year and in week 53), the group by visitation, the age; the same rows
when a year is split by municipality and when an input must be copied before it can be read file by file.

Weeks of person F (born 29 February 2000), Monday -> Thursday:
  2019-W09  25 Feb 2019 -> Thu 28 Feb 2019  (February, Q1 2019; a non-leap 28 February)
  2020-W01  30 Dec 2019 -> Thu  2 Jan 2020  (ISO year 2020: January 2020's values, not December 2019's)
  2020-W05  27 Jan 2020 -> Thu 30 Jan 2020  (January)
  2020-W09  24 Feb 2020 -> Thu 27 Feb 2020  (February)
  2020-W14  30 Mar 2020 -> Thu  2 Apr 2020  (April, Q2: March's and Q1's values do not apply)
  2020-W53  28 Dec 2020 -> Thu 31 Dec 2020  (December, Q4)
"""

import datetime as dt

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dream.ingest import ingest
from dream.model import fact
from dream.model.fact import age_on, buckets_of, person_bucket, write_fact
from tests.wide import pid, write_parquet

KJ_J, KJ_A = "Kontanthjælp (Jobparate)", "Kontanthjælp (Aktivitetsparate)"
F_PNR, G_PNR = "2902001234", "0101851234"
WEEKS = ["y_1909", "y_2001", "y_2005", "y_2009", "y_2014", "y_2053"]
DELIVERY = [
    {"pnr": F_PNR, "koen": "K", "foed_dato": "2000-02-29", **{w: "130" for w in WEEKS},
     "nykom_2019": "101", "nykom_2020": "147",
     "branche_2019_12": "A", "branche_2020_01": "B", "arbsted_2020_02": "101", "virkform_2020_04": "X",
     "grad_2020_03": "0.5", "grad_2020_04": "0.25", "grad_2020_12": "1",
     "visit_2020_1": "jobparat", "visit_2020_2": "aktivitetsparat", "match_2019_4": "1", "match_2020_4": "2",
     "ak_2019": "AK0", "ak_2020": "AK1", "afm_2020": "J"},
    # G: a benefit outside the cash-benefit families (its group stands whatever the visitation), no birth
    # date (no age), no known residence in 2020 (000).
    {"pnr": G_PNR, "koen": "M", "foed_dato": "", "y_2001": "111", "nykom_2020": "", "visit_2020_1": "aktivitetsparat"},
]
COLUMNS = ["person_id", "aar", "uge", "maaned", "kvartal", "ydelseskode", "ydelsesgruppe", "kommune",
           "visitationskategori", "matchkategori", "branche", "arbejdsstedskommune", "virkform", "grad", "akasse",
           "akasse_medlem", "alder"]
SCHEMA = ("person_id string, aar int, uge int, maaned int, kvartal int, ydelseskode string, ydelsesgruppe string, "
          "kommune string, visitationskategori string, matchkategori string, branche string, "
          "arbejdsstedskommune string, virkform string, grad double, akasse string, akasse_medlem string, alder int")


@pytest.fixture(scope="module")
def warehouse(spark, config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fact")
    ingest(spark, write_parquet(DELIVERY, folder / "d.parquet"), str(folder / "wh"), config, progress=False)
    return folder / "wh"


def built(spark, warehouse):
    write_fact(spark, str(warehouse), 2)
    return spark.read.format("delta").load(str(warehouse / "fact_dream"))


def test_values_are_laid_on_each_week_by_its_thursday(spark, warehouse):
    f, g = pid(F_PNR), pid(G_PNR)
    expected = spark.createDataFrame([
        # 28 Feb 2019: both days are a month's last day, so 19 whole years (Spark's months_between rule).
        (f, 2019, 9, 2, 1, "130", KJ_J, "101", None, None, None, None, None, None, "AK0", None, 19),
        (f, 2020, 1, 1, 1, "130", KJ_J, "147", "jobparat", None, "B", None, None, None, "AK1", "J", 19),
        (f, 2020, 5, 1, 1, "130", KJ_J, "147", "jobparat", None, "B", None, None, None, "AK1", "J", 19),
        (f, 2020, 9, 2, 1, "130", KJ_J, "147", "jobparat", None, None, "101", None, None, "AK1", "J", 19),
        (f, 2020, 14, 4, 2, "130", KJ_A, "147", "aktivitetsparat", None, None, None, "X", 0.25, "AK1", "J", 20),
        (f, 2020, 53, 12, 4, "130", KJ_J, "147", None, "2", None, None, None, 1.0, "AK1", "J", 20),
        (g, 2020, 1, 1, 1, "111", "A-dagpenge", "000", "aktivitetsparat", None, None, None, None, None, None, None,
         None),
    ], SCHEMA)
    assert_df_equality(built(spark, warehouse).select(*COLUMNS), expected, ignore_row_order=True,
                       ignore_nullable=True)


def test_the_python_bucket_rule_is_the_spark_rule(spark):
    ids = [pid(p) for p in ("0101011234", "0202021234", "0303031234", "0404041234", "0505051234")] + ["æøå", ""]
    for buckets in (2, 3, 7, 300):
        got = buckets_of(pa.array(ids), buckets).tolist()
        df = spark.createDataFrame([(i,) for i in ids], "person_id string")
        expected = [r.b for r in df.select(person_bucket(F.col("person_id"), buckets).alias("b")).collect()]
        assert got == expected and all(0 <= b < buckets for b in got)


def test_age_is_sparks_floor_of_months_between_over_12(spark):
    days = [dt.date(2019, 2, 27), dt.date(2019, 2, 28), dt.date(2020, 2, 28), dt.date(2020, 2, 29),
            dt.date(2021, 3, 31), dt.date(2021, 4, 30), dt.date(2021, 6, 29), dt.date(1999, 1, 1)]
    births = [dt.date(2000, 2, 29), dt.date(2000, 3, 31), dt.date(2000, 6, 30), dt.date(2000, 6, 29),
              dt.date(1970, 6, 30), dt.date(2001, 2, 28)]
    pairs = [(d, b) for d in days for b in births]
    df = spark.createDataFrame(pairs, "day date, birth date")
    expected = [r.age for r in df.select(F.floor(F.months_between("day", "birth") / 12).alias("age")).collect()]
    epoch = dt.date(1970, 1, 1)
    got = age_on(pa.array([(d - epoch).days for d, _ in pairs]).to_numpy(),
                 pa.array([(b - epoch).days for _, b in pairs]).to_numpy()).tolist()
    assert got == expected
    # By hand: 29 Feb 2000 is 18 on 27 Feb 2019 and 19 on 28 Feb 2019 (two month-ends: a whole month).
    assert got[0] == 18 and got[len(births)] == 19


def test_a_split_year_and_a_copied_input_give_the_same_rows(spark, warehouse, monkeypatch):
    whole = built(spark, warehouse).collect()
    monkeypatch.setattr(fact, "ROWS_PER_FACT_TASK", 1)  # every municipality of a year its own task
    assert len(fact.plan_fact_tasks({fact.WEEKS_TABLE: {2020: [
        fact.TableFile("a", {"aar": "2020", "kommune": "147"}, 5),
        fact.TableFile("b", {"aar": "2020", "kommune": "000"}, 1)]}, **{v.table: {} for v in fact.VALUES}},
        (), None)) == 2
    split = built(spark, warehouse)
    assert_df_equality(split, spark.createDataFrame(whole, split.schema), ignore_row_order=True)
    # An input table not partitioned by year cannot be read a year at a time: a plain copy is read instead.
    visit = spark.read.format("delta").load(str(warehouse / "dsa_visit"))
    visit.localCheckpoint().write.format("delta").mode("overwrite").option("overwriteSchema", "true") \
        .save(str(warehouse / "dsa_visit"))
    copied = built(spark, warehouse)
    assert_df_equality(copied, spark.createDataFrame(whole, copied.schema), ignore_row_order=True)
    assert not list((warehouse / "_staging").glob("fact-*"))  # the copy is gone

