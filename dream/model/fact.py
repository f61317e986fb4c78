"""``fact_dream``: one row per person-week on a benefit, with the monthly, quarterly and yearly values
laid on the week by the Thursday rule (DOMAIN.md §4.2, seed 000 §9.3)."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dream.model.weeks import age_on, month_of_week, quarter_of_week, thursday
from dream.reference.codes import visitation_categories, visitation_families

FACT_COLUMNS = [
    "person_id", "aar", "uge", "uge_start", "maaned", "kvartal", "ydelseskode", "ydelsesgruppe",
    "aktiveringstype", "aktiv", "offentlig_forsoergelse", "kommune", "visitationskategori", "matchkategori",
    "branche", "arbejdsstedskommune", "virkform", "grad", "akasse", "akasse_medlem", "alder",
]
# fact_dream is partitioned by year and by person_bucket, a hash of the person id, so all the weeks of a
# person lie in the files of one bucket. Steps that go through each person's weeks in turn (overgang_52)
# read one bucket per task straight from its files, with no shuffle: a bucket is what one task holds, so
# the number of buckets grows with the weekly rows (about this many rows a bucket; at least 2).
ROWS_PER_PERSON_BUCKET = 4_000_000
PERSON_BUCKET = "person_bucket"


def person_buckets(weekly_rows: int) -> int:
    """The number of person buckets for a weekly table of ``weekly_rows`` rows."""
    return max(2, -(-weekly_rows // ROWS_PER_PERSON_BUCKET))


def person_bucket(person_id: Column, buckets: int) -> Column:
    """0 .. buckets - 1, the same for every row of a person (Spark's 64-bit xxhash of the id)."""
    return F.pmod(F.xxhash64(person_id), F.lit(buckets)).cast("int")


def group_with_visitation(group: Column, family: Column, visitation: Column) -> Column:
    """The cash-benefit families take the group of the visitation category where it is known; otherwise
    (no family, no or an unknown category) the code's own group stands."""
    variants = visitation_categories()
    pairs = []
    for name, groups in visitation_families().items():
        for category, variant in variants.items():
            pairs += [F.lit(f"{name}|{category}"), F.lit(groups[variant])]
    lookup = F.create_map(*pairs)
    return F.coalesce(lookup[F.concat_ws("|", family, F.lower(F.trim(visitation)))], group)


def with_week_calendar(y: DataFrame) -> DataFrame:
    monday = F.col("uge_start")
    return y.withColumn("maaned", month_of_week(monday)).withColumn("kvartal", quarter_of_week(monday))


def monthly_values(branche: DataFrame, arbsted: DataFrame, virkform: DataFrame, grad: DataFrame) -> DataFrame:
    """The four monthly families side by side, one row per person-month present in any of them."""
    keys = ["person_id", "aar", "maaned"]
    parts = [branche.select(*keys, "branche"), arbsted.select(*keys, "arbejdsstedskommune"),
             virkform.select(*keys, "virkform"), grad.select(*keys, "grad")]
    return reduce(lambda a, b: a.join(b, keys, "full_outer"), parts)


def build_fact(y: DataFrame, ydelse: DataFrame, borger: DataFrame, visit: DataFrame, match: DataFrame,
               monthly: DataFrame, ak: DataFrame, afm: DataFrame, buckets: int = 2) -> DataFrame:
    quarter_keys, month_keys, year_keys = ["person_id", "aar", "kvartal"], ["person_id", "aar", "maaned"], \
        ["person_id", "aar"]
    fact = (with_week_calendar(y)
            .join(F.broadcast(ydelse.select("ydelseskode", "ydelsesgruppe", "ydelsesfamilie", "aktiveringstype",
                                            "aktiv", "offentlig_forsoergelse")), "ydelseskode", "left")
            .join(visit.select(*quarter_keys, "visitationskategori"), quarter_keys, "left")
            .join(match.select(*quarter_keys, "matchkategori"), quarter_keys, "left")
            .join(monthly, month_keys, "left")
            .join(ak.select(*year_keys, "akasse"), year_keys, "left")
            .join(afm.select(*year_keys, "akasse_medlem"), year_keys, "left")
            .join(borger.select("person_id", "foed_dato"), "person_id", "left"))
    return (fact
            .withColumn("ydelsesgruppe", group_with_visitation(F.col("ydelsesgruppe"), F.col("ydelsesfamilie"),
                                                               F.col("visitationskategori")))
            .withColumn("alder", age_on(thursday(F.col("uge_start")), F.col("foed_dato")))
            .withColumn(PERSON_BUCKET, person_bucket(F.col("person_id"), buckets))
            .select(*FACT_COLUMNS, PERSON_BUCKET))
