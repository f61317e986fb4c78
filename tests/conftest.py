"""One SparkSession for the whole test run, tuned for tests by conf/test.yaml (UI off, two shuffle
partitions, no AQE), with Delta from the project's one session factory."""

from __future__ import annotations

import pytest

from dream.config import load_config


@pytest.fixture(scope="session")
def config():
    return load_config("test")


@pytest.fixture(scope="session")
def spark(config, tmp_path_factory):
    from dream.session import get_spark

    session = get_spark(config)
    session.conf.set("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    """A fixed test key, so expected person ids can be computed by hand in the tests."""
    monkeypatch.setenv("DREAM_PSEUDONYM_KEY", "test-key-0123456789abcdef")
