"""Suppression of each period and measure of the benchmark: one ``suppress`` per (periode, maal) group, each
with the previous release's suppressed cells of the same group, so a new release cannot be differenced
against the last.

The groups are independent and small (at most one row per nonzero inner cell), their suppression is not:
seconds of Python each. So the driver collects the inner cells, and every group becomes a Spark task of
its own, the largest first, each writing its cells as Arrow. A shuffle (``cogroup``) would pack the groups
into as few tasks as their bytes suggest (two, on a laptop) and leave cores idle."""

from __future__ import annotations

import functools

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dream.benchmark.cells import DIMENSIONS, TOTAL
from dream.disclosure import Dimension, suppress
from dream.reference.kommuner import UNKNOWN_KOMMUNE, kommuner

UNKNOWN_REGION = "Uoplyst"  # residence "000": a region of its own, so the land total holds everybody
LAND = "DK"
LEVELS = ("kommune", "region", "land")
THRESHOLD = 5
KEYS = ["periode", "niveau", "omraade", *DIMENSIONS, "maal"]
CONFIDENTIAL_SCHEMA = ("periode string, niveau string, omraade string, ydelsesgruppe string, "
                       "visitationsgruppe string, aktivering string, maal string, antal long, personer long, "
                       "undertrykt boolean, aarsag string")
CONFIDENTIAL_SCHEMA_COLUMNS = [c.split()[0] for c in CONFIDENTIAL_SCHEMA.split(", ")]
PREVIOUS_SCHEMA = ("periode string, maal string, omraade string, ydelsesgruppe string, visitationsgruppe string, "
                   "aktivering string")


@functools.cache
def regions() -> dict[str, str]:
    """kommune -> region code, with unknown residence under a region of its own."""
    return {**{k.kommunekode: k.regionskode for k in kommuner()}, UNKNOWN_KOMMUNE: UNKNOWN_REGION}


def dimensions(inner: pd.DataFrame, previous: pd.DataFrame) -> list[Dimension]:
    """The dimensions of one group: the leaves found in the data or in the previous release (so its cells
    still have a place), the geography restricted to the kommuner found."""
    def leaves(column: str, found: pd.Series, total: str) -> tuple[str, ...]:
        before = previous[column] if column in previous else pd.Series([], dtype=object)
        if column == "omraade":
            before = before[before.isin(regions().keys())]
        return tuple(sorted((set(found) | set(before)) - {total}))

    geo = leaves("omraade", inner["omraade"], LAND)
    geography = Dimension("omraade", LAND, geo, ({k: regions()[k] for k in geo},), LEVELS)
    return [geography, *[Dimension.flat(d, TOTAL, leaves(d, inner[d], TOTAL)) for d in DIMENSIONS]]


def suppress_group(inner: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """One (periode, maal): every published cell with its true value, ``undertrykt`` and ``aarsag``."""
    if inner.empty:
        return pd.DataFrame(columns=CONFIDENTIAL_SCHEMA_COLUMNS)
    periode, maal = inner["periode"].iloc[0], inner["maal"].iloc[0]
    inner = inner.rename(columns={"kommune": "omraade"})
    dims = dimensions(inner, previous)
    carried = previous.assign(suppressed=True)[[d.name for d in dims] + ["suppressed"]] if len(previous) else None
    result = suppress(inner[[d.name for d in dims] + ["antal", "personer"]], dims, value="antal",
                      threshold=THRESHOLD, previous=carried, persons="personer")
    cells = result.cells.rename(columns={"omraade_niveau": "niveau", "suppressed": "undertrykt",
                                         "reason": "aarsag"})
    cells["periode"], cells["maal"] = periode, maal
    cells["antal"] = cells["antal"].astype("int64")
    cells["personer"] = cells["personer"].astype("int64")
    return cells[CONFIDENTIAL_SCHEMA_COLUMNS]


def suppress_cells(inner: DataFrame, previous: DataFrame) -> DataFrame:
    """The confidential table: all published cells of every (periode, maal) with true values and reasons."""
    spark = inner.sparkSession
    cells = inner.toPandas()
    before = previous.select(*[c.split()[0] for c in PREVIOUS_SCHEMA.split(", ")]).toPandas()
    groups = sorted(((key, frame) for key, frame in cells.groupby(["periode", "maal"], sort=True)),
                    key=lambda item: -len(item[1]))  # the largest first: the slowest tasks start first
    if not groups:
        return spark.createDataFrame([], CONFIDENTIAL_SCHEMA)
    by_group = dict(iter(before.groupby(["periode", "maal"], sort=False)))
    empty = before.iloc[:0]
    work = spark.sparkContext.broadcast([(frame, by_group.get(key, empty)) for key, frame in groups])
    schema = pa.schema([(c, pa.bool_() if c == "undertrykt" else pa.int64() if c in ("antal", "personer")
                         else pa.string()) for c in CONFIDENTIAL_SCHEMA_COLUMNS])

    def task(batches):
        for batch in batches:
            for slot in batch.column("id").to_pylist():
                frame, previous_cells = work.value[slot]
                yield pa.RecordBatch.from_pandas(suppress_group(frame, previous_cells), schema=schema,
                                                 preserve_index=False)

    return spark.range(0, len(groups), 1, len(groups)).mapInArrow(task, CONFIDENTIAL_SCHEMA)


def published(confidential: DataFrame) -> DataFrame:
    """What may leave the house: the count of a suppressed cell is NULL; no reasons, no persons."""
    return confidential.select(*KEYS, F.when(~F.col("undertrykt"), F.col("antal")).alias("antal"), "undertrykt")


def suppression_summary(confidential: DataFrame) -> DataFrame:
    """Per periode and maal: cells, suppressed cells, and how many for each reason."""
    def n(condition):
        return F.count(F.when(condition, 1)).cast("long")

    reason = F.col("aarsag")
    return (confidential.groupBy("periode", "maal")
            .agg(F.count(F.lit(1)).cast("long").alias("celler"), n(F.col("undertrykt")).alias("undertrykte"),
                 n(reason == "primær").alias("primaere"), n(reason == "sekundær").alias("sekundaere"),
                 n(reason == "overført").alias("overfoerte"))
            .select("periode", "maal", "celler", "undertrykte", "primaere", "sekundaere", "overfoerte"))
