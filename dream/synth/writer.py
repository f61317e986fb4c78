"""Arrow and Parquet output: a chunk's index matrices become ``string`` columns of one Parquet file.

Each index row is wrapped, without copying, as an Arrow dictionary array over its vocabulary (NULL blanks
as a validity mask, since Parquet cannot write a NULL inside a dictionary). The Parquet writer encodes
those directly as dictionary pages: about three times faster than building plain string arrays first
(``pyarrow.compute.take``) and then having the writer hash every cell back into a dictionary.

The file must read back as plain ``pa.string()`` columns, not dictionary type. Parquet itself has no
dictionary *type* (only dictionary *encoding*); only the Arrow schema that pyarrow stores in the file
metadata would turn the columns back into dictionaries, so that schema is not stored
(``store_schema=False``). Readers (pyarrow, Spark, DuckDB) then see UTF-8 strings.

One ``ParquetWriter`` writes a row group per chunk, so only one chunk is ever held in memory.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dream.synth.chunk import Chunk
from dream.synth.vocab import BLANK_NULL

# zstd: about a fifth smaller than snappy here for the same write time; Spark reads it natively.
# No column statistics: min/max of benefit codes per row group help no reader of a table that is always
# read whole, and they cost a third of the write time.
_OPTIONS = dict(compression="zstd", write_statistics=False, store_schema=False)


def chunk_table(chunk: Chunk, schema: pa.Schema) -> pa.Table:
    """The chunk as an Arrow table in column order (dictionary-typed families, see the module docstring)."""
    columns = chunk.person_columns()
    for matrix, voc in chunk.families:
        non_null = voc.array[BLANK_NULL + 1 :]  # the vocabulary without its NULL entry
        for row in matrix:
            indices = pa.array(row - np.uint8(1), mask=row == BLANK_NULL)  # NULL rows point nowhere
            columns.append(pa.DictionaryArray.from_arrays(indices, non_null))
    return pa.Table.from_arrays(columns, schema=write_schema(schema))


def write_schema(schema: pa.Schema) -> pa.Schema:
    """The in-memory schema the writer is opened with: person columns plain, the families dictionary."""
    person = {"pnr", "koen", "foed_dato"}
    dictionary = pa.dictionary(pa.uint8(), pa.string())
    return pa.schema([pa.field(f.name, f.type if f.name in person else dictionary) for f in schema])


def open_writer(path: str, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(path, write_schema(schema), **_OPTIONS)
