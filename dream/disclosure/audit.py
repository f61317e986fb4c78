"""The audit of a published table: what can anyone learn about each suppressed cell?

For every suppressed cell, the lowest and highest value it can have given every published cell (inner
cells >= 0, published sums fixed), by linear programming (``lp.py``). A cell fails when

- its true value is nonzero and its interval has zero width (the published cells give it away), or
- its true value is nonzero and its upper bound is below the threshold (it is known to be a small group).

A suppressed cell whose true value is 0 never fails: zeros may be shown, so learning that a hidden zero is
0 (or at most 3) reveals no person. When the table carries no values for its suppressed cells (a table
as published), the truth is unknown and the audit is stricter: a cell fails when its upper bound is above
0 and either its interval has zero width or its upper bound is below the threshold.

Two releases of the same period are audited together with ``audit_releases``: an inner cell whose value
did not change between them is one unknown in both, so what one release published is known when reading
the other (the differencing attack). Without values for suppressed cells, unchanged is assumed.

Command line::

    python -m dream.disclosure.audit TABLE.parquet [--previous OLD.parquet] [--value antal] [--threshold 5]
                                     [--intervals OUT.csv]

The Parquet file holds one row per published cell (dimension columns, ``<name>_niveau`` for hierarchical
dimensions, the value, ``suppressed``); ``SuppressionResult.to_parquet`` writes it with the dimensions in
the file's metadata. Exit status 0: no problems; 1: problems (listed); 2: the file cannot be audited.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dream.disclosure import lp
from dream.disclosure.dimensions import Dimension, geografi
from dream.disclosure.errors import AuditFailure, DisclosureInputError
from dream.disclosure.table import Table, from_cells

log = logging.getLogger(__name__)

REVEALED = "afsløret"  # the interval has zero width: the value is known
SMALL = "under tærskel"  # the upper bound is below the threshold: known to be a small group
METADATA_KEY = b"dream.disclosure"


@dataclass
class AuditResult:
    """``intervals``: one row per suppressed cell: the dimension columns, ``release`` (for a joint audit),
    the true value where known, ``lower`` and ``upper`` (what the published cells allow) and ``problem``
    (None, "afsløret" or "under tærskel"). ``problems`` are the rows with a problem."""

    intervals: pd.DataFrame
    threshold: int
    programs: int
    seconds: float

    @property
    def problems(self) -> pd.DataFrame:
        return self.intervals[self.intervals["problem"].notna()]

    @property
    def ok(self) -> bool:
        return self.problems.empty

    def summary(self) -> str:
        n = len(self.intervals)
        if self.ok:
            return (f"audit: {n} suppressed cells, none revealed or known to be under {self.threshold} "
                    f"({self.programs} linear programs, {self.seconds:.1f} s)")
        counts = self.problems["problem"].value_counts().to_dict()
        return (f"audit: {len(self.problems)} of {n} suppressed cells are not protected ({counts}; "
                f"{self.programs} linear programs, {self.seconds:.1f} s)")

    def raise_if_failed(self) -> "AuditResult":
        if not self.ok:
            raise AuditFailure(self.summary() + "; first: " + self.problems.head(5).to_string(index=False),
                               self.problems)
        return self


def _problems(value: np.ndarray, lower: np.ndarray, upper: np.ndarray, threshold: int) -> np.ndarray:
    known = ~np.isnan(value)
    nonzero = np.where(known, value > lp.TOL, upper > lp.TOL)
    tol = lp.TOL * np.maximum(1.0, np.abs(lower))
    pinned = nonzero & np.isfinite(upper) & (upper - lower <= tol)
    small = nonzero & (upper < threshold - lp.TOL)
    out = np.full(len(value), None, dtype=object)
    out[small] = SMALL
    out[pinned] = REVEALED
    return out


def _result(releases: Sequence[lp.Release], names: Sequence[str | None], threshold: int,
            start: float) -> AuditResult:
    system = lp.build(releases)
    # the true values of the unknowns, when the tables carry them all: a solution, used to skip programs
    truth = np.full(system.rows.shape[1], np.nan)
    for r, cols in zip(releases, system.unknown_inner):
        has = cols >= 0
        vals = r.values[r.table.inner_cell][has]
        ok = ~np.isnan(vals)
        truth[cols[has][ok]] = vals[ok]
    if np.isnan(truth).any():
        truth = None
    b = lp.intervals(system, truth)
    frames = []
    for k, (r, name) in enumerate(zip(releases, names)):
        sel = system.target_release == k
        cells = system.target_cell[sel]
        frame = r.table.keys_frame().iloc[cells].reset_index(drop=True)
        if name is not None:
            frame.insert(0, "release", name)
        value = r.values[cells]
        frame[r.table.value] = value
        frame["lower"] = np.round(b.lo[sel], 6)
        frame["upper"] = np.round(b.hi[sel], 6)
        frame["problem"] = _problems(value, b.lo[sel], b.hi[sel], threshold)
        frames.append(frame)
    intervals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    result = AuditResult(intervals, threshold, b.programs, time.perf_counter() - start)
    log.info(result.summary())
    return result


def audit_table(table: Table, suppressed: np.ndarray, values: np.ndarray, threshold: int = 5) -> AuditResult:
    """The audit of a table already in memory (values NaN where unknown)."""
    start = time.perf_counter()
    release = lp.Release(table, suppressed, values.astype(float), np.arange(table.n_inner))
    return _result([release], [None], threshold, start)


def audit(cells: pd.DataFrame, dimensions: Sequence[Dimension], value: str = "antal", threshold: int = 5,
          suppressed: str = "suppressed", raise_on_failure: bool = False) -> AuditResult:
    """Audit one published table (``SuppressionResult.cells`` or ``.published()``, or the same read from a
    file): the interval of every suppressed cell, and the cells that fail (see the module docstring)."""
    table, flags, values = from_cells(cells, list(dimensions), value, suppressed)
    result = audit_table(table, flags, values, threshold)
    return result.raise_if_failed() if raise_on_failure else result


def audit_releases(previous: pd.DataFrame, current: pd.DataFrame, dimensions: Sequence[Dimension],
                   value: str = "antal", threshold: int = 5, suppressed: str = "suppressed",
                   raise_on_failure: bool = False) -> AuditResult:
    """Audit two releases of the same period together: ``intervals`` has a ``release`` column ("forrige",
    "ny"); an inner cell unchanged between them is the same unknown in both."""
    start = time.perf_counter()
    dimensions = list(dimensions)
    t_old, s_old, v_old = from_cells(previous, dimensions, value, suppressed)
    t_new, s_new, v_new = from_cells(current, dimensions, value, suppressed)
    if [a.labels for a in t_old.axes] != [a.labels for a in t_new.axes]:
        raise DisclosureInputError("the two releases do not have the same labels; audit them one by one")
    old_inner, new_inner = v_old[t_old.inner_cell], v_new[t_new.inner_cell]
    unchanged = np.isnan(old_inner) | np.isnan(new_inner) | (old_inner == new_inner)
    n = t_old.n_inner
    var_old = np.arange(n)
    var_new = np.where(unchanged, np.arange(n), n + np.arange(n))
    releases = [lp.Release(t_old, s_old, v_old, var_old), lp.Release(t_new, s_new, v_new, var_new)]
    result = _result(releases, ["forrige", "ny"], threshold, start)
    return result.raise_if_failed() if raise_on_failure else result


# --- files --------------------------------------------------------------------------------------------------

def write_parquet(cells: pd.DataFrame, path, dimensions: Sequence[Dimension], value: str, threshold: int) -> None:
    """Write a published table with its dimensions in the Parquet metadata (key ``dream.disclosure``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(cells, preserve_index=False)
    meta = {"dimensions": [d.to_json() for d in dimensions], "value": value, "threshold": threshold}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: json.dumps(meta).encode()})
    pq.write_table(table, path)


def read_parquet(path) -> tuple[pd.DataFrame, dict]:
    """The table and the metadata written by ``write_parquet`` (empty when the file has none)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as e:
        raise DisclosureInputError(f"{path}: cannot be read as Parquet ({e})") from e
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return table.to_pandas(), (json.loads(raw) if raw else {})


def dimensions_of(cells: pd.DataFrame, meta: dict, value: str) -> list[Dimension]:
    """The dimensions from the file's metadata; without it, a column with a ``<name>_niveau`` partner is the
    geography of the reference data (98 kommuner, 5 regions, DK) and every other text column is flat with
    total "I alt"."""
    if meta.get("dimensions"):
        return [Dimension.from_json(d) for d in meta["dimensions"]]
    skip = {value, "suppressed", "reason", "release"}
    dims = []
    for col in cells.columns:
        if col in skip or col.endswith("_niveau") or not (cells[col].dtype == object or
                                                          pd.api.types.is_string_dtype(cells[col])):
            continue
        dims.append(geografi(col) if f"{col}_niveau" in cells.columns else Dimension.flat(col))
    if not dims:
        raise DisclosureInputError("no dimension columns found; write the table with SuppressionResult.to_parquet")
    return dims


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dream.disclosure.audit",
                                     description="Audit the suppression of a published table by linear programming.")
    parser.add_argument("table", help="Parquet file: one row per published cell")
    parser.add_argument("--previous", help="the previous release of the same period, audited together with it")
    parser.add_argument("--value", help="the value column (default: from the file, else 'antal')")
    parser.add_argument("--threshold", type=int, help="smallest group that may be shown (default: from the file, else 5)")
    parser.add_argument("--intervals", help="write every suppressed cell's interval to this CSV file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        cells, meta = read_parquet(args.table)
        value = args.value or meta.get("value", "antal")
        threshold = args.threshold or meta.get("threshold", 5)
        dims = dimensions_of(cells, meta, value)
        if args.previous:
            old, _ = read_parquet(args.previous)
            result = audit_releases(old, cells, dims, value, threshold)
        else:
            result = audit(cells, dims, value, threshold)
    except DisclosureInputError as e:
        print(f"audit: error: {e}", file=sys.stderr)
        return 2
    if args.intervals:
        result.intervals.to_csv(args.intervals, index=False)
    print(result.summary())
    if not result.ok:
        print(result.problems.to_string(index=False))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
