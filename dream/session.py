"""The one SparkSession factory. The Delta extension and catalog are configured here and nowhere else.

On Databricks, in a notebook or under ``spark-submit`` (any process that already has a session) the
existing session is returned untouched. Locally the Delta jars are fetched once through Spark's own
package resolution into a cache folder and reused from there on every later start.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

from dream.config import Config, load_config
from dream.errors import ConfigError, DreamError

log = logging.getLogger(__name__)

DELTA_SESSION_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
_RESOLVED_FILE = "dream-delta-package.json"


def get_spark(config: Config | None = None) -> SparkSession:
    """The active session if there is one, else a new local (or spark-submit) session with Delta."""
    existing = SparkSession.getActiveSession()
    if existing is not None:
        return existing
    config = config or load_config(os.environ.get("DREAM_ENV", "local"))
    # Python workers run the interpreter (and virtual environment) that runs the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if _launched_by_spark_submit():
        return _builder(config).getOrCreate()
    return _start_with_delta_jars(config)


def _launched_by_spark_submit() -> bool:
    # spark-submit has already resolved --packages and started the JVM; a second resolution is not wanted.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _builder(config: Config) -> SparkSession.Builder:
    builder = SparkSession.builder.appName(config.spark.app_name)
    if config.spark.master:
        builder = builder.master(config.spark.master)
    settings = {**config.spark_defaults, **config.spark.conf, **DELTA_SESSION_CONF}
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder


def _start_with_delta_jars(config: Config) -> SparkSession:
    cache = Path(config.delta.jar_cache).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    if not config.delta.packages:
        raise ConfigError("delta.packages is empty: name the Delta jar, e.g. io.delta:delta-spark_4.2_2.13:4.4.1")
    jars = _cached_jars(cache, config.delta.packages)
    if jars:
        spark = _builder(config).config("spark.jars", ",".join(jars)).getOrCreate()
        check_spark_keys(spark, {**config.spark_defaults, **config.spark.conf})
        return spark
    for package in config.delta.packages:
        builder = _builder(config).config("spark.jars.packages", package).config("spark.jars.ivy", str(cache))
        try:
            spark = builder.getOrCreate()
        except PySparkRuntimeError as exc:
            if "JAVA_GATEWAY_EXITED" not in str(exc):
                raise
            log.warning("Delta package %s could not be resolved; trying the next configured one", package)
            continue
        if package != config.delta.packages[0]:
            log.warning("Using Delta jar %s (the first configured, %s, is not available)",
                        package, config.delta.packages[0])
        _remember_package(cache, package)
        check_spark_keys(spark, {**config.spark_defaults, **config.spark.conf})
        return spark
    raise DreamError(
        f"none of the Delta packages {config.delta.packages} could be fetched into {cache}. "
        "Check the network access to the Maven repository, or copy a filled cache folder there."
    )


def _remembered(cache: Path) -> dict:
    path = cache / _RESOLVED_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _remembered_package(cache: Path, packages: list[str]) -> str | None:
    package = _remembered(cache).get("package")
    return package if package in packages else None


def _cached_jars(cache: Path, packages: list[str]) -> list[str]:
    """The jars an earlier resolution fetched, if they are all still there: no resolution needed."""
    if _remembered_package(cache, packages) is None:
        return []
    jars = _remembered(cache).get("jars", [])
    return jars if jars and all(Path(j).is_file() for j in jars) else []


def _remember_package(cache: Path, package: str) -> None:
    # Spark's resolution copies exactly the package's jar and its dependencies into <cache>/jars.
    jars = sorted(str(p) for p in (cache / "jars").glob("*.jar"))
    (cache / _RESOLVED_FILE).write_text(json.dumps({"package": package, "jars": jars}, indent=1))


def resolved_delta_package(config: Config) -> str:
    """The Delta coordinate a local session uses (what spark-submit.sh passes to --packages)."""
    cache = Path(config.delta.jar_cache).expanduser()
    return _remembered_package(cache, config.delta.packages) or config.delta.packages[0]


def check_spark_keys(spark: SparkSession, settings: dict[str, str]) -> None:
    """A mistyped ``spark.sql.*`` key would be silently ignored by Spark: refuse it instead."""
    sql_keys = [key for key in settings if key.startswith("spark.sql.")]
    if not sql_keys:
        return
    # `SET -v` lists every defined SQL setting (a few hundred rows: a small, bounded collect).
    defined = {row.key for row in spark.sql("SET -v").select("key").collect()}
    unknown = [key for key in sql_keys if key not in defined]
    if unknown:
        raise ConfigError(f"unknown Spark SQL setting(s) {unknown} in the configuration: check the spelling")


def main(argv: list[str] | None = None) -> None:
    """``python -m dream.session --env ENV`` prints the Delta package and the jar cache folder, resolving
    the package once (with a short-lived local session) if no earlier start has done so."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--env", default="local")
    config = load_config(parser.parse_args(argv).env)
    cache = Path(config.delta.jar_cache).expanduser()
    if _remembered_package(cache, config.delta.packages) is None:
        get_spark(config).stop()
    print(resolved_delta_package(config), cache)


if __name__ == "__main__":
    main()
