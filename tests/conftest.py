"""One SparkSession for the whole test run, tuned for tests by conf/test.yaml (UI off, two shuffle
partitions, no AQE), with Delta from the project's one session factory."""

from __future__ import annotations

import dataclasses
import os

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
