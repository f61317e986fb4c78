"""One SparkSession for the whole test run, tuned for tests by conf/test.yaml (UI off, two shuffle
partitions, no AQE), with Delta from the project's one session factory."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dream.config import load_config
from dream.ingest.pseudonym import KEY_ENV
from tests.wide import TEST_KEY


@pytest.fixture(scope="session")
def config():
    return load_config("test")


@pytest.fixture(scope="session")
def spark(config, tmp_path_factory):
    from dream.session import get_spark

    scratch = str(tmp_path_factory.mktemp("spark-warehouse"))
    spark_settings = dataclasses.replace(config.spark, conf={**config.spark.conf, "spark.sql.warehouse.dir": scratch})
    session = get_spark(dataclasses.replace(config, spark=spark_settings))
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _pseudonym_key():
    """A fixed test key for the whole run, so expected person ids can be computed in the tests."""
    os.environ[KEY_ENV] = TEST_KEY.decode()
    yield
    os.environ.pop(KEY_ENV, None)


@pytest.fixture(scope="session")
def deliveries(tmp_path_factory):
    """Two monthly deliveries of the same 60 synthetic persons: 2025-W01 to September 2026, and to October."""
    from dream.synth import generate
    from dream.calendar import IsoWeek, last_week_of_month, week_range

    folder = tmp_path_factory.mktemp("deliveries")
    paths = {}
    for month in (9, 10):
        weeks = week_range(IsoWeek(2025, 1), last_week_of_month(2026, month))
        paths[month] = str(generate(60, 7, folder / f"dream_2026-{month:02d}.parquet", weeks=weeks, progress=False).path)
    return paths


@pytest.fixture(scope="session")
def published(spark, config, deliveries, tmp_path_factory):
    """Deliveries 2026-09 and 2026-10 refreshed one after the other into one warehouse (see tests/deliveries.py)."""
    from dream.refresh import refresh
    from tests.deliveries import Published, copy_warehouse, fingerprints

    folder = tmp_path_factory.mktemp("published")
    state = Published(deliveries[9], deliveries[10], folder / "warehouse", folder / "after-september")
    refresh(spark, state.september, str(state.warehouse), config, progress=False)
    state.september_prints = fingerprints(spark, state.warehouse)
    copy_warehouse(state.warehouse, state.after_september)
    refresh(spark, state.october, str(state.warehouse), config, progress=False)
    state.october_prints = fingerprints(spark, state.warehouse)
    return state


@pytest.fixture(scope="session")
def run_warehouse(tmp_path_factory):
    """`dream run --env test` on 3,000 synthetic persons (a few minutes), in a configuration copied into a
    temporary folder (as tests/test_cli.py does): the warehouse the notebooks and the report are run on.
    -> {"warehouse": folder, "conf": conf folder}."""
    repo = Path(__file__).resolve().parent.parent
    tmp = tmp_path_factory.mktemp("run-warehouse")
    conf = tmp / "conf"
    conf.mkdir()
    for name in ("spark-defaults.conf", "families.yaml"):
        (conf / name).write_text((repo / "conf" / name).read_text())
    (conf / "test.yaml").write_text((repo / "conf" / "test.yaml").read_text().replace("data/", f"{tmp}/"))
    run = subprocess.run([sys.executable, "-m", "dream.cli", "run", "--env", "test", "--conf-dir", str(conf),
                          "--persons", "3000"], cwd=repo, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp / "test-warehouse" / "overgang_52" / "_delta_log").is_dir()
    return {"warehouse": tmp / "test-warehouse", "conf": conf}
