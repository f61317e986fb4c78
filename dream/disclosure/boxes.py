"""Interval protection: a witness for every suppressed cell, built from "boxes".

Linear protection (``gauss.py``) makes sure no suppressed cell is a linear combination of published cells.
It does not make sure a small cell can be large: if the cells suppressed with it are small too, inner
cells >= 0 cap it below the threshold (a 3 suppressed next to a 1 and a 0 is at most 4). The audit asks
for more: every suppressed cell with a true value 1..threshold-1 must be able to reach the threshold, and
every other nonzero suppressed cell must be able to move, with every published cell unchanged.

A *box* shows that directly. In every dimension choose a leaf ``u`` under the cell's label and either
nothing more (single), or one partner leaf ``u'`` under a sibling branch (pair), or all the leaves of the
sibling branches at once, each with a weight (pool). The change to the inner cells is the product of the
per-dimension changes (+1 on ``u``, minus the weight on a partner): in a two-dimensional table with
margins, the familiar +1 -1 / -1 +1 rectangle. A published cell sees the change only if in every
dimension its label holds ``u`` without its partners (+1) or a partner without ``u`` (minus its weight);
every other published cell adds equal amounts of plus and minus and stays the same (a region holding a
kommune and its pool of neighbours sees nothing). Once every cell that sees the box is suppressed, the
inner cells can move by ``tau`` times the box, where ``tau`` is limited by the inner values on the
negative corners, and no published cell changes: every seen cell moves, and the cell the box was built for
grows by ``tau``. A pool spreads the decrease over all partners that have room, weighted by their room.

For every suppressed cell that lacks a witness, the cheapest box that gives one is added (its cells are
suppressed): cheapest = the smallest sum over the cells it newly suppresses of (1 + value) x (1 + level),
so already suppressed cells are free and inner cells are cheaper than totals. Per dimension the candidates
are the single, the pool and a few pairs (partners already suppressed and with room first); all
combinations are compared at once with numpy (at most one pooled dimension per box): a box's cost is a
sum and its room a minimum over the product of its dimensions' labels and leaves, so both are worked out
one dimension at a time, without listing every box. The box of singles in every dimension (suppress
every cell above one inner cell: no negative corner) always exists, so every cell gets a witness. Cells
the previous release published with an unchanged value are used only when nothing else works (a revised
period where the revision took the room a box had): hiding them hides nothing from someone holding both
releases, which ``audit_releases`` shows.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dream.disclosure.errors import DisclosureError
from dream.disclosure.table import Table

log = logging.getLogger(__name__)

PARTNERS = 3  # per dimension and level: partner leaves tried as pairs
CARRIERS = 2  # per aggregate label: leaves tried to carry the change
FORCED_COST = 1e12  # the cost of suppressing a cell the previous release published with the same value


@dataclass
class _AxisPaths:
    paths: list[list[int]]  # per leaf: its labels from the leaf up to the total
    under: list[np.ndarray]  # per label: the leaves under it
    siblings: list[list[int]]  # per label: the other labels with the same parent
    levels: list[list[tuple[int, np.ndarray]]]  # per label: (cut, partner leaves) per level, see _axis_paths


def _axis_paths(axis) -> _AxisPaths:
    paths = []
    for leaf in range(axis.n_leaves):
        chain, x = [leaf], leaf
        while axis.parent[x] >= 0:
            x = int(axis.parent[x])
            chain.append(x)
        paths.append(chain)
    n = len(axis.labels)
    under = [np.flatnonzero(axis.members[label].toarray().ravel()) for label in range(n)]
    by_parent: dict[int, list[int]] = {}
    for label in range(n):
        by_parent.setdefault(int(axis.parent[label]), []).append(label)
    siblings = [[s for s in by_parent[int(axis.parent[label])] if s != label] if axis.parent[label] >= 0 else []
                for label in range(n)]
    levels = []
    for label in range(n):
        # partners at every level: the leaves under the siblings of the label, of its parent, ...; the labels
        # that see a leaf's change are its path below the common parent of the level's labels (every leaf has
        # one label per level, so that is the path's first ``cut`` labels)
        levels.append([])
        x = label
        while x >= 0 and siblings[x]:
            levels[label].append((int(axis.depth[x]) + 1, np.concatenate([under[s] for s in siblings[x]])))
            x = int(axis.parent[x])
    return _AxisPaths(paths, under, siblings, levels)


@dataclass
class _Option:
    """One dimension's part of a box: the leaf ``u`` with the labels that see it (+1), and the partner
    leaves with the labels that see each of them (minus the partner's weight)."""

    plus_leaf: int
    plus_labels: list[int]
    minus: list[tuple[int, list[int]]]

    def corners(self) -> list[int]:
        """The leaves of its corners: ``u`` first, then the partners."""
        return [self.plus_leaf, *(leaf for leaf, _ in self.minus)]

    def seen(self) -> tuple[list[int], list[float]]:
        """The labels that see the change, and the sign of the change each sees."""
        labels, signs = list(self.plus_labels), [1.0] * len(self.plus_labels)
        for _, segment in self.minus:
            labels += segment
            signs += [-1.0] * len(segment)
        return labels, signs


class _Incidence:
    """One dimension's options against the labels (or leaves) they touch: ``items`` the distinct ones in
    order, ``positions`` per option the positions of its items, ``matrix`` option x item, 1 where touched;
    ``first`` per option the position of its first item, ``rest`` of the others, padded with ``len(items)``."""

    def __init__(self, touched: list[list[int]]):
        items = sorted({i for t in touched for i in t})
        where = {item: k for k, item in enumerate(items)}
        self.items = np.array(items, dtype=np.int64)
        self.positions = [[where[i] for i in t] for t in touched]
        self.matrix = _rows(touched, where)
        self.first = np.array([p[0] for p in self.positions])
        width = max(1, max(len(p) - 1 for p in self.positions))
        self.rest = np.array([p[1:] + [len(items)] * (width + 1 - len(p)) for p in self.positions])
        self._offsets: dict[int, np.ndarray] = {}

    def offsets(self, stride: int) -> np.ndarray:
        """``items * stride``: the items' part of a flat index (kept: a dimension's stride does not change)."""
        found = self._offsets.get(stride)
        if found is None:
            found = self._offsets[stride] = self.items * stride
        return found


class _Choices:
    """One dimension's options with the labels they are seen by and their corner leaves, worked out once
    for all the searches that use them (options without a pool once per table: see ``Boxes._plain``)."""

    def __init__(self, options: list[_Option]):
        self.options = options
        self.seen = _Incidence([o.seen()[0] for o in options])
        self.corners = _Incidence([o.corners() for o in options])

    @functools.cached_property
    def pool(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """For pool options (``Boxes._cheapest_pool``): option x seen label, 1 where the label sees the
        carrier; partner x seen label, 1 where it sees the partner (the partners of all options in a row);
        each option's first partner; the position of every partner among the corners."""
        label_at = {int(label): k for k, label in enumerate(self.seen.items)}
        plus = _rows([o.plus_labels for o in self.options], label_at)
        members = _rows([segment for o in self.options for _, segment in o.minus], label_at)
        starts = np.cumsum([0] + [len(o.minus) for o in self.options[:-1]])
        return plus, members, starts, [k for p in self.corners.positions for k in p[1:]]


def _rows(lists: list[list[int]], position: dict[int, int]) -> np.ndarray:
    """A matrix with one row per list: how often each item (column ``position[item]``) is in it."""
    flat = [row * len(position) + position[item] for row, items in enumerate(lists) for item in items]
    return np.bincount(flat, minlength=len(lists) * len(position)).reshape(len(lists), len(position)) * 1.0


def _grid(items: list[np.ndarray], strides: np.ndarray) -> np.ndarray:
    """The flat index of every combination of the items of each dimension (one axis per dimension)."""
    return functools.reduce(np.add.outer, [i * int(stride) for i, stride in zip(items, strides)])


def _incidence_grid(incidences: list[_Incidence], strides: np.ndarray) -> np.ndarray:
    """``_grid`` of the incidences' items."""
    return functools.reduce(np.add.outer, [inc.offsets(int(stride)) for inc, stride in zip(incidences, strides)])


def _contract(values: np.ndarray, incidences: list[_Incidence], skip: int | None = None) -> np.ndarray:
    """Per combination of options (one axis per dimension): the sum of ``values`` over the product of the
    items the options touch. The axis of dimension ``skip`` stays one of items.

    Each step contracts the first axis and puts the result last (one product of two matrices), so after
    every dimension the axes are back in order."""
    for d, inc in enumerate(incidences):
        flat = values.reshape(values.shape[0], -1).T
        if d != skip:
            flat = flat @ inc.matrix.T
        values = flat.reshape(*values.shape[1:], flat.shape[1])
    return values


def _corner_minima(values: np.ndarray, corners: list[_Incidence],
                   skip: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per combination of options (one axis per dimension): the smallest of ``values`` (the product of the
    corner leaves) over the corners with an odd and with an even number of partners; inf where there is
    none. The axis of dimension ``skip`` stays one of leaves."""
    # every axis gets one more position, inf, for the options with fewer partners than the widest; the
    # even and the odd minima are kept together along a first axis of two (even, odd)
    parity = np.full([2, *(n + (d != skip) for d, n in enumerate(values.shape))], np.inf)
    parity[(0, *(slice(0, n) for n in values.shape))] = values
    for d, inc in enumerate(corners):
        if d == skip:
            continue
        # through u the parity stays, through a partner it flips
        parity = np.minimum(parity.take(inc.first, axis=d + 1),
                            parity[::-1].take(inc.rest, axis=d + 1).min(axis=d + 2))
    return parity[1], parity[0]


class Boxes:
    """The witnesses of one table; ``suppressed`` grows as boxes are added."""

    def __init__(self, table: Table, suppressed: np.ndarray, forced_published: np.ndarray,
                 previous_suppressed: np.ndarray | None = None, previous_inner: np.ndarray | None = None):
        self.table = table
        self.suppressed = suppressed.copy()
        self.values = table.cell_values.astype(float)
        self.inner = table.inner_values.astype(float)
        # a cell the previous release published with the same value hides nothing: a last resort only
        self.base_cost = np.where(forced_published, FORCED_COST, (1.0 + self.values) * (1.0 + table.cell_depth))
        self.cost = np.where(self.suppressed, 0.0, self.base_cost)  # suppressing each cell now: 0 once it is
        self.not_in_previous = 0  # boxes of a revised period that do not hold in the previous release
        self.check = None  # cell, increase needed, must move -> bool: a linear program's word, when set
        self.revised = previous_suppressed is not None
        if self.revised:
            # A revised period (see _revised_box): a box must hold in both releases. Cells the previous release
            # published may not see it, inner cells it published whose value changed may not be a corner, and
            # the room on a corner is the smaller of its two values.
            old = np.where(np.isnan(previous_inner), self.inner, previous_inner)
            self.old_published_changed = (old != self.inner) & ~previous_suppressed[table.inner_cell]
            self.old_published = ~previous_suppressed
            self.inner = np.minimum(self.inner, old)
        self.axes = [_axis_paths(a) for a in table.axes]
        self.cell_strides = np.array([int(np.prod(table.cell_shape[d + 1:])) for d in range(len(table.axes))])
        self.inner_strides = np.array([int(np.prod(table.inner_shape[d + 1:])) for d in range(len(table.axes))])
        self.raise_by = np.zeros(table.n_cells)  # the largest witnessed increase of each cell
        self.moves = np.zeros(table.n_cells, dtype=bool)
        self.boxes = 0
        self.choices: dict[tuple, _Choices] = {}  # options without a pool, worked out once: see _plain

    def need(self, threshold: int) -> tuple[np.ndarray, np.ndarray]:
        """(increase needed, must move) per cell: suppressed cells under the threshold must be able to reach
        it (hidden zeros too: from the published table alone a hidden zero must not look like a small group),
        every nonzero suppressed cell must move."""
        v = self.values
        small = self.suppressed & (v < threshold)
        return np.where(small, threshold - v, 0.0), self.suppressed & (v >= 1)

    def missing(self, threshold: int) -> np.ndarray:
        """The suppressed cells without a witness yet."""
        raise_need, move = self.need(threshold)
        return np.flatnonzero((move | (raise_need > 0)) & ((self.raise_by < raise_need) | (move & ~self.moves)))

    def protect(self, threshold: int) -> int:
        """Give every suppressed nonzero cell a witness, adding boxes where needed; returns the cells added."""
        before = int(self.suppressed.sum())
        while True:
            raise_need, move = self.need(threshold)
            todo = self.missing(threshold)
            if not len(todo):
                break
            todo = todo[np.lexsort((todo, -raise_need[todo]))]  # the cells needing most first, then table order
            for cell in todo.tolist():
                if self.raise_by[cell] >= raise_need[cell] and (self.moves[cell] or not move[cell]):
                    continue  # a box added for an earlier cell covers this one
                self._protect_cell(cell, max(raise_need[cell], 1.0))
        return int(self.suppressed.sum()) - before

    # --- candidates -----------------------------------------------------------------------------------
    def _line(self, d: int, leaves: np.ndarray, multi: np.ndarray) -> np.ndarray:
        """The cells on the line through the target: its labels with dimension ``d`` replaced by each leaf."""
        stride = self.cell_strides[d]
        return int(multi @ self.cell_strides) + (leaves - multi[d]) * stride

    def _rank(self, d: int, leaves: np.ndarray, multi: np.ndarray, need: float) -> np.ndarray:
        """Leaves ordered as partners: their line cell suppressed and with room first, then with room, then
        cheapest."""
        if not len(leaves):
            return leaves
        line = self._line(d, leaves, multi)
        sup, room = self.suppressed[line], self.values[line] >= need
        return leaves[np.lexsort((leaves, self.base_cost[line], ~room, ~(sup & room)))]

    def _plain(self, d: int, multi: np.ndarray, need: float) -> tuple[_Choices, tuple[int, ...]]:
        """Dimension ``d``'s options without a pool for the box around the target, and its carriers: the single
        of every carrier, then per level and carrier a pair with each of the partners tried. Kept by the label,
        carriers and partners: cells that differ in another dimension mostly rank the same partners first."""
        ap, label = self.axes[d], int(multi[d])
        carriers = ap.under[label]
        if len(carriers) > CARRIERS:
            carriers = self._rank(d, carriers, multi, 0.0)[:CARRIERS]
        carriers = tuple(carriers.tolist())
        pairs = tuple(tuple(self._rank(d, partners, multi, need)[:PARTNERS].tolist())
                      for _, partners in ap.levels[label])
        key = (False, d, label, carriers, pairs)
        if key not in self.choices:
            self.choices[key] = self._build(d, label, carriers, pairs, pooled=False)
        return self.choices[key], carriers

    def _pools(self, d: int, multi: np.ndarray, carriers: tuple[int, ...]) -> _Choices | None:
        """Dimension ``d``'s pool options for the box around the target: per level and carrier, the pool of
        every partner whose line cell is not 0 (a 0 has no room to give); None where no level has two. (Rarely
        the same twice: not kept.)"""
        label = int(multi[d])
        pools = [partners[self.values[self._line(d, partners, multi)] > 0].tolist()
                 for _, partners in self.axes[d].levels[label]]
        return self._build(d, label, carriers, pools, pooled=True) if any(len(m) > 1 for m in pools) else None

    def _build(self, d: int, label: int, carriers: Sequence[int], per_level: Sequence[Sequence[int]],
               pooled: bool) -> _Choices:
        """The options of ``_plain`` (per level the partners tried) or of ``_pools`` (per level the pool)."""
        ap = self.axes[d]
        options = [] if pooled else [_Option(u, list(ap.paths[u]), []) for u in carriers]
        for (cut, _), partners in zip(ap.levels[label], per_level):
            pool = [(p, ap.paths[p][:cut]) for p in partners]
            for u in carriers:
                segment = ap.paths[u][:cut]
                if not pooled:
                    options += [_Option(u, segment, [minus]) for minus in pool]
                elif len(pool) > 1:
                    options.append(_Option(u, segment, pool))
        return _Choices(options)

    # --- one cell -------------------------------------------------------------------------------------
    def _protect_cell(self, cell: int, need: float) -> None:
        t = self.table
        multi = np.array(np.unravel_index(cell, t.cell_shape))
        plain, carriers = zip(*[self._plain(d, multi, need) for d in range(len(t.axes))])
        best = self._search(list(plain), None, need)
        for d in range(len(t.axes)):
            if best is not None and best[0] == 0:
                break
            pools = self._pools(d, multi, carriers[d])
            if pools is not None:
                found = self._search([pools if e == d else c for e, c in enumerate(plain)], d, need,
                                     np.inf if best is None else best[0])
                if found is not None and (best is None or found[0] < best[0]):
                    best = found
        if self.revised and (best is None or best[0] >= FORCED_COST):
            best = self._revised_box(cell) or best
        if (best is None or best[0] >= FORCED_COST) and self.check is not None and self.check(cell, need):
            self.raise_by[cell] = max(self.raise_by[cell], need)  # protected already, through no single box
            self.moves[cell] = True
            return
        if self.revised and best is not None and best[0] >= FORCED_COST:
            self.not_in_previous += 1
        if best is None:  # cannot happen: the box of singles has no negative corner
            raise DisclosureError(f"cell {t.cell_keys()[cell]} cannot be given room to reach the threshold")
        _, seen, coef, tau_plus, tau_minus = best
        self.suppressed[seen] = True
        self.cost[seen] = 0.0
        up = np.where(coef > 0, tau_plus * coef, tau_minus * -coef)
        self.raise_by[seen] = np.maximum(self.raise_by[seen], up)
        if tau_plus > 0 or tau_minus > 0:
            self.moves[seen] = True
        self.boxes += 1

    def _revised_box(self, cell: int):
        """In a revised period: the box of one inner cell under ``cell`` whose value changed and which the
        previous release published, with every published cell above it suppressed. The previous release
        keeps its value (it was published), the new one can be anything: a witness in both releases. The
        cheapest such inner cell; None if there is none, or only through cells published unchanged."""
        t = self.table
        under = t.matrix.indices[t.matrix.indptr[cell]:t.matrix.indptr[cell + 1]]
        best = None
        for m in under[self.old_published_changed[under]].tolist():
            seen = t.cell_inner_t.indices[t.cell_inner_t.indptr[m]:t.cell_inner_t.indptr[m + 1]]
            cost = float(self.cost[seen].sum())
            if cost < FORCED_COST and (best is None or cost < best[0]):
                best = (cost, seen, np.ones(len(seen)), np.inf, float(t.inner_values[m]))
        return best

    def _search(self, choices: list[_Choices], pool_dim: int | None, need: float, below: float = np.inf):
        """The cheapest box among all combinations of the options whose target can grow by ``need``:
        (cost, seen cells, their coefficients, tau up, tau down), or None. The combinations are compared
        dimension by dimension (``_search_plain``, ``_cheapest_pool``); only the chosen box is listed, and a
        pooled box only when it costs less than ``below`` (the best box so far: a dearer one is not used)."""
        if pool_dim is None:
            return self._search_plain(choices, need)
        found = self._cheapest_pool(choices, pool_dim, need)
        if found is None or found[1] >= below:
            return None
        return self._pooled_box([c.options[i] for c, i in zip(choices, found[0])], pool_dim, need)

    def _search_plain(self, choices: list[_Choices], need: float):
        """``_search`` without a pool, dimension by dimension instead of box by box (the same box: the
        cheapest, then the most room, then the first in C order over the options).

        A box's cost is a sum over the product of its dimensions' seen labels: the table of cell costs times
        one option x label matrix per dimension. All terms are whole numbers, so the sums are exact in any
        order. Its room up is the smallest inner value on a negative corner (an odd number of partners), its
        room down the smallest on a positive one (weights are 1 without a pool): both are carried through the
        dimensions, as the smallest value over an odd and over an even number of partners so far."""
        options = [c.options for c in choices]
        seen, corners = [c.seen for c in choices], [c.corners for c in choices]
        cells = _incidence_grid(seen, self.cell_strides)
        inner = _incidence_grid(corners, self.inner_strides)
        cost = _contract(self.cost[cells], seen).ravel()
        if self.revised:  # seen by a cell the previous release published, or moving a corner it published
            cost += FORCED_COST * _contract(self.old_published[cells].astype(float), seen).ravel()
            cost += FORCED_COST * _contract(self.old_published_changed[inner].astype(float), corners).ravel()
        tau_plus, tau_minus = (m.ravel() for m in _corner_minima(self.inner[inner], corners))
        ok = (tau_plus >= need - 1e-9) & np.isfinite(cost)
        if not ok.any():
            return None
        cand = np.flatnonzero(ok)
        k = cand[np.lexsort((cand, -tau_plus[cand], cost[cand]))[0]]
        chosen = [opts[i].seen() for opts, i in zip(options, np.unravel_index(k, [len(o) for o in options]))]
        box = _grid([np.array(labels) for labels, _ in chosen], self.cell_strides).ravel()
        coef = functools.reduce(np.multiply.outer, [np.array(signs) for _, signs in chosen]).ravel()
        return float(cost[k]), box, coef, float(tau_plus[k]), float(tau_minus[k])

    def _cheapest_pool(self, choices: list[_Choices], pool_dim: int, need: float
                       ) -> tuple[tuple[int, ...], float] | None:
        """The option per dimension of the box ``_pooled_box`` would be with a pool in ``pool_dim`` (the
        cheapest, then the most room, then the first in C order over the options), computed as in
        ``_search_plain``: the other dimensions are summed (and minimised) first, per label (leaf) of the
        pooled dimension. A partner's room is the smallest value on a negative corner through it: with an
        even number of partners in the other dimensions; the carrier's with an odd number. A partner with
        no room gets weight 0 and its cells do not see the box, so they cost nothing. Returns the options and
        the box's cost, or None."""
        d = pool_dim
        seen, corners = [c.seen for c in choices], [c.corners for c in choices]
        cells = _incidence_grid(seen, self.cell_strides)
        inner = _incidence_grid(corners, self.inner_strides)
        plus, members, starts, partners = choices[d].pool
        odd, even = (np.moveaxis(m, d, 0) for m in _corner_minima(self.inner[inner], corners, skip=d))
        room = even[partners]  # per partner, as ``members``
        room = np.where(np.isinf(room), 0.0, room)
        total = np.add.reduceat(room, starts, axis=0)
        tau_plus = np.moveaxis(np.minimum(odd[corners[d].first], total), 0, d).ravel()

        def seen_sum(values):
            """Per combination: the sum of ``values`` over the cells that see the box (weight not 0)."""
            by_label = np.moveaxis(_contract(values, seen, skip=d), d, 0)
            live = np.where(room != 0, np.tensordot(members, by_label, axes=(1, 0)), 0.0)
            return np.moveaxis(np.tensordot(plus, by_label, axes=(1, 0)) + np.add.reduceat(live, starts, axis=0),
                               0, d).ravel()

        cost = seen_sum(self.cost[cells])
        if self.revised:  # as in _pooled_box
            cost += FORCED_COST * seen_sum(self.old_published[cells].astype(float))
            cost += FORCED_COST * _contract(self.old_published_changed[inner].astype(float), corners).ravel()
        ok = (tau_plus >= need - 1e-9) & np.isfinite(cost)
        if not ok.any():
            return None
        cand = np.flatnonzero(ok)
        k = cand[np.lexsort((cand, -tau_plus[cand], cost[cand]))[0]]
        return tuple(int(i) for i in np.unravel_index(k, [len(c.options) for c in choices])), float(cost[k])

    def _pooled_box(self, options: list[_Option], pool_dim: int, need: float):
        """The box of one option per dimension with the pool in ``pool_dim``: (cost, seen cells, their
        coefficients, tau up, tau down), or None when its target cannot grow by ``need``. Its cells and corners
        are listed in C order over the dimensions' labels (leaves); a partner's weight is its room (the smallest
        negative corner through it) over the rooms of all partners."""
        seen = [o.seen() for o in options]
        corners = [np.array(o.corners()) for o in options]

        def spread(member: np.ndarray, lengths: list[int]) -> np.ndarray:
            """The pooled dimension's ``member`` at every position of the product of the dimensions."""
            shape = [len(member) if d == pool_dim else 1 for d in range(len(lengths))]
            return np.broadcast_to(member.reshape(shape), lengths).ravel()

        corner = _grid(corners, self.inner_strides).ravel()
        values = self.inner[corner]
        # corner j of a dimension: 0 is the carrier u (+1), j > 0 partner j (-1)
        c_sign = functools.reduce(np.multiply.outer, [np.where(np.arange(len(c)) > 0, -1.0, 1.0)
                                                      for c in corners]).ravel()
        c_pool = spread(np.arange(len(corners[pool_dim])), [len(c) for c in corners])
        negative = c_sign < 0
        room = np.full(len(corners[pool_dim]), np.inf)
        np.minimum.at(room, c_pool[negative], values[negative])
        partner_room = np.where(np.isinf(room[1:]), 0.0, room[1:])
        total = partner_room.sum()
        tau_plus = min(room[0], total)
        weight = np.concatenate([[1.0], partner_room / (total if total > 0 else 1.0)])
        pool = options[pool_dim]
        s_member = np.repeat(np.arange(1 + len(pool.minus)), [len(pool.plus_labels), *(len(m) for _, m in pool.minus)])
        cells = _grid([np.array(labels) for labels, _ in seen], self.cell_strides).ravel()
        coef = (functools.reduce(np.multiply.outer, [np.array(signs) for _, signs in seen]).ravel()
                * weight[spread(s_member, [len(labels) for labels, _ in seen])])
        live = coef != 0
        cost = float(np.where(live, self.cost[cells], 0.0).sum())
        if self.revised:  # seen by a cell the previous release published, or moving a corner it published
            cost += FORCED_COST * float((live & self.old_published[cells]).sum())
            cost += FORCED_COST * float(self.old_published_changed[corner].sum())
        if not (tau_plus >= need - 1e-9 and np.isfinite(cost)):
            return None
        # the reverse direction: positive corners limit it, each by its weight
        c_weight = weight[c_pool]
        positive = (c_sign > 0) & (c_weight > 0)
        tau_minus = float(np.min(values[positive] / c_weight[positive])) if positive.any() else np.inf
        return cost, cells[live], coef[live], float(tau_plus), tau_minus
