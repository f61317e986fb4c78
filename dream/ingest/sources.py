"""Input deliveries: Parquet is read where it lies; CSV and SAS are converted to Parquet in chunks first,
so one code path (row groups read by Spark tasks) serves every format. Structural problems stop the run
here, before anything is written."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from dream.errors import InputError

log = logging.getLogger(__name__)
SAS_SUFFIXES = {".sas7bdat", ".xpt", ".xport"}
SAS_CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class Slice:
    """One unit of work for a Spark task: a row group of a Parquet file."""

    path: str
    row_group: int
    rows: int


@dataclass(frozen=True)
class Delivery:
    files: list[str]
    columns: list[str]
    slices: list[Slice]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.slices)


def open_delivery(path: str | Path, staging: Path, progress: bool = True) -> Delivery:
    source = Path(path)
    if not source.exists():
        raise InputError(f"{source}: the input does not exist")
    suffix = source.suffix.lower()
    if source.is_dir():
        files = sorted(str(p) for p in source.rglob("*.parquet"))
        if not files:
            raise InputError(f"{source}: the folder holds no .parquet files")
    elif suffix == ".parquet":
        files = [str(source)]
    elif suffix == ".csv":
        files = [str(csv_to_parquet(source, staging))]
    elif suffix in SAS_SUFFIXES:
        files = [str(sas_to_parquet(source, staging, progress))]
    else:
        raise InputError(f"{source}: unknown input format {suffix!r}: give a .parquet, .csv, .sas7bdat or .xpt file")
    return _describe(files, source)


def _describe(files: list[str], source: Path) -> Delivery:
    columns: list[str] | None = None
    slices = []
    for file in files:
        try:
            meta = pq.ParquetFile(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{file}: cannot be read as Parquet ({exc}); is the file complete?") from None
        names = meta.schema_arrow.names
        if columns is None:
            columns = names
        elif names != columns:
            raise InputError(f"{file}: its columns differ from those of {files[0]}; deliver one table")
        slices.extend(Slice(file, i, meta.metadata.row_group(i).num_rows) for i in range(meta.num_row_groups))
    delivery = Delivery(files, columns or [], [s for s in slices if s.rows > 0])
    if delivery.rows == 0:
        raise InputError(f"{source}: the input holds no rows")
    if len(set(delivery.columns)) != len(delivery.columns):
        raise InputError(f"{source}: duplicate column names")
    return delivery


def csv_to_parquet(source: Path, staging: Path) -> Path:
    """Every column read as text (codes like 040 keep their zeros), streamed in blocks."""
    with source.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise InputError(f"{source}: the CSV file is empty (no header line)")
    staging.mkdir(parents=True, exist_ok=True)
    target = staging / (source.stem + ".parquet")
    options = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        reader = pacsv.open_csv(source, convert_options=options)
        with pq.ParquetWriter(target, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{source}: the CSV file cannot be read ({exc})") from None
    return target


def sas_to_parquet(source: Path, staging: Path, progress: bool) -> Path:
    """SAS (sas7bdat or XPORT) converted chunk by chunk with pyreadstat; memory stays at one chunk."""
    import pyreadstat

    reader = pyreadstat.read_sas7bdat if source.suffix.lower() == ".sas7bdat" else pyreadstat.read_xport
    staging.mkdir(parents=True, exist_ok=True)
    target = staging / (source.stem + ".parquet")
    writer = None
    try:
        chunks = pyreadstat.read_file_in_chunks(reader, str(source), chunksize=SAS_CHUNK_ROWS)
        for frame, _meta in tqdm(chunks, desc=f"SAS -> Parquet {source.name}", unit="chunk", disable=not progress):
            table = pa.table({name: _sas_text(frame[name]) for name in frame.columns})
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
    except pyreadstat.ReadstatError as exc:
        raise InputError(f"{source}: the SAS file cannot be read ({exc}); is the file complete?") from None
    finally:
        if writer:
            writer.close()
    if writer is None:
        raise InputError(f"{source}: the SAS file holds no rows")
    return target


def _sas_text(series) -> pa.Array:
    """SAS stores text and numbers; DREAM codes are text. Whole numbers become '130', not '130.0'."""
    if series.dtype.kind == "f":
        return pa.array([None if v != v else (str(int(v)) if float(v).is_integer() else str(v)) for v in series],
                        pa.string())
    return pa.array([None if v is None or v != v else str(v) for v in series], pa.string())
