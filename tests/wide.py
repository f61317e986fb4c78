"""Hand-made wide DREAM deliveries for tests: every cell a string (or None), as the real table has them."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from dream.ingest.pseudonym import pseudonymise

TEST_KEY = b"test-key-0123456789abcdef"


def pid(pnr: str) -> str:
    """The person id the pipeline must give ``pnr`` under the tests' key."""
    return pseudonymise(TEST_KEY, pnr)


def wide_table(rows: list[dict[str, str | None]]) -> pa.Table:
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table({c: pa.array([row.get(c) for row in rows], pa.string()) for c in columns})


def write_parquet(rows: list[dict], path) -> str:
    pq.write_table(wide_table(rows), path)
    return str(path)
