"""Primary and secondary suppression of one period of a published count table.

1. Primary: every published cell with a value 1..threshold-1 (or, when a persons column is given, with
   1..threshold-1 persons behind it). Zeros are shown.
2. Secondary, by Gaussian elimination in exact arithmetic (``gauss.py``): the published cells are offered
   in order of preference and each is published unless that would make a protected cell a linear
   combination of published cells. The order (first = most wanted published):
   a. cells the previous release published with the value they still have (they are known anyway);
   b. cells with value 0 (a hidden zero cannot be lowered, so it protects nothing);
   c. aggregates (any cell with a total or a region in it), larger values first, then the more aggregated
      first (land before region before kommune, I alt before a group);
   d. inner cells, larger values first.
   Ties go by the cells' order in the table (the dimensions' label order), so the result is deterministic.
   Suppression therefore falls on the smallest inner cells next to the primary cells, and on totals only
   where no inner cell can carry it.
3. Groups: in every published sum, the suppressed cells under it must together hold at least
   ``threshold`` (the sum minus its published parts is what anyone can compute). Where they hold
   1..threshold-1, their sum becomes a protected vector of its own and the elimination runs again (a
   suppressed zero holds nothing: a small cell hidden only next to zeros is still revealed, the
   singleton problem). Every cell suppressed so far stays suppressed.
4. Intervals (``boxes.py``): linear protection says a hidden cell cannot be computed, not that it can be
   large. Every suppressed cell with 1..threshold-1 must be able to reach ``threshold``, every other
   nonzero suppressed cell must be able to move, with all published cells fixed and inner cells >= 0.
   Each such cell gets a witness: a box of cells (+1/-1 changes that no published cell sees) with room on
   its negative corners; where no suppressed box has the room, the cheapest one is suppressed too.
   Steps 3 and 4 repeat until nothing changes. The audit (``audit.py``) confirms the result by linear
   programming, independently.

Releases: ``previous`` is the previous release of the same period. Its suppressed cells are suppressed
again (reason "overført" unless they are primary now). When it comes with its values, the cells it
published with an unchanged value are published again before anything else (step 2a): in a revised period
the new suppression is chosen among the cells whose values changed, so the two releases cannot be
differenced; ``audit_releases`` checks the pair.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dream.disclosure import lp
from dream.disclosure.boxes import Boxes
from dream.disclosure.dimensions import Dimension
from dream.disclosure.errors import DisclosureError, DisclosureInputError
from dream.disclosure.gauss import Elimination
from dream.disclosure.table import Table, from_inner

log = logging.getLogger(__name__)

PRIMARY, SECONDARY, CARRIED = "primær", "sekundær", "overført"
MAX_ROUNDS = 50


@dataclass
class SuppressionResult:
    """The published table of one period with its suppression pattern.

    ``cells``: one row per published cell: the dimension columns (and ``<name>_niveau`` for a hierarchical
    dimension), the value, the persons column when one was given, ``suppressed`` and ``reason``
    ("primær", "sekundær", "overført" or None). Suppressed cells keep their true value here: this is the
    internal table; ``published()`` is what may leave the house.
    """

    cells: pd.DataFrame
    dimensions: list[Dimension]
    value: str
    threshold: int
    primary: int
    secondary: int
    carried: int
    rounds: int
    seconds: float
    revised: bool = False
    log: list[str] = field(default_factory=list)

    @property
    def suppressed(self) -> int:
        return self.primary + self.secondary + self.carried

    def suppressed_keys(self) -> set[tuple[str, ...]]:
        """The suppressed cells as keys (one label per dimension), e.g. for ``previous`` next month."""
        s = self.cells[self.cells["suppressed"]]
        return set(zip(*[s[d.name] for d in self.dimensions]))

    def published(self) -> pd.DataFrame:
        """The table as published: the value (and persons) of suppressed cells empty."""
        out = self.cells.copy()
        out[self.value] = out[self.value].astype("Int64").mask(out["suppressed"])
        for extra in [c for c in out.columns if c not in self._plain_columns()]:
            out[extra] = out[extra].astype("Int64").mask(out["suppressed"])
        return out

    def _plain_columns(self) -> set[str]:
        cols = {self.value, "suppressed", "reason"}
        for d in self.dimensions:
            cols.add(d.name)
            if d.hierarchical:
                cols.add(d.level_column)
        return cols

    def to_parquet(self, path, published: bool = True) -> None:
        """Write the table (``published()`` by default) with the dimensions in the file's metadata, so that
        ``python -m dream.disclosure.audit FILE`` can audit it."""
        from dream.disclosure.audit import write_parquet

        write_parquet(self.published() if published else self.cells, path, self.dimensions, self.value,
                      self.threshold)


def primary_mask(table: Table, threshold: int) -> np.ndarray:
    """Published cells with 1..threshold-1 (value, or persons when given)."""
    v = table.cell_values
    out = (v >= 1) & (v < threshold)
    if table.cell_persons is not None:
        p = table.cell_persons
        out |= (p >= 1) & (p < threshold)
    return out


def preference_order(table: Table, forced_published: np.ndarray) -> np.ndarray:
    """All published cells, most wanted published first (see the module docstring)."""
    v, depth = table.cell_values, table.cell_depth
    idx = np.arange(table.n_cells)
    phase = np.where(forced_published, 0, np.where(v == 0, 1, np.where(depth > 0, 2, 3)))
    zero_depth = np.where(phase == 1, depth, 0)  # zeros: inner cells first, then their sums (which follow)
    return np.lexsort((idx, -depth, -v, zero_depth, phase))


def _previous(table: Table, previous) -> tuple[np.ndarray, np.ndarray | None]:
    """(suppressed in the previous release, its cell values or None) per published cell."""
    if previous is None:
        return np.zeros(table.n_cells, dtype=bool), None
    if isinstance(previous, pd.DataFrame):
        if "suppressed" not in previous.columns:
            raise DisclosureInputError("previous: a DataFrame needs a 'suppressed' column (the previous release's "
                                       "cells), or pass a set of suppressed cell keys")
        idx = table.cell_index(previous, "previous release")
        flags = np.zeros(table.n_cells, dtype=bool)
        flags[idx] = previous["suppressed"].fillna(False).astype(bool).to_numpy()
        values = None
        if table.value in previous.columns:
            values = np.full(table.n_cells, np.nan)
            values[idx] = pd.to_numeric(previous[table.value], errors="coerce").to_numpy(dtype=float)
        return flags, values
    keys = list(previous)
    frame = pd.DataFrame(keys, columns=[a.dimension.name for a in table.axes]) if keys else None
    flags = np.zeros(table.n_cells, dtype=bool)
    if frame is not None:
        flags[table.cell_index(frame, "previous suppressed keys")] = True
    return flags, None


def _gauss(table: Table, order: np.ndarray, protected: np.ndarray, hidden: np.ndarray,
           virtual: Sequence[frozenset[int]], forced_published: np.ndarray, settled: int | None = None) -> np.ndarray:
    """One elimination: which candidates must be suppressed to keep the protected cells and groups hidden.

    ``settled``: in a later round, how many groups (the first of ``virtual``) the previous rounds protected
    together with the protected cells. Every cell offered now was published in the previous round (this
    round hides more, never less), and after fewer publications, in the same order: what did not reveal a
    vector then cannot reveal it now. So only the new groups are watched, and the decisions are those of
    watching them all."""
    skip = protected | hidden
    keep = _coordinates(table, protected, skip, virtual, forced_published)
    m = table.matrix[:, np.flatnonzero(keep)].tocsr()
    position = np.cumsum(keep) - 1  # inner cell -> its coordinate in the elimination
    ind, ptr = m.indices.tolist(), m.indptr.tolist()
    vectors = [] if settled is not None else [ind[ptr[c]:ptr[c + 1]] for c in np.flatnonzero(protected)]
    vectors += [[int(position[i]) for i in group if keep[i]] for group in virtual[settled or 0:]]
    # equal vectors are watched once: e.g. a sum whose only nonzero inner cell is itself protected
    unique = dict.fromkeys(frozenset(v) for v in vectors)
    elim = Elimination(int(keep.sum()), [dict.fromkeys(v, 1) for v in unique])
    rejected = np.zeros(table.n_cells, dtype=bool)
    # a cell without coordinates (a sum of published zeros) is a combination of published cells already
    offered = order[~skip[order] & (np.diff(m.indptr)[order] > 0)]
    for c in offered.tolist():
        if not elim.offer(ind[ptr[c]:ptr[c + 1]]):
            rejected[c] = True
            if forced_published[c]:
                log.warning("cell %d was published by the previous release with the same value but now reveals a "
                            "protected cell; it is suppressed in this release", c)
    return rejected


def _coordinates(table: Table, protected: np.ndarray, skip: np.ndarray, virtual: Sequence[frozenset[int]],
                 forced_published: np.ndarray) -> np.ndarray:
    """The inner cells the elimination needs as coordinates. With nothing forced published, the zeros come
    first in the order (``preference_order``) and every zero inner cell offered is published: it is a unit
    vector and cannot complete a protected vector that holds a nonzero cell. Publishing a unit vector
    only removes its coordinate, so those cells are left out from the start (most inner cells of a fine
    classification are zeros). Where something is forced published first, or a protected vector holds
    zeros only, every inner cell stays and the elimination decides."""
    keep = np.ones(table.n_inner, dtype=bool)
    if forced_published.any():
        return keep
    published_zero = (table.inner_values == 0) & ~skip[table.inner_cell]
    held = table.matrix[np.flatnonzero(protected)] @ (~published_zero).astype(np.int64)
    if (held == 0).any() or any(all(published_zero[i] for i in group) for group in virtual):
        return keep
    return ~published_zero


def _new_groups(table: Table, suppressed: np.ndarray, threshold: int,
                known: Sequence[frozenset[int]]) -> list[frozenset[int]]:
    seen = set(known)
    return [g for g in _small_groups(table, suppressed, threshold) if g not in seen]


def _small_groups(table: Table, suppressed: np.ndarray, threshold: int) -> list[frozenset[int]]:
    """The suppressed inner cells under each published sum, where together they hold 1..threshold-1."""
    m = table.matrix
    inner_sup = suppressed[table.inner_cell]
    held = m @ (inner_sup * table.inner_values)
    count = m @ inner_sup.astype(np.int64)
    small = (held >= 1) & (held < threshold)
    if table.inner_persons is not None:
        persons = m @ (inner_sup * table.inner_persons)
        small |= (persons >= 1) & (persons < threshold)
    bad = np.flatnonzero(~suppressed & (count > 0) & small)
    groups = set()
    for c in bad:
        cols = m.indices[m.indptr[c]:m.indptr[c + 1]]
        groups.add(frozenset(int(i) for i in cols[inner_sup[cols]]))
    return sorted(groups, key=lambda g: sorted(g))


def _interval_check(table: Table, boxes: Boxes, prev_sup: np.ndarray, prev_values: np.ndarray, threshold: int):
    """For cells no cheap box protects once the previous release is taken into account: whether the
    pattern protects them already, by linear programming over both releases (the pattern as it stands at
    the first question; later boxes only widen intervals, so the answer stays true)."""
    bounds: list[lp.CellBounds] = []
    v = table.cell_values.astype(float)

    def check(cell: int, need: float) -> bool:
        if not bounds:
            old_inner, new_inner = prev_values[table.inner_cell], table.inner_values
            same = np.isnan(old_inner) | (old_inner == new_inner)
            n = table.n_inner
            releases = [lp.Release(table, prev_sup, prev_values, np.arange(n)),
                        lp.Release(table, boxes.suppressed.copy(), v, np.where(same, np.arange(n), n + np.arange(n)))]
            bounds.append(lp.CellBounds(releases))
        lo, hi = bounds[0].interval(cell, release=1)
        return hi >= v[cell] + need - lp.TOL and hi - lo > lp.TOL

    return check


def suppress(inner: pd.DataFrame, dimensions: Sequence[Dimension], value: str = "antal", threshold: int = 5,
             previous: pd.DataFrame | Iterable[tuple[str, ...]] | None = None, persons: str | None = None,
             persons_cells: pd.DataFrame | None = None, check: bool = False) -> SuppressionResult:
    """Suppress one period's published table.

    ``inner``: one row per inner cell (a leaf of every dimension; missing combinations count 0) with the
    dimension columns and ``value`` (and ``persons`` when the primary rule looks at persons rather than
    the value: e.g. activation spells whose persons must be 5 or more). ``persons_cells``: optional distinct
    persons of published cells (dimension columns + ``persons``) where the sum of the inner cells' persons
    is not the number of distinct persons (a person in several inner cells); cells not listed use the sum.
    ``threshold``: values 1..threshold-1 are suppressed. ``previous``: the previous release of the same
    period (its ``cells`` DataFrame, with values) or the set of its suppressed keys. ``check``: audit the
    result by linear programming before returning it (and, for a revised period given with values,
    together with the previous release); raises ``AuditFailure`` if the audit fails.
    """
    if threshold < 1:
        raise DisclosureInputError(f"threshold must be at least 1 (got {threshold})")
    start = time.perf_counter()
    dimensions = list(dimensions)
    table = from_inner(inner, dimensions, value, persons, persons_cells)
    v = table.cell_values
    primary = primary_mask(table, threshold)
    prev_sup, prev_values = _previous(table, previous)
    forced_published = np.zeros(table.n_cells, dtype=bool)
    revised = False
    if prev_values is not None:
        same = ~np.isnan(prev_values) & (prev_values == v)
        revised = bool((~np.isnan(prev_values) & (prev_values != v)).any())
        forced_published = ~prev_sup & same & ~primary
    carried = prev_sup & ~primary
    # Only the primary cells (and the groups found below) are protected in the elimination: every other
    # suppressed cell is simply not published ("hidden"), and gets its witness from the interval step.
    # Protecting large carried-over or box cells too would only make the elimination slower.
    protected = primary
    hidden = carried
    order = preference_order(table, forced_published)
    virtual: list[frozenset[int]] = []
    settled = None  # groups protected in an earlier round (None in the first): see _gauss
    notes: list[str] = []
    rounds = 0
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise DisclosureError(f"suppression did not settle in {MAX_ROUNDS} rounds")
        t0 = time.perf_counter()
        rejected = _gauss(table, order, protected, hidden, virtual, forced_published, settled)
        suppressed = protected | hidden | rejected
        note = (f"round {rounds}: {int(protected.sum())} protected cells + {len(virtual)} groups -> "
                f"{int(rejected.sum())} more by elimination ({time.perf_counter() - t0:.1f} s)")
        groups = _new_groups(table, suppressed, threshold, virtual)
        if not groups:
            t0 = time.perf_counter()
            boxes = Boxes(table, suppressed, forced_published, *((prev_sup, prev_values[table.inner_cell])
                                                                 if revised else (None, None)))
            if prev_values is not None:
                boxes.check = _interval_check(table, boxes, prev_sup, prev_values, threshold)
            added = boxes.protect(threshold)
            suppressed = boxes.suppressed
            note += f", {added} more for intervals ({time.perf_counter() - t0:.1f} s)"
            known = int((suppressed & forced_published).sum())
            if boxes.not_in_previous:
                log.warning("%d cells of the revised period could only be protected in ways the previous release "
                            "does not allow; audit the two releases together (audit_releases)", boxes.not_in_previous)
                note += f" ({boxes.not_in_previous} not protected jointly with the previous release)"
            if known:
                log.warning("%d cells the previous release published with the same value had to be suppressed to "
                            "protect the revised values; they are known from that release: audit the two "
                            "releases together (audit_releases)", known)
                note += f" ({known} of them published before with the same value)"
            groups = _new_groups(table, suppressed, threshold, virtual)
        if groups:
            note += f"; {len(groups)} published sums hide fewer than {threshold}"
        notes.append(note)
        log.info(note)
        if not groups:
            break
        settled = len(virtual)
        virtual += groups
        hidden = suppressed & ~protected
    reason = np.full(table.n_cells, None, dtype=object)
    reason[suppressed & ~primary] = SECONDARY
    reason[carried] = CARRIED
    reason[primary] = PRIMARY
    cells = table.keys_frame()
    cells[value] = v
    if table.cell_persons is not None:
        cells[persons] = table.cell_persons
    cells["suppressed"] = suppressed
    cells["reason"] = reason
    seconds = time.perf_counter() - start
    result = SuppressionResult(cells, dimensions, value, threshold, int(primary.sum()),
                               int((suppressed & ~primary & ~carried).sum()), int(carried.sum()), rounds, seconds,
                               revised, notes)
    log.info("suppression: %d primary, %d secondary, %d carried over of %d cells in %d rounds, %.1f s",
             result.primary, result.secondary, result.carried, table.n_cells, rounds, seconds)
    if check:
        from dream.disclosure.audit import audit_releases, audit_table

        audit_table(table, suppressed, v.astype(float), threshold).raise_if_failed()
        if isinstance(previous, pd.DataFrame) and revised:
            audit_releases(previous, cells, dimensions, value, threshold).raise_if_failed()
    return result


