"""A period's table as linear algebra: inner cells, published cells and the 0/1 matrix between them.

Inner cells are every combination of the dimensions' leaves (kommune x group x visitation x aktivering);
published cells every combination of the dimensions' labels (leaves, levels above them and the total).
Both are numbered in C order over the dimensions, leaves first, so the inner cell (i, j, k, l) is the
published cell (i, j, k, l) too. The published-cell x inner-cell matrix is the Kronecker product of the
dimensions' membership matrices: a published cell is exactly the sum of the inner cells under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dream.disclosure.dimensions import Axis, Dimension, resolve
from dream.disclosure.errors import DisclosureInputError


@dataclass
class Table:
    axes: list[Axis]
    value: str
    persons: str | None
    inner_values: np.ndarray  # int64 per inner cell (float with NaN where unknown, for a published table)
    inner_persons: np.ndarray | None = None
    cell_persons_given: np.ndarray | None = None  # distinct persons per published cell, where given (-1: not given)
    matrix: sp.csr_matrix = field(default=None, repr=False)  # published cells x inner cells

    def __post_init__(self):
        if self.matrix is None:
            m = self.axes[0].members
            for axis in self.axes[1:]:
                m = sp.kron(m, axis.members, format="csr")
            self.matrix = sp.csr_matrix(m, dtype=np.int64)

    @property
    def n_inner(self) -> int:
        return int(np.prod([a.n_leaves for a in self.axes]))

    @property
    def n_cells(self) -> int:
        return int(np.prod([len(a.labels) for a in self.axes]))

    @cached_property
    def cell_shape(self) -> tuple[int, ...]:
        return tuple(len(a.labels) for a in self.axes)

    @cached_property
    def inner_shape(self) -> tuple[int, ...]:
        return tuple(a.n_leaves for a in self.axes)

    @cached_property
    def inner_cell(self) -> np.ndarray:
        """The published-cell number of every inner cell."""
        multi = np.unravel_index(np.arange(self.n_inner), self.inner_shape)
        return np.ravel_multi_index(multi, self.cell_shape)

    @cached_property
    def cell_inner(self) -> np.ndarray:
        """The inner-cell number of every published cell that is an inner cell, else -1."""
        out = np.full(self.n_cells, -1, dtype=np.int64)
        out[self.inner_cell] = np.arange(self.n_inner)
        return out

    @cached_property
    def cell_depth(self) -> np.ndarray:
        """Per published cell: the sum over dimensions of its level (0 for an inner cell)."""
        grids = np.meshgrid(*[a.depth for a in self.axes], indexing="ij")
        return np.sum(grids, axis=0).ravel()

    @cached_property
    def cell_values(self) -> np.ndarray:
        return self.matrix @ self.inner_values

    @cached_property
    def cell_persons(self) -> np.ndarray | None:
        if self.inner_persons is None:
            return None
        summed = self.matrix @ self.inner_persons
        if self.cell_persons_given is not None:
            summed = np.where(self.cell_persons_given >= 0, self.cell_persons_given, summed)
        return summed

    @cached_property
    def cell_inner_t(self) -> sp.csr_matrix:
        """Inner cells x published cells: which published cells each inner cell is under."""
        return self.matrix.T.tocsr()

    def key_columns(self) -> list[str]:
        cols = []
        for a in self.axes:
            cols.append(a.dimension.name)
            if a.dimension.hierarchical:
                cols.append(a.dimension.level_column)
        return cols

    def keys_frame(self) -> pd.DataFrame:
        """One row per published cell, in cell order: the label (and level) of every dimension."""
        idx = np.unravel_index(np.arange(self.n_cells), self.cell_shape)
        data = {}
        for a, i in zip(self.axes, idx):
            data[a.dimension.name] = np.array(a.labels, dtype=object)[i]
            if a.dimension.hierarchical:
                data[a.dimension.level_column] = a.level_of()[i]
        return pd.DataFrame(data)

    def cell_keys(self) -> list[tuple[str, ...]]:
        idx = np.unravel_index(np.arange(self.n_cells), self.cell_shape)
        labels = [np.array(a.labels, dtype=object)[i] for a, i in zip(self.axes, idx)]
        return list(zip(*labels))

    def cell_index(self, frame: pd.DataFrame, what: str) -> np.ndarray:
        """The published-cell number of every row of ``frame`` (which has the dimension columns)."""
        codes = []
        for a in self.axes:
            name = a.dimension.name
            if name not in frame.columns:
                raise DisclosureInputError(f"{what}: column {name!r} is missing (columns: {list(frame.columns)})")
            codes.append(_positions(frame[name], a.labels, lambda n, bad: (
                f"{what}: {n} rows have a {name!r} that is not a label of the dimension (e.g. {bad}); "
                f"labels are {list(a.labels[:6])}...")))
        return np.ravel_multi_index(codes, self.cell_shape) if codes else np.zeros(len(frame), dtype=np.int64)


def _positions(column: pd.Series, labels: Sequence[str], message) -> np.ndarray:
    """The position of each row's value among ``labels``; ``message(rows, examples)`` says what is wrong
    when a value is not one of them."""
    text = column.astype(str)
    code = text.map({label: i for i, label in enumerate(labels)})
    if code.isna().any():
        raise DisclosureInputError(message(int(code.isna().sum()), list(text[code.isna()].unique()[:5])))
    return code.to_numpy(dtype=np.int64)


def _counts(series: pd.Series, what: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce")
    if values.isna().any():
        raise DisclosureInputError(f"{what}: {int(values.isna().sum())} rows are empty or not numbers; "
                                   f"every inner cell needs a count (0 for none)")
    arr = values.to_numpy(dtype=float)
    if (arr < 0).any() or (arr != np.round(arr)).any():
        bad = arr[(arr < 0) | (arr != np.round(arr))][:3]
        raise DisclosureInputError(f"{what}: counts must be whole numbers >= 0 (found e.g. {list(bad)})")
    return arr.astype(np.int64)


def from_inner(inner: pd.DataFrame, dimensions: Sequence[Dimension], value: str, persons: str | None = None,
               persons_cells: pd.DataFrame | None = None) -> Table:
    """The table of a period from its inner cells: one row per combination of leaves (missing ones are 0)."""
    if not dimensions:
        raise DisclosureInputError("no dimensions given")
    names = [d.name for d in dimensions]
    needed = names + [value] + ([persons] if persons else [])
    missing = [c for c in needed if c not in inner.columns]
    if missing:
        raise DisclosureInputError(f"inner table: columns {missing} are missing (columns: {list(inner.columns)})")
    axes = [resolve(d, inner[d.name].astype(str).unique()) for d in dimensions]
    codes = []
    for a in axes:
        codes.append(_positions(inner[a.dimension.name], a.leaves, lambda n, bad, name=a.dimension.name: (
            f"inner table: {n} rows have a {name!r} that is not a leaf of the dimension (e.g. {bad}); "
            f"inner rows hold leaves only, the totals are computed")))
    shape = tuple(a.n_leaves for a in axes)
    flat = np.ravel_multi_index(codes, shape) if len(inner) else np.zeros(0, dtype=np.int64)
    if len(np.unique(flat)) != len(flat):
        dup = inner[pd.Series(flat).duplicated(keep=False).to_numpy()][names].head(3).to_dict("records")
        raise DisclosureInputError(f"inner table: {len(flat) - len(np.unique(flat))} duplicate inner cells "
                                   f"(e.g. {dup}); aggregate to one row per combination first")
    n = int(np.prod(shape))
    values = np.zeros(n, dtype=np.int64)
    values[flat] = _counts(inner[value], f"inner column {value!r}")
    inner_persons = None
    if persons:
        inner_persons = np.zeros(n, dtype=np.int64)
        inner_persons[flat] = _counts(inner[persons], f"inner column {persons!r}")
    table = Table(axes, value, persons, values, inner_persons)
    if persons_cells is not None:
        if persons is None:
            raise DisclosureInputError("persons_cells given without persons: name the persons column too")
        given = np.full(table.n_cells, -1, dtype=np.int64)
        given[table.cell_index(persons_cells, "persons_cells")] = _counts(persons_cells[persons],
                                                                         f"persons_cells column {persons!r}")
        table.cell_persons_given = given
    return table


def from_cells(cells: pd.DataFrame, dimensions: Sequence[Dimension], value: str,
               suppressed: str = "suppressed") -> tuple[Table, np.ndarray, np.ndarray]:
    """A published table read back: (table, suppressed mask per cell, cell value per cell, NaN where unknown).

    The inner values of the table are the values of its inner cells (NaN where a suppressed inner cell's
    value is not in the file); the leaves of flat dimensions without listed values are the labels found.
    """
    names = [d.name for d in dimensions]
    missing = [c for c in names + [value, suppressed] if c not in cells.columns]
    if missing:
        raise DisclosureInputError(f"published table: columns {missing} are missing (columns: {list(cells.columns)})")
    axes = []
    for d in dimensions:
        found = [v for v in cells[d.name].astype(str).unique() if v != d.total]
        if d.values is None and not d.parents:
            axes.append(resolve(d, found))
        else:
            axes.append(resolve(d))
    table = Table(axes, value, None, np.zeros(int(np.prod([a.n_leaves for a in axes]))))
    index = table.cell_index(cells, "published table")
    if len(np.unique(index)) != len(index):
        raise DisclosureInputError(f"published table: {len(index) - len(np.unique(index))} cells occur twice")
    if len(index) != table.n_cells:
        raise DisclosureInputError(
            f"published table: {len(index)} rows, but the dimensions give {table.n_cells} cells; the audit needs "
            f"every combination of labels (zeros included)")
    vals = np.full(table.n_cells, np.nan)
    vals[index] = pd.to_numeric(cells[value], errors="coerce").to_numpy(dtype=float)
    flags = np.zeros(table.n_cells, dtype=bool)
    flags[index] = cells[suppressed].fillna(False).astype(bool).to_numpy()
    if np.isnan(vals[~flags]).any():
        raise DisclosureInputError(f"published table: {int(np.isnan(vals[~flags]).sum())} cells are not suppressed "
                                   f"but have no {value!r}")
    table.inner_values = vals[table.inner_cell]
    table.__dict__.pop("cell_values", None)
    return table, flags, vals
