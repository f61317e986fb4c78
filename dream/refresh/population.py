"""``befolkning``: the 16-66 year olds per municipality, year and age, the denominator of the public-support
share and of the benchmark's rates. It comes with a delivery as ``<delivery>_befolkning.parquet`` beside it
(as ``dream synth`` writes it) or from ``--population PATH``."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.errors import InputError

TABLE = "befolkning"
COLUMNS = {"kommune": "string", "aar": "int", "alder": "int", "antal": "bigint"}


def population_source(input_path: str, explicit: str | None) -> str | None:
    """``explicit``, else the ``_befolkning.parquet`` file beside a Parquet delivery, else None."""
    if explicit:
        if not Path(explicit).exists():
            raise InputError(f"{explicit}: the population file does not exist")
        return explicit
    source = Path(input_path)
    beside = source.with_name(f"{source.stem}_befolkning.parquet")
    return str(beside) if source.is_file() and beside.is_file() else None


def read_population(spark: SparkSession, path: str) -> DataFrame:
    df = spark.read.parquet(path)
    missing = sorted(set(COLUMNS) - set(df.columns))
    if missing:
        raise InputError(f"{path}: the population table lacks the columns {missing} "
                         f"(expected {list(COLUMNS)}: 16-66 year olds per municipality, year and age)")
    return df.select(*[F.col(c).cast(t).alias(c) for c, t in COLUMNS.items()])
