"""What the published cells say about the suppressed ones, by linear programming (HiGHS through scipy).

The unknowns are the suppressed inner cells (every inner cell that is published is a known constant). Each
published aggregate whose inner cells include an unknown is one equation: the sum of its unknown inner
cells equals its value minus its published inner cells. Unknowns are >= 0. The lowest and highest value a
suppressed cell can take under these equations is what anyone can learn about it.

The work is kept small:
- an aggregate whose children along some dimension are all published is the sum of their equations and is
  dropped (a kommune total next to all its published rows, the national total next to the regions...);
- equations with the same unknowns are kept once, and so are suppressed cells with the same unknowns;
- the system falls apart into independent parts (connected components of unknowns and equations), each
  solved on its own; a cell that spans parts gets the sum of its parts' bounds;
- a cheap upper bound (an unknown is at most the smallest right-hand side of an equation it is in) is
  exact as soon as any solution reaches it, and the lower bound 0 as soon as any solution has the cell at
  0: one program maximising the sum of min(cell, its cheap bound) over all cells, one minimising their sum,
  and every later solution are checked for that;
- the cells left get one program each for the highest and one for the lowest value, every program
  starting from the previous one's optimal basis (``_Solver``).

Several releases of a period can be analysed together (``Release.var``): an inner cell whose value is the
same in both releases is one unknown shared by them, so what one release publishes is known in the other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from dream.disclosure.errors import DisclosureInputError
from dream.disclosure.table import Table

try:  # the HiGHS that scipy ships, driven directly to re-solve from the last basis (see _Solver)
    from scipy.optimize._highspy import _core as _highs
except ImportError:  # pragma: no cover - depends on the scipy build
    _highs = None

log = logging.getLogger(__name__)

TOL = 1e-6


@dataclass
class Release:
    """One release of a period: its table, which cells it suppressed, the cell values (NaN where not known
    to the analysis) and, per inner cell, the id of the unknown it is (shared between releases where the
    inner cell did not change)."""

    table: Table
    suppressed: np.ndarray
    values: np.ndarray
    var: np.ndarray


@dataclass
class System:
    rows: sp.csr_matrix  # equations x unknowns
    rhs: np.ndarray
    row_cell: np.ndarray  # the published cell of each equation
    row_release: np.ndarray
    targets: sp.csr_matrix  # suppressed cells x unknowns
    target_const: np.ndarray  # the published part of each suppressed cell
    target_cell: np.ndarray
    target_release: np.ndarray
    unknown_inner: list[np.ndarray] = field(default_factory=list)  # per release: unknown column of each inner cell, -1 if known


def _children(table: Table) -> list[sp.csr_matrix]:
    """Per dimension: published cells x published cells, 1 where the second is a child of the first along
    that dimension (its label one level down, the other labels equal)."""
    out = []
    eyes = [sp.identity(len(a.labels), dtype=np.int64, format="csr") for a in table.axes]
    for d, axis in enumerate(table.axes):
        child = np.flatnonzero(axis.parent >= 0)
        ch = sp.csr_matrix((np.ones(len(child), dtype=np.int64), (axis.parent[child], child)),
                           shape=(len(axis.labels), len(axis.labels)))
        m = None
        for e, other in enumerate(eyes):
            part = ch if e == d else other
            m = part if m is None else sp.kron(m, part, format="csr")
        out.append(m)
    return out


def redundant(table: Table, published: np.ndarray) -> np.ndarray:
    """Published aggregates whose children along some dimension are all published: their equation is the
    sum of their children's and adds nothing."""
    out = np.zeros(table.n_cells, dtype=bool)
    pub = published.astype(np.int64)
    for m in _children(table):
        n_children = np.asarray(m.sum(axis=1)).ravel()
        out |= (n_children > 0) & (m @ pub == n_children)
    return out & published


def build(releases: Sequence[Release]) -> System:
    n_global = int(max(r.var.max() for r in releases)) + 1
    known = np.full(n_global, np.nan)
    for r in releases:
        t = r.table
        pub_inner = ~r.suppressed[t.inner_cell]
        vals = r.values[t.inner_cell]
        ok = pub_inner & ~np.isnan(vals)
        g, v = r.var[ok], vals[ok]
        clash = ~np.isnan(known[g]) & (np.abs(known[g] - v) > TOL)
        if clash.any():
            raise DisclosureInputError(
                f"{int(clash.sum())} inner cells are published with different values in two releases but were "
                f"taken as unchanged; give the releases with the values of their suppressed cells")
        known[g] = v
    unknown = np.flatnonzero(np.isnan(known))
    col_of = np.full(n_global, -1, dtype=np.int64)
    col_of[unknown] = np.arange(len(unknown))
    n_u = len(unknown)
    rows, rhs, row_cell, row_rel = [], [], [], []
    targets, tconst, tcell, trel, unknown_inner = [], [], [], [], []
    for k, r in enumerate(releases):
        t = r.table
        cols = col_of[r.var]
        unknown_inner.append(cols)
        has = cols >= 0
        p = sp.csr_matrix((np.ones(int(has.sum())), (np.flatnonzero(has), cols[has])), shape=(t.n_inner, n_u))
        expr = (t.matrix @ p).tocsr()
        const = t.matrix @ np.nan_to_num(known[r.var])
        published = ~r.suppressed
        eq = published & (t.cell_depth > 0) & ~redundant(t, published)
        n_unknown = np.diff(expr.indptr)
        empty = eq & (n_unknown == 0)
        bad = empty & ~np.isnan(r.values) & (np.abs(r.values - const) > TOL)
        if bad.any():
            raise DisclosureInputError(
                f"release {k}: {int(bad.sum())} published cells are not the sum of their published inner cells; "
                f"the table is not additive (or two releases were taken as unchanged that are not)")
        eq &= n_unknown > 0
        idx = np.flatnonzero(eq)
        rows.append(expr[idx])
        rhs.append(r.values[idx] - const[idx])
        row_cell.append(idx)
        row_rel.append(np.full(len(idx), k))
        sup = np.flatnonzero(r.suppressed)
        targets.append(expr[sup])
        tconst.append(const[sup])
        tcell.append(sup)
        trel.append(np.full(len(sup), k))
    system = System(sp.vstack(rows, format="csr"), np.concatenate(rhs), np.concatenate(row_cell),
                    np.concatenate(row_rel), sp.vstack(targets, format="csr"), np.concatenate(tconst),
                    np.concatenate(tcell), np.concatenate(trel), unknown_inner)
    return _dedupe_rows(system)


def _dedupe_rows(s: System) -> System:
    seen: dict[bytes, int] = {}
    keep = []
    m = s.rows
    for i in range(m.shape[0]):
        key = np.sort(m.indices[m.indptr[i]:m.indptr[i + 1]]).tobytes()
        j = seen.get(key)
        if j is None:
            seen[key] = i
            keep.append(i)
        elif abs(s.rhs[i] - s.rhs[j]) > TOL:
            raise DisclosureInputError(
                "two published cells add up the same unknown inner cells but have different values; the releases "
                "taken as unchanged differ (give them with the values of their suppressed cells)")
    keep = np.array(keep, dtype=np.int64)
    s.rows, s.rhs, s.row_cell, s.row_release = s.rows[keep], s.rhs[keep], s.row_cell[keep], s.row_release[keep]
    return s


@dataclass
class Part:
    """One independent part of the system."""

    cols: np.ndarray  # unknowns
    rows: np.ndarray  # equations
    a: sp.csr_matrix
    b: np.ndarray


def parts(s: System) -> tuple[list[Part], np.ndarray]:
    """The independent parts, and the part of every unknown."""
    n_r, n_u = s.rows.shape
    graph = sp.bmat([[None, s.rows], [s.rows.T, None]], format="csr") if n_r and n_u else sp.csr_matrix((n_r + n_u,) * 2)
    _, label = connected_components(graph, directed=False)
    row_label, col_label = label[:n_r], label[n_r:]
    order_r, order_c = np.argsort(row_label, kind="stable"), np.argsort(col_label, kind="stable")
    out = []
    uniq, starts = np.unique(col_label[order_c], return_index=True)
    bounds_c = dict(zip(uniq, np.split(order_c, starts[1:])))
    uniq_r, starts_r = np.unique(row_label[order_r], return_index=True) if n_r else (np.array([]), np.array([]))
    bounds_r = dict(zip(uniq_r, np.split(order_r, starts_r[1:]))) if n_r else {}
    part_of = np.empty(n_u, dtype=np.int64)
    for k, lab in enumerate(uniq):
        cols = bounds_c[lab]
        rows = bounds_r.get(lab, np.zeros(0, dtype=np.int64))
        part_of[cols] = k
        out.append(Part(cols, rows, s.rows[rows][:, cols].tocsr(), s.rhs[rows]))
    return out, part_of


@dataclass
class Bounds:
    lo: np.ndarray
    hi: np.ndarray
    programs: int = 0  # linear programs solved


def _linprog(c, a_eq, b_eq, a_ub=None, b_ub=None, bounds=(0, None)):
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status == 2:
        raise DisclosureInputError("the published cells contradict each other (no non-negative inner cells add up "
                                   "to them): the table is not additive")
    return res


class _Solver:
    """One part's program, solved again and again with a new objective.

    ``scipy.optimize.linprog`` starts every program from scratch; the thousands of programs of a national
    table are much faster when each starts from the previous optimal basis (a few dozen primal simplex
    steps instead of thousands). The HiGHS solver that scipy ships (the one behind
    ``linprog(method="highs")``) is driven directly for that; where that module is missing, each program
    goes through ``linprog``.
    """

    def __init__(self, a: sp.csr_matrix, b: np.ndarray):
        self.a, self.b, self.n = a, b, a.shape[1]
        self.h, self.last = None, None
        if _highs is None:
            return
        h = _highs._Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)  # primal simplex: a new objective keeps the basis feasible
        model = _highs.HighsLp()
        model.num_col_, model.num_row_ = self.n, a.shape[0]
        model.col_cost_ = np.zeros(self.n)
        model.col_lower_ = np.zeros(self.n)
        model.col_upper_ = np.full(self.n, _highs.kHighsInf)
        model.row_lower_ = b.astype(float)
        model.row_upper_ = b.astype(float)
        csc = a.tocsc()
        model.a_matrix_.format_ = _highs.MatrixFormat.kColwise
        model.a_matrix_.start_ = csc.indptr
        model.a_matrix_.index_ = csc.indices
        model.a_matrix_.value_ = csc.data.astype(float)
        h.passModel(model)
        self.h = h

    def optimum(self, cols: np.ndarray, coefs: np.ndarray, sense: int) -> tuple[float, np.ndarray | None]:
        """max (sense=1) or min (sense=-1) of sum(coefs * x[cols]); and the solution."""
        if self.h is None:
            c = np.zeros(self.n)
            c[cols] = -sense * coefs
            res = _linprog(c, self.a, self.b)
            if res.status == 3:
                return np.inf * sense, None
            return -sense * res.fun, res.x
        h = self.h
        if self.last is not None:
            h.changeColsCost(len(self.last), self.last.astype(np.int32), np.zeros(len(self.last)))
        h.changeColsCost(len(cols), cols.astype(np.int32), (-sense * coefs).astype(float))
        self.last = cols
        h.run()
        status = h.getModelStatus()
        if status == _highs.HighsModelStatus.kUnbounded:
            return np.inf * sense, None
        if status != _highs.HighsModelStatus.kOptimal:
            raise DisclosureInputError(f"the linear program ended as {h.modelStatusToString(status)}; the published "
                                       f"cells may contradict each other")
        x = np.asarray(h.getSolution().col_value)
        return -sense * h.getInfo().objective_function_value, x


def _simple_upper(part: Part, t: sp.csr_matrix) -> np.ndarray:
    """Upper bounds without a program: an unknown is at most the smallest right-hand side of an equation it
    is in (all unknowns are >= 0); a cell at most the sum of its unknowns' bounds, and at most the right-hand
    side of an equation that holds all of its unknowns."""
    a = part.a.tocsc()
    ub_var = np.full(a.shape[1], np.inf)
    for j in range(a.shape[1]):
        r = a.indices[a.indptr[j]:a.indptr[j + 1]]
        if len(r):
            ub_var[j] = part.b[r].min()
    out = np.asarray(t @ np.where(np.isinf(ub_var), 1e18, ub_var)).ravel()
    out[out >= 1e17] = np.inf
    size = np.diff(t.indptr)
    multi = np.flatnonzero(size > 1)
    if len(multi):
        hits = (part.a @ t[multi].T).tocsc()  # equations x multi-cell targets: how many of its unknowns
        for k, m in enumerate(multi):
            r = hits.indices[hits.indptr[k]:hits.indptr[k + 1]]
            full = r[hits.data[hits.indptr[k]:hits.indptr[k + 1]] == size[m]]
            if len(full):
                out[m] = min(out[m], part.b[full].min())
    return out


def _round_max(part: Part, t: sp.csr_matrix, cap: np.ndarray) -> np.ndarray:
    """One program over many cells: maximise the sum of min(cell, cap); returns the solution."""
    n, m = part.a.shape[1], t.shape[0]
    a_eq = sp.hstack([part.a, sp.csr_matrix((part.a.shape[0], m))], format="csr")
    a_ub = sp.hstack([-t, sp.identity(m, format="csr")], format="csr")
    c = np.concatenate([np.zeros(n), -np.ones(m)])
    bounds = [(0, None)] * n + [(0, float(cp)) for cp in cap]
    return _linprog(c, a_eq, part.b, a_ub, np.zeros(m), bounds).x[:n]


def _round_min(part: Part, t: sp.csr_matrix) -> np.ndarray:
    """One program over many cells: minimise their sum; returns the solution."""
    return _linprog(np.asarray(t.sum(axis=0)).ravel(), part.a, part.b).x


def _unique_rows(t: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    keys = {}
    inverse = np.empty(t.shape[0], dtype=np.int64)
    first = []
    for i in range(t.shape[0]):
        lo, hi = t.indptr[i], t.indptr[i + 1]
        key = (t.indices[lo:hi].tobytes(), t.data[lo:hi].tobytes())
        k = keys.setdefault(key, len(first))
        if k == len(first):
            first.append(i)
        inverse[i] = k
    return t[first], inverse


def bounds(part: Part, t: sp.csr_matrix, truth: np.ndarray | None = None) -> Bounds:
    """Exact lowest and highest value of each row of ``t`` (a sum of this part's unknowns). ``truth``: a
    solution (the true values), used only to skip programs."""
    m_all = t.shape[0]
    if part.a.shape[0] == 0:
        return Bounds(np.zeros(m_all), np.full(m_all, np.inf))
    t, inverse = _unique_rows(t.tocsr())
    t.sort_indices()
    m = t.shape[0]
    lo, hi = np.full(m, np.nan), np.full(m, np.nan)
    ub = _simple_upper(part, t)
    programs = 0

    def absorb(x):
        """A solution proves the lower bound 0 of cells at 0 and the upper bound of cells at ``ub``."""
        vals = np.asarray(t @ x).ravel()
        at_ub = np.isnan(hi) & (vals >= ub - TOL * np.maximum(1.0, ub))
        hi[at_ub] = ub[at_ub]
        at_zero = np.isnan(lo) & (vals <= TOL)
        lo[at_zero] = 0.0

    if truth is not None:
        absorb(truth)
    if np.isnan(hi).any():
        todo = np.flatnonzero(np.isnan(hi))
        x = _round_max(part, t[todo], ub[todo])
        programs += 1
        absorb(x)
    if np.isnan(lo).any():
        x = _round_min(part, t[np.flatnonzero(np.isnan(lo))])
        programs += 1
        absorb(x)
    solver = _Solver(part.a, part.b)
    for sense, out in ((1, hi), (-1, lo)):
        for k in range(m):
            if not np.isnan(out[k]):
                continue
            cols = t.indices[t.indptr[k]:t.indptr[k + 1]]
            value, x = solver.optimum(cols, t.data[t.indptr[k]:t.indptr[k + 1]], sense)
            programs += 1
            out[k] = value
            if x is not None:
                absorb(x)
    return Bounds(np.maximum(lo, 0.0)[inverse], hi[inverse], programs)


def intervals(s: System, truth: np.ndarray | None = None) -> Bounds:
    """Exact bounds of every suppressed cell of the system. ``truth``: the true value of every unknown, when
    known (only to skip programs)."""
    plist, _ = parts(s)
    t = s.targets.tocsr()
    lo = np.zeros(t.shape[0])
    hi = np.zeros(t.shape[0])
    programs = 0
    tc = t.tocsc()
    for part in plist:
        touching = np.unique(tc[:, part.cols].indices)
        if not len(touching):
            continue
        sub = t[touching][:, part.cols].tocsr()
        b = bounds(part, sub, None if truth is None else truth[part.cols])
        lo[touching] += b.lo
        hi[touching] += b.hi
        programs += b.programs
    return Bounds(lo + s.target_const, hi + s.target_const, programs)


class CellBounds:
    """The interval of one suppressed cell at a time, on demand (the suppression's last resort: a cell
    that no cheap box protects may be protected already, through combinations no box shows)."""

    def __init__(self, releases: Sequence[Release]):
        self.system = build(releases)
        self.parts, self.part_of = parts(self.system)
        self.solvers: dict[int, _Solver] = {}
        self.row = {(int(k), int(c)): i for i, (k, c) in
                    enumerate(zip(self.system.target_release, self.system.target_cell))}

    def interval(self, cell: int, release: int = 0) -> tuple[float, float]:
        """(lowest, highest) value of a suppressed cell of the given release."""
        i = self.row[(release, cell)]
        t = self.system.targets
        cols, coefs = t.indices[t.indptr[i]:t.indptr[i + 1]], t.data[t.indptr[i]:t.indptr[i + 1]]
        lo = hi = float(self.system.target_const[i])
        for k in np.unique(self.part_of[cols]).tolist():
            part = self.parts[k]
            inside = self.part_of[cols] == k
            local = np.searchsorted(part.cols, cols[inside])
            if part.a.shape[0] == 0:
                hi = np.inf
                continue
            solver = self.solvers.get(k) or self.solvers.setdefault(k, _Solver(part.a, part.b))
            hi += solver.optimum(local, coefs[inside], 1)[0]
            lo += solver.optimum(local, coefs[inside], -1)[0]
        return max(lo, 0.0), hi
