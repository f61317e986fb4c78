"""Suppression of each period and measure of the benchmark: one ``suppress`` per (periode, maal) group, each
with the previous release's suppressed cells of the same group, so a new release cannot be differenced
against the last.

The groups are independent and small (at most one row per nonzero inner cell), their suppression is not:
seconds of Python each. So the driver collects the inner cells, and every group becomes a Spark task of
its own, the largest first, each writing its cells as a Parquet file of the confidential table (packed
into one file and committed by ``dream.tables.write_files``). A shuffle (``cogroup``) would pack the groups
into as few tasks as their bytes suggest (two, on a laptop) and leave cores idle. The published table is
written from the confidential table's files the same way: the tables are bounded by the classification
(periods x measures x cells), not by the persons, and pyarrow writes their millions of short rows in a
fraction of the time Spark's writer takes."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from dream.benchmark.cells import DIMENSIONS, TOTAL
from dream.disclosure import Dimension, suppress
from dream.errors import InputError
from dream.reference.kommuner import LAND, UNKNOWN_KOMMUNE, kommuner
from dream.tables import file_tag, filesystem, table_files, write_data_file

UNKNOWN_REGION = "Uoplyst"  # residence "000": a region of its own, so the land total holds everybody
LEVELS = ("kommune", "region", "land")
THRESHOLD = 5
KEYS = ["periode", "niveau", "omraade", *DIMENSIONS, "maal"]
CONFIDENTIAL_SCHEMA = ("periode string, niveau string, omraade string, ydelsesgruppe string, "
                       "visitationsgruppe string, aktivering string, maal string, antal long, personer long, "
                       "undertrykt boolean, aarsag string")
CONFIDENTIAL_SCHEMA_COLUMNS = [c.split()[0] for c in CONFIDENTIAL_SCHEMA.split(", ")]
CONFIDENTIAL_ARROW = pa.schema([(c, pa.bool_() if c == "undertrykt" else pa.int64() if c in ("antal", "personer")
                                 else pa.string()) for c in CONFIDENTIAL_SCHEMA_COLUMNS])
PUBLISHED_ARROW = pa.schema([*[(c, pa.string()) for c in KEYS], ("antal", pa.int64()), ("undertrykt", pa.bool_())])
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


def confidential_files(spark: SparkSession, path: str, run_id: str, inner: DataFrame, previous: DataFrame,
                       other_cells: pd.DataFrame | None = None) -> DataFrame:
    """The tasks that write the confidential table at ``path``: all published cells of every (periode, maal)
    with true values and reasons, one Parquet file per group (``write_files`` packs and commits them), plus
    one of ``other_cells`` (cells that are not suppressed: the population). One row per file: its add action."""
    cells = inner.toPandas()
    before = previous.select(*[c.split()[0] for c in PREVIOUS_SCHEMA.split(", ")]).toPandas()
    groups = sorted(((key, frame) for key, frame in cells.groupby(["periode", "maal"], sort=True)),
                    key=lambda item: -len(item[1]))  # the largest first: the slowest tasks start first
    by_group = dict(iter(before.groupby(["periode", "maal"], sort=False)))
    empty = before.iloc[:0]
    work = [(frame, by_group.get(key, empty)) for key, frame in groups]
    if other_cells is not None and len(other_cells):
        work.append((other_cells[CONFIDENTIAL_SCHEMA_COLUMNS], None))
    shared = spark.sparkContext.broadcast(work)

    def task(batches):
        for batch in batches:
            for slot in batch.column("id").to_pylist():
                frame, previous_cells = shared.value[slot]
                table = frame if previous_cells is None else suppress_group(frame, previous_cells)
                written = write_data_file(path, pa.Table.from_pandas(table, schema=CONFIDENTIAL_ARROW,
                                                                     preserve_index=False),
                                          {}, file_tag(run_id, slot), KEYS)
                yield pa.record_batch([pa.array([written.add_action()], pa.string())], names=["fil"])

    return spark.range(0, len(work), 1, max(len(work), 1)).mapInArrow(task, "fil string")


def published_of(confidential: pa.Table) -> pa.Table:
    """What may leave the house: the count of a suppressed cell is NULL; no reasons, no persons."""
    hidden = confidential.column("undertrykt")
    antal = pc.if_else(hidden, pa.scalar(None, pa.int64()), confidential.column("antal"))
    return confidential.select(KEYS).append_column("antal", antal).append_column("undertrykt", hidden)


def published_files(spark: SparkSession, confidential: str, path: str, run_id: str) -> DataFrame:
    """The tasks that write the published table at ``path`` from the confidential table's files
    (``published_of``), one file each. One row per file: its add action."""
    files = table_files(spark, confidential)
    if files is None:
        raise InputError(f"{confidential} cannot be read file by file (deletion vectors or column mapping)")
    sources = [f.location for f in files]

    def task(batches):
        for batch in batches:
            for index in batch.column("id").to_pylist():
                fs, file = filesystem(sources[index])
                cells = pq.read_table(file, filesystem=fs, read_dictionary=KEYS)
                written = write_data_file(path, published_of(cells), {}, file_tag(run_id, index), KEYS)
                yield pa.record_batch([pa.array([written.add_action()], pa.string())], names=["fil"])

    return spark.range(0, len(sources), 1, max(len(sources), 1)).mapInArrow(task, "fil string")


SUMMARY_COUNTS = ["celler", "undertrykte", "primaere", "sekundaere", "overfoerte"]
SUMMARY_ARROW = pa.schema([("periode", pa.string()), ("maal", pa.string()), *[(c, pa.int64()) for c in SUMMARY_COUNTS]])


def suppression_summary(confidential: pa.Table) -> pa.Table:
    """Per periode and maal of the confidential cells (``periode``, ``maal``, ``undertrykt``, ``aarsag``):
    cells, suppressed cells, and how many for each reason; sorted by periode and maal."""
    def flag(condition: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.fill_null(condition, False).cast(pa.int64())

    reason = confidential.column("aarsag")
    counted = pa.table({"periode": confidential.column("periode"), "maal": confidential.column("maal"),
                        "celler": pa.array(np.ones(confidential.num_rows, np.int64)),
                        "undertrykte": flag(confidential.column("undertrykt")),
                        "primaere": flag(pc.equal(reason, "primær")),
                        "sekundaere": flag(pc.equal(reason, "sekundær")),
                        "overfoerte": flag(pc.equal(reason, "overført"))})
    summed = counted.group_by(["periode", "maal"]).aggregate([(c, "sum") for c in SUMMARY_COUNTS])
    summary = pa.table({**{c: summed.column(c) for c in ("periode", "maal")},
                        **{c: summed.column(f"{c}_sum") for c in SUMMARY_COUNTS}}).cast(SUMMARY_ARROW)
    return summary.sort_by([("periode", "ascending"), ("maal", "ascending")])
