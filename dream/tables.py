"""Delta tables in a warehouse folder: paths, atomic overwrites, versions, commit metrics, roll-back.

Two ways to write a table. ``write_table`` hands a DataFrame to Spark's Delta writer. ``write_data_file`` +
``commit_files`` are for data that is already Arrow inside Spark tasks (the ingest): each task writes its
Parquet files straight into the table's folder with pyarrow and describes them (path, partition values,
size, rows, statistics); the driver then makes them the table's new version in ONE Delta commit through
Delta's own transaction (``DeltaLog.startTransaction().commit``), as Spark's writer would: the previous
files are removed in the same commit, so the table keeps its history (time travel, restore) and the commit
records ``numOutputRows``. Until that commit the new files are invisible to every Delta reader.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.errors import InputError

log = logging.getLogger(__name__)

STATS_STRING_LIMIT = 32  # Delta keeps string statistics to this many characters; longer ones are left out here
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_PATH_ESCAPES = set('"#%\'*/:=?\\\x7f{[]^')  # what Spark escapes in a partition folder name


def table_path(warehouse: str | Path, name: str) -> str:
    return str(Path(warehouse) / name)


def write_table(df: DataFrame, warehouse: str, name: str, partitions: list[str],
                stats_columns: list[str] | None = None) -> int:
    """Overwrite one Delta table (a single atomic commit) and return its new version.

    The rows are rebalanced on the partition columns first (Spark's REBALANCE: adaptive execution packs
    small partition values together and splits large ones to ``spark.sql.adaptive.advisoryPartitionSizeInBytes``;
    without adaptive execution, a repartition on them), so each partition gets files of a useful size
    instead of one file per task that held a row of it, and needs no compaction afterwards.
    ``stats_columns``: the columns Delta keeps min/max statistics of for data skipping (default: the
    first 32). Statistics on 64-character person ids cost write time and skip nothing."""
    path = table_path(warehouse, name)
    started = time.monotonic()
    if partitions:
        adaptive = df.sparkSession.conf.get("spark.sql.adaptive.enabled", "true").lower() == "true"
        df = df.hint("rebalance", *partitions) if adaptive else df.repartition(*partitions)  # the hint needs AQE
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if stats_columns is not None:
        writer = writer.option("delta.dataSkippingStatsColumns", ",".join(stats_columns))
    if partitions:
        writer = writer.partitionBy(*partitions)
    writer.save(path)
    version = _snapshot(df.sparkSession, path).version()  # the log's latest commit: ours (no Spark job)
    log.info("  wrote %-14s version %d in %.1f s", name, version, time.monotonic() - started)
    return version


def current_version(spark: SparkSession, warehouse: str, name: str) -> int | None:
    path = table_path(warehouse, name)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return _snapshot(spark, path).version()


def rows_written(spark: SparkSession, warehouse: str, name: str) -> int:
    """The rows the table's latest Delta commit reports having written (its own count, not ours), read
    from that commit in the log."""
    path = table_path(warehouse, name)
    version = _snapshot(spark, path).version()
    none = spark._jvm.scala.Option.empty()
    actions = _delta_log(spark, path).getChanges(version, version, none, False).next()._2().iterator()
    while actions.hasNext():
        action = actions.next()
        if action.getClass().getSimpleName() == "CommitInfo":
            metrics = action.operationMetrics()
            count = metrics.get().get("numOutputRows") if metrics.isDefined() else None
            return int(count.get()) if count is not None and count.isDefined() else -1
    return -1


def _delta_log(spark: SparkSession, path: str):
    return spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)


def _snapshot(spark: SparkSession, path: str):
    """The table's latest snapshot, read through Delta's own log code (no Spark job, no query planning)."""
    none = spark._jvm.scala.Option.empty()
    return _delta_log(spark, path).update(False, none, none)


def _checksum(snapshot):
    """The snapshot's version checksum (Delta's ``.crc`` file of the version), or None when there is none."""
    checksum = snapshot.checksumOpt()
    return checksum.get() if checksum.isDefined() else None


def files_and_bytes(spark: SparkSession, path: str) -> tuple[int, int]:
    """The number of current files of the Delta table at ``path`` and their bytes: from the version's
    checksum, which every commit writes (the snapshot's own counts rebuild its state with a Spark job)."""
    snapshot = _snapshot(spark, path)
    checksum = _checksum(snapshot)
    if checksum is not None:
        return checksum.numFiles(), checksum.tableSizeBytes()
    return snapshot.numOfFiles(), snapshot.sizeInBytes()


def _add_actions(snapshot) -> list[dict]:
    """The add actions of the snapshot's current files. The version checksum lists them for a table of few
    files (Delta's threshold; ~100): read without a Spark job. Otherwise from the snapshot's state."""
    checksum = _checksum(snapshot)
    if checksum is not None and checksum.allFiles().isDefined():
        files, adds = checksum.allFiles().get().iterator(), []
        while files.hasNext():
            adds.append(json.loads(files.next().json())["add"])
        return adds
    return [json.loads(text) for text in snapshot.allFiles().toJSON().collectAsList()]


@dataclass(frozen=True)
class TableFile:
    """One current file of a Delta table, for readers other than Spark's Delta reader (pyarrow in a task)."""

    location: str  # the file's path, or its URI
    partition_values: dict[str, str | None]
    rows: int | None  # from the file's Delta statistics, when it has them


def table_files(spark: SparkSession, path: str, partitioned_by: str | None = None) -> list[TableFile] | None:
    """The current files of the Delta table at ``path``. None when the files alone do not hold the table's
    rows as a Parquet reader sees them: the table maps column names, a file has a deletion vector (deleted
    rows), or it is not partitioned by ``partitioned_by`` (when given)."""
    snapshot = _snapshot(spark, path)
    metadata = json.loads(snapshot.metadata().json())["metaData"]
    mapping = metadata.get("configuration", {}).get("delta.columnMapping.mode", "none")
    if mapping != "none" or (partitioned_by is not None and partitioned_by not in metadata.get("partitionColumns", [])):
        return None
    files = []
    for add in _add_actions(snapshot):
        if add.get("deletionVector"):
            return None
        uri = urllib.parse.urlparse(add["path"])
        if not uri.scheme:  # relative to the table's folder, URI-encoded
            location = f"{path}/{urllib.parse.unquote(uri.path)}"
        else:  # an absolute URI (a shallow clone's files)
            location = urllib.parse.unquote(uri.path) if uri.scheme == "file" else add["path"]
        rows = json.loads(add["stats"]).get("numRecords") if add.get("stats") else None
        files.append(TableFile(location, add["partitionValues"], rows))
    return files


def most_files_in_a_partition(spark: SparkSession, path: str) -> int:
    """The most current files any one partition of the Delta table at ``path`` holds (the whole table is one
    partition when it is not partitioned); 0 for a table without files."""
    counts = Counter(json.dumps(add["partitionValues"], sort_keys=True) for add in _add_actions(_snapshot(spark, path)))
    return max(counts.values(), default=0)


def read_files(spark: SparkSession, path: str, columns: list[str]) -> pa.Table:
    """``columns`` (none a partition column) of every current file of the Delta table at ``path``, read on
    the driver with pyarrow: for a small table (thousands to a few million rows of cells)."""
    files = table_files(spark, path)
    if files is None:
        raise InputError(f"{path} cannot be read file by file (deletion vectors or column mapping)")
    parts = []
    for file in files:
        fs, location = filesystem(file.location)
        parts.append(pq.read_table(location, filesystem=fs, columns=columns))
    if parts:
        return pa.concat_tables(parts)
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark.read.format("delta").load(path).select(*columns).schema).empty_table()


def files_by_partition(spark: SparkSession, path: str, column: str) -> dict[str, list[tuple[str, dict]]] | None:
    """The current files of the Delta table at ``path`` grouped by their value of the partition column
    ``column``: value -> [(the file's path or URI, its partition values)]. None as ``table_files``."""
    files = table_files(spark, path, column)
    if files is None:
        return None
    groups: dict[str, list[tuple[str, dict]]] = {}
    for file in files:
        groups.setdefault(file.partition_values[column], []).append((file.location, file.partition_values))
    return groups


def roll_back(spark: SparkSession, warehouse: str, before: dict[str, int | None]) -> None:
    """Put every table back as it was before the run: restore the old version, or remove a new table."""
    for name, version in before.items():
        path = table_path(warehouse, name)
        if version is None:
            shutil.rmtree(path, ignore_errors=True)
        elif current_version(spark, warehouse, name) != version:
            DeltaTable.forPath(spark, path).restoreToVersion(version)
        log.warning("Rolled %s back to %s", name, "nothing" if version is None else f"version {version}")


# --- Files written by tasks, committed by the driver -------------------------------------------------------

@dataclass(frozen=True)
class DataFile:
    """One Parquet file in a table's folder, as the table's Delta log describes it."""

    path: str  # relative to the table's folder, URI-encoded (the form of the log's add actions)
    partition_values: dict[str, str | None]
    size: int
    modification_time: int  # milliseconds since 1970
    rows: int  # from the written file's own footer
    stats: str  # Delta's statistics JSON: numRecords, minValues, maxValues, nullCount

    @classmethod
    def from_add_action(cls, text: str) -> DataFile:
        add = json.loads(text)["add"]
        return cls(add["path"], add["partitionValues"], add["size"], add["modificationTime"],
                   json.loads(add["stats"])["numRecords"], add["stats"])

    def add_action(self) -> str:
        return json.dumps({"add": self._add()})

    def _add(self) -> dict:
        return {"path": self.path, "partitionValues": self.partition_values, "size": self.size,
                "modificationTime": self.modification_time, "dataChange": True, "stats": self.stats}


def file_tag(run_id: str, task: int) -> str:
    """The start of the names of the files one task of one run writes: ``run_tag(run_id)`` finds them all."""
    return f"{run_tag(run_id)}-{task:05d}"


def run_tag(run_id: str) -> str:
    return f"part-{run_id}"


def write_data_file(table: str, data: pa.Table, partition_values: dict[str, object], tag: str,
                    stats_columns: list[str]) -> DataFile:
    """Write ``data`` (the non-partition columns) as one zstd Parquet file under the table's partition folder.

    Dictionary-encoded columns are written as they are (no re-encoding) and read back as their value type;
    no Arrow schema is stored, so every Parquet reader sees plain types."""
    fs, root = filesystem(table)
    values = {k: None if v is None else str(v) for k, v in partition_values.items()}
    folder = "/".join(f"{_escape(k)}={_HIVE_NULL if v is None else _escape(v)}" for k, v in values.items())
    name = f"{tag}-{uuid.uuid4().hex[:12]}.zstd.parquet"
    relative = f"{folder}/{name}" if folder else name
    fs.create_dir(f"{root}/{folder}" if folder else root, recursive=True)
    data, dictionary = _encodings(data)
    # Parquet statistics only where Delta keeps them: elsewhere they cost write time and skip nothing.
    statistics = [c for c in stats_columns if c in data.column_names]
    writer = pq.ParquetWriter(f"{root}/{relative}", data.schema, filesystem=fs, compression="zstd",
                              store_schema=False, dictionary_pagesize_limit=64 << 20,
                              use_dictionary=dictionary or False, write_statistics=statistics or False)
    with writer:
        writer.write_table(data, row_group_size=1 << 22)
    rows = writer.writer.metadata.num_rows  # the footer just written: the file's own count
    info = fs.get_file_info(f"{root}/{relative}")
    return DataFile(urllib.parse.quote(relative, safe="/=-_.~"), values, info.size,
                    int(info.mtime.timestamp() * 1000), rows, delta_stats(data, stats_columns, rows))


def write_partitioned(table: str, data: pa.Table, partitions: list[str], tag: str, stats_columns: list[str]
                      ) -> list[DataFile]:
    """``data`` (every column of the table, the partition columns too) as one ``write_data_file`` per
    combination of the partition columns' values in it (null is a value of its own); nothing for no rows."""
    if not data.num_rows:
        return []
    if not partitions:
        return [write_data_file(table, data, {}, tag, stats_columns)]
    keys = np.stack([_value_numbers(data.column(c)) for c in partitions], axis=1)
    group = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    files = []
    for start, end in zip(starts, [*starts[1:], len(order)]):
        part = data.take(pa.array(order[start:end]))
        values = {c: part.column(c)[0].as_py() for c in partitions}
        files.append(write_data_file(table, part.drop_columns(partitions), values, tag, stats_columns))
    return files


def _value_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """A number per distinct value of the column (a dictionary array's indices), -1 for null."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def arrow_schema(ddl: str) -> pa.Schema:
    """A schema in Spark's DDL (``mapInArrow``'s) as Arrow's, every column nullable as Spark reads it back.
    On the driver: Spark parses the DDL."""
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import DataType

    return to_arrow_schema(DataType.fromDDL(ddl))


# Below this many rows per distinct value a text column is written plain. Measured on person ids: a
# dictionary is faster from ~5 rows a person on (weekly ~45, monthly ~10: dictionary; yearly 1: plain).
ROWS_PER_DICTIONARY_VALUE = 4


def _encodings(data: pa.Table) -> tuple[pa.Table, list[str]]:
    """Which text columns Parquet writes dictionary-encoded: those with few distinct values for their rows
    (a dictionary array is then written as it is, without re-encoding). A column of mostly distinct values
    (person ids on a table of one row per person and year) is written plain: smaller and faster."""
    dictionary = []
    for index, field in enumerate(data.schema):
        if pa.types.is_dictionary(field.type):
            distinct = len(data.column(index).chunk(0).dictionary) if data.column(index).num_chunks else 0
        elif pa.types.is_string(field.type):
            distinct = pc.count_distinct(data.column(index)).as_py()
        else:
            continue  # numbers and dates: plain
        if distinct * ROWS_PER_DICTIONARY_VALUE <= data.num_rows:
            dictionary.append(field.name)
        elif pa.types.is_dictionary(field.type):
            data = data.set_column(index, field.name, data.column(index).cast(field.type.value_type))
    return data, dictionary


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system of a table folder and the path within it (a local folder or a URI)."""
    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), os.path.abspath(path)


def _escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _PATH_ESCAPES or ord(c) < 0x20 else c for c in value)


def delta_stats(data: pa.Table, columns: list[str], rows: int) -> str:
    """Delta's file statistics of ``columns`` (those present): null counts always; minimum and maximum of
    numbers, dates and strings of at most ``STATS_STRING_LIMIT`` characters (Delta compares strings as
    UTF-8 bytes, as Arrow does). A column without min/max is one Delta cannot skip on, never a wrong skip."""
    minimum, maximum, nulls = {}, {}, {}
    for name in columns:
        if name not in data.column_names:
            continue
        column = data.column(name)
        nulls[name] = column.null_count
        low, high = _min_max(column)
        if low is not None:
            minimum[name], maximum[name] = low, high
    return json.dumps({"numRecords": rows, "minValues": minimum, "maxValues": maximum, "nullCount": nulls})


def _min_max(column: pa.ChunkedArray) -> tuple[object, object]:
    values = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(values.type):  # the min/max of the dictionary entries in use
        used = np.bincount(pc.fill_null(values.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64),
                           minlength=len(values.dictionary)) > 0
        values = values.dictionary.filter(pa.array(used[:len(values.dictionary)]))
    kind = values.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_date32(kind)
            or pa.types.is_string(kind)):
        return None, None
    result = pc.min_max(values)
    low, high = result["min"].as_py(), result["max"].as_py()
    if low is None:
        return None, None
    if isinstance(low, dt.date):
        return low.isoformat(), high.isoformat()
    if isinstance(low, str) and max(len(low), len(high)) > STATS_STRING_LIMIT:
        return None, None
    if isinstance(low, float) and not (np.isfinite(low) and np.isfinite(high)):
        return None, None
    return low, high


def commit_files(spark: SparkSession, path: str, schema: pa.Schema, partitions: list[str], files: list[DataFile],
                 stats_columns: list[str] | None = None, mode: str = "overwrite") -> int:
    """Make ``files`` (already in the table's folder) the table's new version in one Delta commit; return it.

    ``overwrite`` removes every current file in the same commit (a new version of the same table: its
    history, time travel and restore stay), ``append`` keeps them. ``schema`` is the whole table's (partition
    columns included); a new table is created with it, an existing one gets it when it differs (overwrite
    only). The commit's metrics are Delta's usual ones: ``numOutputRows`` is the sum of the files' own row
    counts. Runs Delta's transaction through the JVM, so conflicts, protocol and log storage are Delta's."""
    if mode not in ("overwrite", "append"):
        raise ValueError(f"mode must be 'overwrite' or 'append', not {mode!r}")
    started = time.monotonic()
    jvm = spark._jvm
    delta = jvm.org.apache.spark.sql.delta
    txn = delta.DeltaLog.forTable(spark._jsparkSession, path).startTransaction()
    _set_metadata(txn, delta, schema, partitions, stats_columns, mode, path)
    actions = jvm.java.util.ArrayList()
    removed_bytes = removed = 0
    if mode == "overwrite" and txn.readVersion() >= 0:
        now = int(time.time() * 1000)
        current = txn.filterFiles().iterator()
        while current.hasNext():
            add = current.next()
            removed, removed_bytes = removed + 1, removed_bytes + add.size()
            actions.add(add.removeWithTimestamp(now, True))
    actions.addAll(_add_files(jvm, files))
    metrics = {"numFiles": len(files), "numOutputBytes": sum(f.size for f in files),
               "numOutputRows": sum(f.rows for f in files), "numRemovedFiles": removed,
               "numRemovedBytes": removed_bytes}
    txn.registerSQLMetrics(spark._jsparkSession, _scala_metrics(spark, metrics))
    version = txn.commit(_scala_list(jvm, actions), _write_operation(jvm, delta, mode, partitions))
    log.info("  committed %-14s version %d: %s files, %s rows in %.1f s", Path(path).name, version,
             f"{len(files):,}", f"{metrics['numOutputRows']:,}", time.monotonic() - started)
    return version


def _set_metadata(txn, delta, schema: pa.Schema, partitions: list[str], stats_columns: list[str] | None,
                  mode: str, path: str) -> None:
    from pyspark.sql.pandas.types import from_arrow_schema

    schema_string = from_arrow_schema(schema).json()
    configuration = {} if stats_columns is None else {"delta.dataSkippingStatsColumns": ",".join(stats_columns)}
    if txn.readVersion() < 0:
        metadata = {"id": str(uuid.uuid4()), "createdTime": int(time.time() * 1000)}
    else:
        current = json.loads(txn.metadata().json())["metaData"]
        configuration = {**current.get("configuration", {}), **configuration}
        if (json.loads(current["schemaString"]) == json.loads(schema_string)
                and list(current.get("partitionColumns", [])) == list(partitions)
                and current.get("configuration", {}) == configuration):
            return
        if mode != "overwrite":
            raise ValueError(f"{path}: the table's schema or partitioning differs from the data appended")
        metadata = {"id": current["id"], "createdTime": current.get("createdTime")}
    action = delta.actions.Action.fromJson(json.dumps({"metaData": {
        **metadata, "format": {"provider": "parquet", "options": {}}, "schemaString": schema_string,
        "partitionColumns": list(partitions), "configuration": configuration}}))
    if txn.readVersion() < 0:
        txn.updateMetadataForNewTable(action)
    else:
        txn.updateMetadataForTableOverwrite(action)


def _add_files(jvm, files: list[DataFile]):
    """The files as Delta ``AddFile`` actions, parsed in one call by Delta's own JSON mapper (one py4j round
    trip per file would cost ~1 s for a thousand files)."""
    mapper = jvm.org.apache.spark.sql.delta.util.JsonUtils.mapper()
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    add_file = jvm.java.lang.Class.forName("org.apache.spark.sql.delta.actions.AddFile", True, loader)
    list_type = mapper.getTypeFactory().constructCollectionType(jvm.java.util.ArrayList().getClass(), add_file)
    return mapper.readValue(json.dumps([f._add() for f in files]), list_type)


def _scala_list(jvm, items):
    return jvm.scala.jdk.javaapi.CollectionConverters.asScala(items).toList()


def _scala_metrics(spark: SparkSession, values: dict[str, int]):
    jvm = spark._jvm
    metrics = jvm.java.util.HashMap()
    for name, value in values.items():
        metric = jvm.org.apache.spark.sql.execution.metric.SQLMetrics.createMetric(spark.sparkContext._jsc.sc(), name)
        metric.set(int(value))
        metrics.put(name, metric)
    immutable_map = getattr(getattr(jvm.scala.collection.immutable, "Map$"), "MODULE$")
    return getattr(immutable_map, "from")(jvm.scala.jdk.javaapi.CollectionConverters.asScala(metrics))


def _write_operation(jvm, delta, mode: str, partitions: list[str]):
    none = jvm.scala.Option.empty()
    modes = jvm.org.apache.spark.sql.SaveMode
    save_mode = modes.Overwrite if mode == "overwrite" else modes.Append
    partition_by = jvm.scala.Some(_scala_list(jvm, jvm.java.util.ArrayList(list(partitions))))
    return getattr(delta, "DeltaOperations$Write")(save_mode, partition_by, none, none, none, none, none, none, none)


# Files a table's own tasks write are packed into files of about this size per partition before the commit
# (many tasks each writing a little of every partition: one bucket of overgang_52 per task and year).
PACKED_FILE_BYTES = 128 << 20
_PACKING_TASK = 90_000  # file_tag numbers of the packed files, after every writing task's


def write_arrow(spark: SparkSession, path: str, data: pa.Table, schema: pa.Schema, partitions: list[str],
                stats_columns: list[str] | None) -> int:
    """A table of counts, small enough for the driver, written by the driver with pyarrow: one file per
    partition (``write_partitioned``) made the table's new version in one commit (``commit_files``,
    overwrite). Spark's writer takes every row through the JVM and its statistics: seconds for a few hundred
    thousand rows. ``stats_columns``: the columns the files get Delta statistics of (None: none, and no
    table setting). A file the commit does not take is deleted. Returns the new version."""
    run_id = uuid.uuid4().hex[:12]
    committed: set[str] = set()
    try:
        files = write_partitioned(path, data, partitions, file_tag(run_id, 0), stats_columns or [])
        version = commit_files(spark, path, schema, partitions, files, stats_columns)
        committed = {f.path for f in files}
    finally:
        remove_uncommitted(path, run_tag(run_id), committed)
    return version


def write_collected(df: DataFrame, warehouse: str, name: str) -> int:
    """A small unpartitioned table (reference dimensions, a summary, the population file, the measure tables:
    up to a few hundred thousand rows) collected to the driver (``toArrow``) and written there by
    ``write_arrow`` as one file: no Spark write job (about a second each). Returns the new version."""
    data = df.toArrow()
    schema = pa.schema([field.with_nullable(True) for field in data.schema])  # as Spark's writer leaves them
    return write_arrow(df.sparkSession, table_path(warehouse, name), data.cast(schema), schema, [], None)


def write_files(spark: SparkSession, path: str, schema: pa.Schema, partitions: list[str], stats_columns: list[str],
                tasks: Callable[[str], DataFrame]) -> int:
    """A table written by Spark tasks themselves: ``tasks(run_id)`` is a DataFrame of one column ``fil``,
    whose tasks write Parquet files tagged ``file_tag(run_id, ...)`` into the table's folder and return each
    file's add action. A partition's files are packed into files of about ``PACKED_FILE_BYTES`` (``pack_files``),
    so the table needs no compaction; then they become the table's new version in one commit
    (``commit_files``, overwrite). Files of the run that were not committed (the packed ones' sources, a
    failed run's, a retried task's first attempt) are deleted before it returns. Returns the new version."""
    def tagged(run_id: str) -> DataFrame:
        return tasks(run_id).select(F.lit(path).alias("tabel"), "fil")
    return write_tables(spark, {path: (schema, partitions, stats_columns)}, tagged)[path]


def write_tables(spark: SparkSession, tables: dict[str, tuple[pa.Schema, list[str], list[str]]],
                 tasks: Callable[[str], DataFrame]) -> dict[str, int]:
    """Several tables written by the same Spark tasks (each reads its input once and writes the rows of every
    table): ``tables`` is table path -> (Arrow schema of the whole table, partition columns, statistics
    columns); ``tasks(run_id)`` is a DataFrame of two columns, ``tabel`` (a path of ``tables``) and ``fil``
    (the add action of a Parquet file, tagged ``file_tag(run_id, ...)``, that its task wrote into that table's
    folder, e.g. with ``write_partitioned``). Each table's files are packed (``pack_tables``: one Spark job
    for all) and become its new version in a Delta commit of its own (``commit_files``, overwrite), in the
    order of ``tables``. The commits are not one transaction: when a commit fails, the tables before it stay
    committed (a caller that must undo them restores their previous versions, as ``roll_back`` does). Files
    of the run that no commit refers to are deleted from every table before it returns. Returns path ->
    new version."""
    run_id = uuid.uuid4().hex[:12]
    committed: dict[str, set[str]] = {}
    versions = {}
    try:
        written: dict[str, list[DataFile]] = {path: [] for path in tables}
        for row in tasks(run_id).collect():  # one row per file written: hundreds, not rows of data
            written[row.tabel].append(DataFile.from_add_action(row.fil))
        packed = pack_tables(spark, {path: (files, tables[path][2]) for path, files in written.items()}, run_id)
        for path, (schema, partitions, stats_columns) in tables.items():
            versions[path] = commit_files(spark, path, schema, partitions, packed[path], stats_columns)
            committed[path] = {f.path for f in packed[path]}
    finally:
        for path in tables:
            removed = remove_uncommitted(path, run_tag(run_id), committed.get(path, set()))
            if removed:
                log.info("  removed %d uncommitted files of run %s from %s", removed, run_id, path)
    return versions


def pack_files(spark: SparkSession, path: str, files: list[DataFile], run_id: str, stats_columns: list[str]
               ) -> list[DataFile]:
    """``files`` (written, not committed, in the table at ``path``) with each partition's files packed into
    as few files as hold ``PACKED_FILE_BYTES`` each: one Spark task per new file reads its sources with
    pyarrow and writes them as one. A file alone in its bin is kept as it is. Returns the files to commit."""
    return pack_tables(spark, {path: (files, stats_columns)}, run_id)[path]


def pack_tables(spark: SparkSession, tables: dict[str, tuple[list[DataFile], list[str]]], run_id: str
                ) -> dict[str, list[DataFile]]:
    """``pack_files`` of several tables (path -> (files, statistics columns)) in one Spark job: one task per
    new file, the largest first. Returns path -> the files to commit."""
    bins: list[tuple[str, list[DataFile]]] = []
    kept: dict[str, list[DataFile]] = {}
    for path, (files, _) in tables.items():
        table_bins = _bins(files)
        kept[path] = [b[0] for b in table_bins if len(b) == 1]
        bins += [(path, b) for b in table_bins if len(b) > 1]
    if not bins:
        return kept
    started = time.monotonic()
    bins.sort(key=lambda b: -sum(f.size for f in b[1]))  # the largest first: the last tasks are short ones

    def run(batches):
        for batch in batches:
            for index in batch.column(0).to_pylist():
                path, sources = bins[index]
                data = pa.concat_tables([_read_data_file(path, f) for f in sources]).unify_dictionaries()
                packed = write_data_file(path, data, sources[0].partition_values,
                                         file_tag(run_id, _PACKING_TASK + index), tables[path][1])
                yield pa.record_batch([pa.array([path]), pa.array([packed.add_action()])], names=["tabel", "fil"])
    rows = spark.range(len(bins), numPartitions=len(bins)).mapInArrow(run, "tabel string, fil string").collect()
    for row in rows:
        kept[row.tabel].append(DataFile.from_add_action(row.fil))
    log.info("  packed %d files into %d in %.1f s", sum(len(b) for _, b in bins), len(rows), time.monotonic() - started)
    return kept


def _bins(files: list[DataFile]) -> list[list[DataFile]]:
    """Each partition's files, smallest first, in bins of at most ``PACKED_FILE_BYTES`` (a larger file alone)."""
    partitions: dict[str, list[DataFile]] = {}
    for f in files:
        partitions.setdefault(json.dumps(f.partition_values, sort_keys=True), []).append(f)
    bins: list[list[DataFile]] = []
    for group in partitions.values():
        current: list[DataFile] = []
        for f in sorted(group, key=lambda f: f.size):
            if current and sum(c.size for c in current) + f.size > PACKED_FILE_BYTES:
                bins.append(current)
                current = []
            current.append(f)
        bins.append(current)
    return bins


def _read_data_file(table: str, file: DataFile) -> pa.Table:
    """One of the table's files as written (text columns dictionary-encoded, as they are stored)."""
    fs, root = filesystem(table)
    location = f"{root}/{urllib.parse.unquote(file.path)}"
    schema = pq.read_schema(location, filesystem=fs)
    text = [f.name for f in schema if pa.types.is_string(f.type)]
    return pq.read_table(location, read_dictionary=text, filesystem=fs)


def remove_uncommitted(table: str, tag_prefix: str, committed: set[str]) -> int:
    """Delete the files under ``table`` whose names start with ``tag_prefix`` and that no commit refers to
    (a failed run's, or those of a task Spark ran twice); returns how many. Local folders only."""
    if "://" in table or not os.path.isdir(table):
        return 0
    removed = 0
    for folder, _, names in os.walk(table):
        if "_delta_log" in folder:
            continue
        for name in names:
            relative = os.path.relpath(os.path.join(folder, name), table)
            if name.startswith(tag_prefix) and urllib.parse.quote(relative, safe="/=-_.~") not in committed:
                os.remove(os.path.join(folder, name))
                removed += 1
    return removed
