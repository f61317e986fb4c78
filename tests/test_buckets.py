"""Steps fed one person bucket of ``fact_dream`` per task (``dream.model.buckets``) give the rows of the way
that reads the table through Spark and shuffles it by person (the same function on the same persons);
that way's rows are hand-checked in tests/test_spells.py and tests/test_measures.py (and those of
``noegletal``, counted one year of ``overgang_52`` per task the same way, in tests/test_model.py)."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dream.measures.benefit_share import benefit_share_from_table, build_benefit_share
from dream.measures.progression import build_progression, progression_from_table
from dream.measures.public_support import build_public_support, public_support_from_table
from dream.model.activation import activation_spells_from_table, build_activation_spells
from dream.model.buckets import map_buckets
from dream.model.fact import PERSON_BUCKET, person_bucket
from dream.model.spells import (
    RUN_INPUT, RUN_SCHEMA, build_runs, runs_from_table, runs_of, spell_months, spell_months_from_table,
)
from dream.tables import files_by_partition, write_table
from tests.test_measures import FACT, WINDOW
from dream.model.spells import DeliveredSpan
from tests.test_spells import FACT as SPELL_FACT, FIRST, LAST, write_delivery

BUCKETS = 3


@pytest.fixture(scope="module")
def tables(spark, tmp_path_factory):
    """The hand-made weeks twice: as the tests' plain table and partitioned by year and person bucket."""
    folder = str(tmp_path_factory.mktemp("buckets") / "wh")
    write_delivery(spark, folder, FACT + [r for r in SPELL_FACT if r[0] not in {f[0] for f in FACT}])
    plain = spark.read.format("delta").load(f"{folder}/fact_dream")
    write_table(plain.withColumn(PERSON_BUCKET, person_bucket(F.col("person_id"), BUCKETS)), folder,
                "fact_bucketed", ["aar", PERSON_BUCKET])
    return {"plain": plain, "bucketed": f"{folder}/fact_bucketed", "dim_tid": f"{folder}/dim_tid"}


def test_the_hand_made_persons_lie_in_several_buckets(spark, tables):
    buckets = files_by_partition(spark, tables["bucketed"], PERSON_BUCKET)
    assert buckets is not None and len(buckets) == BUCKETS


def test_raw_runs_by_bucket_equal_the_shuffled_ones(spark, tables):
    got = runs_from_table(spark, tables["bucketed"])
    assert got.count() > 10
    assert_df_equality(got, build_runs(tables["plain"]), ignore_row_order=True, ignore_nullable=True)


def test_spell_months_by_bucket_equal_the_shuffled_ones(spark, tables):
    got = spell_months_from_table(spark, tables["bucketed"])
    assert got.count() > 10
    assert_df_equality(got, spell_months(tables["plain"]), ignore_row_order=True, ignore_nullable=True)


def test_activation_spells_and_progression_by_bucket_equal_the_shuffled_ones(spark, tables):
    span = DeliveredSpan.of(FIRST.monday, LAST.monday)
    got = activation_spells_from_table(spark, tables["bucketed"], span)
    assert got.count() > 5
    assert_df_equality(got, build_activation_spells(tables["plain"], span), ignore_row_order=True,
                       ignore_nullable=True)
    got = progression_from_table(spark, tables["bucketed"], span)
    assert got.count() > 5
    assert_df_equality(got, build_progression(tables["plain"], span), ignore_row_order=True, ignore_nullable=True)


def test_the_long_window_share_by_bucket_equals_the_shuffled_one(spark, tables):
    dim_tid = spark.read.format("delta").load(tables["dim_tid"])
    got = benefit_share_from_table(spark, tables["bucketed"], dim_tid, FIRST.monday, WINDOW)
    assert got.count() > 10
    expected = build_benefit_share(tables["plain"], dim_tid, FIRST.monday, WINDOW)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_public_support_by_bucket_equals_the_shuffled_one(spark, tables):
    dim_tid = spark.read.format("delta").load(tables["dim_tid"])
    got = public_support_from_table(spark, tables["bucketed"], dim_tid, None)
    assert got.count() > 10
    expected = build_public_support(tables["plain"], dim_tid, None)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_table_without_buckets_is_shuffled_by_person(spark, tables, tmp_path):
    plain_table = str(tmp_path / "fact_plain")
    tables["plain"].write.format("delta").save(plain_table)
    got = map_buckets(spark, plain_table, RUN_INPUT, runs_of, RUN_SCHEMA)
    assert_df_equality(got, build_runs(tables["plain"]), ignore_row_order=True, ignore_nullable=True)
