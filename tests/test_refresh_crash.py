"""A refresh killed (SIGKILL) at ten points, one after the other: after every kill each table is readable and
holds either what the last published delivery wrote or what the new one writes, the last published set
stays readable as of its delivery, and the rerun after the last kill completes with the counts reconciled.

Each run is a real ``dream refresh`` process, killed with its Spark JVM (its whole process group) as soon as
its log shows the point was reached; the next run starts from whatever the kill left.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from dream.refresh import runs, tables_as_of
from tests.deliveries import copy_warehouse, data_tables, table_fingerprint
from tests.wide import TEST_KEY

# (what the log says, seconds to wait after it): kills between commits and in the middle of writes.
KILL_POINTS = [
    (r"Holding the refresh lock", 0.0),
    (r"Refresh 1/4: ingest", 2.0),  # reading and checking the delivery
    (r"committed dsa_borger", 0.0),  # some long tables new, the others old
    (r"committed dsa_y ", 0.3),
    (r"Refresh 2/4: model", 0.0),  # every long table new, the model old
    (r"committed fact_dream", 0.5),
    (r"committed noegletal", 0.0),
    (r"Model 6/7|Model built", 1.0),
    (r"Refresh 4/4: publish", 0.0),  # everything new, the delivery not yet recorded
    (r"Refresh of delivery 2026-10 published", 0.0),  # recorded, not yet reported
]


def _refresh_until(source, warehouse, pattern, delay):
    """Start a refresh; SIGKILL it with its JVM once a log line matches. Returns the lines it logged."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dream.cli", "refresh", "--input", source, "--warehouse", str(warehouse), "--env", "test"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "DREAM_PSEUDONYM_KEY": TEST_KEY.decode()})
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if re.search(pattern, line):
                time.sleep(delay)
                break
        else:
            pytest.fail(f"the refresh ended (exit {process.wait()}) before {pattern!r}:\n{''.join(lines[-30:])}")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return lines


@pytest.mark.crash
def test_killed_ten_times_then_completed(spark, published, tmp_path):
    warehouse = copy_warehouse(published.after_september, tmp_path / "warehouse")
    old, new = published.september_prints, published.october_prints
    seen = {}  # (table, version) -> fingerprint: each version is read once

    for pattern, delay in KILL_POINTS:
        _refresh_until(published.october, warehouse, pattern, delay)
        assert set(data_tables(warehouse)) == set(old), f"tables appeared or vanished after a kill at {pattern!r}"
        for name in data_tables(warehouse):
            df = spark.read.format("delta").load(str(warehouse / name))
            version = spark.sql(f"DESCRIBE HISTORY delta.`{warehouse / name}` LIMIT 1").first().version
            key = (name, version)
            if key not in seen:
                seen[key] = table_fingerprint(df)
            assert seen[key] in (old[name], new[name]), f"{name} is neither old nor new after a kill at {pattern!r}"
        published_now = [r.leverance for r in runs(spark, str(warehouse)).where("status = 'publiceret'").collect()]
        leverance = "2026-10" if "2026-10" in published_now else "2026-09"
        as_of = tables_as_of(spark, str(warehouse), leverance)
        expected = new if leverance == "2026-10" else old
        assert table_fingerprint(as_of["dsa_y"]) == expected["dsa_y"]
        assert table_fingerprint(as_of["overgang_52"]) == expected["overgang_52"]

    rerun = subprocess.run(
        [sys.executable, "-m", "dream.cli", "refresh", "--input", published.october, "--warehouse", str(warehouse),
         "--env", "test", "--force"], capture_output=True, text=True, timeout=900,
        env={**os.environ, "DREAM_PSEUDONYM_KEY": TEST_KEY.decode()})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert {name: table_fingerprint(df) for name, df in tables_as_of(spark, str(warehouse), "2026-10").items()
            if name in new} == new
    reconciled = spark.read.format("delta").load(str(warehouse / "koersel_log")).orderBy("tidspunkt")
    last_run = reconciled.where(f"run_id = '{reconciled.collect()[-1].run_id}'").collect()
    assert last_run and all(r.afstemt and r.input_celler == r.skrevet + r.karantaene for r in last_run)
