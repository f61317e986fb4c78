"""The monthly refresh: recorded per delivery, idempotent, consistent as of a delivery, one at a time."""

import dataclasses
import subprocess
import sys
import time

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from dream.errors import ConfigError, InputError, RefreshLockedError
from dream.refresh import refresh, runs, table_versions, tables_as_of
from dream.refresh.lock import WarehouseLock
from dream.refresh.maintenance import compact, vacuum
from dream.tables import _checksum, _snapshot, files_and_bytes, most_files_in_a_partition, table_files, \
    write_table
from tests.deliveries import copy_warehouse, data_tables, fingerprints, table_fingerprint


def test_each_delivery_is_recorded_with_every_table_version(spark, published):
    log = runs(spark, str(published.warehouse)).orderBy("afsluttet").collect()
    assert [(r.leverance, r.status) for r in log] == [("2026-09", "publiceret"), ("2026-10", "publiceret")]
    september, october = (dict(r.tabelversioner) for r in log)
    tables = set(data_tables(published.warehouse))
    assert {"dsa_y", "fact_dream", "overgang_52", "noegletal", "befolkning", "ydelsesaktivitet_benchmark"} <= tables
    assert tables <= set(october) and set(september) == set(october)
    assert all(october[t] >= september[t] for t in tables)
    # Every table with data is replaced (Delta makes no commit for an empty table overwritten by nothing).
    assert all(october[t] > september[t] for t in tables if published.october_prints[t][0] > 0)
    assert log[1].sidste_uge == "y_2644" and log[0].sidste_uge == "y_2639"  # October ends in W44, September W39
    assert log[1].personer == 60 and log[1].afstemt is True


def test_tables_as_of_a_delivery_are_that_delivery(spark, published):
    warehouse = str(published.warehouse)
    as_of = tables_as_of(spark, warehouse, "2026-09")
    assert {name: table_fingerprint(df) for name, df in as_of.items() if name in published.september_prints} \
        == published.september_prints
    latest = tables_as_of(spark, warehouse)
    assert table_fingerprint(latest["dsa_y"]) == published.october_prints["dsa_y"]
    assert published.september_prints["dsa_y"] != published.october_prints["dsa_y"]
    with pytest.raises(InputError, match="no published delivery 2026-08"):
        table_versions(spark, warehouse, "2026-08")


def test_the_same_delivery_again_changes_nothing(spark, config, published, tmp_path):
    warehouse = copy_warehouse(published.warehouse, tmp_path / "wh")
    before = table_versions(spark, str(warehouse))
    again = refresh(spark, published.october, str(warehouse), config, progress=False)
    assert again.status == "uaendret" and again.versions == before
    assert {t: DeltaTable.forPath(spark, str(warehouse / t)).history(1).first().version for t in before} == before
    forced = refresh(spark, published.october, str(warehouse), config, force=True, progress=False)
    assert forced.status == "publiceret" and forced.versions["dsa_y"] > before["dsa_y"]
    assert fingerprints(spark, warehouse) == published.october_prints, "a rebuild publishes the same data"


def test_an_older_delivery_is_refused_and_nothing_changes(spark, config, published, tmp_path):
    warehouse = copy_warehouse(published.warehouse, tmp_path / "wh")
    before = table_versions(spark, str(warehouse))
    with pytest.raises(InputError, match="delivery 2026-09 is older than the published delivery 2026-10"):
        refresh(spark, published.september, str(warehouse), config, progress=False)
    assert table_versions(spark, str(warehouse)) == before
    failed = runs(spark, str(warehouse)).where(F.col("status") == "fejlet").collect()
    assert len(failed) == 1 and "older than the published" in failed[0].fejl


def test_the_delivery_month_must_cover_its_weeks(spark, config, published, tmp_path):
    with pytest.raises(InputError, match=r"delivery 2026-09 holds weeks up to y_2644 \(2026-10 by its Thursday\)"):
        refresh(spark, published.october, str(tmp_path / "wh"), config, leverance="2026-09", progress=False)


def test_a_delivery_that_lost_persons_is_refused(spark, config, published, tmp_path):
    import pyarrow.parquet as pq

    table = pq.read_table(published.october)
    half = tmp_path / "half.parquet"
    pq.write_table(table.slice(0, 30), half)
    warehouse = copy_warehouse(published.after_september, tmp_path / "wh")
    with pytest.raises(InputError, match="30 persons, 20% or more fewer than the 60 of delivery 2026-09"):
        refresh(spark, str(half), str(warehouse), config, progress=False)


def test_an_unknown_vacuum_mode_is_a_configuration_error(spark, config, published, tmp_path):
    wrong = dataclasses.replace(config, refresh=dataclasses.replace(config.refresh, vacuum="sometimes"))
    with pytest.raises(ConfigError, match="refresh.vacuum must be one of"):
        refresh(spark, published.october, str(tmp_path / "wh"), wrong, progress=False)


def test_vacuum_erases_replaced_versions(spark, tmp_path):
    warehouse = str(tmp_path)
    write_table(spark.range(10).withColumn("pnr_like", F.col("id") * 7), warehouse, "t", [])
    write_table(spark.range(3).withColumn("pnr_like", F.col("id")), warehouse, "t", [])
    old = spark.read.format("delta").option("versionAsOf", 0).load(f"{warehouse}/t")
    assert old.count() == 10
    vacuum(spark, warehouse, "t", retention_hours=0, mode="full")
    assert spark.read.format("delta").load(f"{warehouse}/t").count() == 3
    with pytest.raises(Exception, match="(?i)file.*(not exist|not found)|FileNotFound|FAILED_READ_FILE"):
        spark.read.format("delta").option("versionAsOf", 0).load(f"{warehouse}/t").collect()


def test_compaction_keeps_the_data_and_merges_files(spark, tmp_path):
    warehouse = str(tmp_path)
    df = spark.range(1000).withColumn("aar", (F.col("id") % 2).cast("int")).repartition(4)
    df.write.format("delta").partitionBy("aar").save(f"{warehouse}/t")  # four files per partition
    before = table_fingerprint(spark.read.format("delta").load(f"{warehouse}/t"))
    assert not compact(spark, warehouse, "t", below_mb=0)
    assert compact(spark, warehouse, "t", below_mb=8)
    table = DeltaTable.forPath(spark, f"{warehouse}/t")
    assert table.detail().first().numFiles == 2  # one per partition
    assert table_fingerprint(table.toDF()) == before
    assert not compact(spark, warehouse, "t", below_mb=8)  # one file per partition: nothing to pack


def test_file_counts_from_the_version_checksum_agree_with_the_log_replay(spark, tmp_path):
    # The checksum (.crc) a commit writes is read without a Spark job; without it the snapshot's state is
    # rebuilt from the log. Both must give the same files: here 3 files in aar=0, 2 in aar=1, after an append.
    path = f"{tmp_path}/t"
    df = spark.range(100).withColumn("aar", (F.col("id") % 2).cast("int"))
    df.repartition(2).write.format("delta").partitionBy("aar").save(path)
    df.where("aar = 0").repartition(1).write.format("delta").mode("append").save(path)
    flat = f"{tmp_path}/flat"
    spark.range(10).repartition(3).write.format("delta").save(flat)

    def observed():
        return (files_and_bytes(spark, path), most_files_in_a_partition(spark, path), most_files_in_a_partition(spark, flat),
                sorted((f.location, tuple(f.partition_values.items()), f.rows) for f in table_files(spark, path)))

    assert _checksum(_snapshot(spark, path)) is not None  # the fast path is the one tested first
    from_checksum = observed()
    for crc in tmp_path.glob("*/_delta_log/*.crc"):
        crc.unlink()
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    assert _checksum(_snapshot(spark, path)) is None
    assert observed() == from_checksum
    (files, size), most, most_flat, listed = from_checksum
    assert (files, most, most_flat) == (5, 3, 3)
    assert size == sum(p.stat().st_size for p in tmp_path.glob("t/aar=*/*.parquet"))
    assert len(listed) == 5 and sum(rows for *_, rows in listed) == 150  # 100 rows, then 50 appended


@pytest.mark.parametrize("adaptive", ["true", "false"])
def test_partitioned_tables_are_written_with_one_file_per_small_partition(spark, tmp_path, adaptive):
    df = spark.range(1000).withColumn("aar", (F.col("id") % 3).cast("int")).repartition(4)
    before = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", adaptive)
    try:
        write_table(df, str(tmp_path), "t", ["aar"])
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", before)
    assert DeltaTable.forPath(spark, f"{tmp_path}/t").detail().first().numFiles == 3


def test_vacuum_lite_skips_a_table_younger_than_the_retention_and_erases_an_older_one(spark, tmp_path):
    warehouse = str(tmp_path)
    write_table(spark.range(10), warehouse, "t", [])
    write_table(spark.range(3), warehouse, "t", [])
    vacuum(spark, warehouse, "t", retention_hours=1, mode="lite")  # version 0 is seconds old: skipped
    assert spark.read.format("delta").option("versionAsOf", 0).load(f"{warehouse}/t").count() == 10
    assert DeltaTable.forPath(spark, f"{warehouse}/t").history().where("operation LIKE 'VACUUM%'").count() == 0
    vacuum(spark, warehouse, "t", retention_hours=0, mode="lite")  # everything replaced is old enough
    assert spark.read.format("delta").load(f"{warehouse}/t").count() == 3
    with pytest.raises(Exception, match="(?i)file.*(not exist|not found)|FileNotFound|FAILED_READ_FILE"):
        spark.read.format("delta").option("versionAsOf", 0).load(f"{warehouse}/t").collect()


HOLD = "import sys, time; from dream.refresh.lock import WarehouseLock\nwith WarehouseLock(sys.argv[1]):\n" \
       "    print('held', flush=True); time.sleep(float(sys.argv[2]))"


def _holder(warehouse, seconds):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(warehouse), str(seconds)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_refresh_stops_with_a_clear_message(spark, config, published, tmp_path):
    holder = _holder(tmp_path, 30)
    try:
        with pytest.raises(RefreshLockedError, match=rf"another refresh is running on .*\(pid {holder.pid} on "):
            refresh(spark, published.october, str(tmp_path), config, progress=False)
        assert not (tmp_path / "dsa_y").exists()
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_can_wait_and_is_released_by_a_killed_holder(tmp_path):
    holder = _holder(tmp_path, 1.5)
    started = time.monotonic()
    with WarehouseLock(tmp_path, wait_seconds=20):
        assert time.monotonic() - started >= 0.5
    holder.wait()
    killed = _holder(tmp_path, 60)
    killed.kill()  # SIGKILL: the operating system releases the lock
    killed.wait()
    with WarehouseLock(tmp_path, wait_seconds=0):
        pass


def test_the_history_window_limits_the_published_layer(spark, config, published, tmp_path):
    one_year = dataclasses.replace(config, refresh=dataclasses.replace(config.refresh, history_years=1))
    refresh(spark, published.october, str(tmp_path), one_year, progress=False)
    years = lambda name: {r.aar for r in spark.read.format("delta").load(str(tmp_path / name))
                          .select("aar").distinct().collect()}
    assert years("dsa_y") == {2025, 2026}  # the restricted layer holds the delivery as delivered
    assert years("fact_dream") == {2026} and years("overgang_52") <= {2026}
    assert runs(spark, str(tmp_path)).first().historik_fra_aar == 2026
