"""Secondary suppression by Gaussian elimination, in exact integer arithmetic.

The candidates (published cells in order of preference) are offered one at a time. A candidate is
published unless publishing it, together with everything published before it, would make one of the
protected vectors (the primary suppressed cells, and sums of cells that must stay hidden) a linear
combination of published cells; such a candidate is suppressed instead (secondary suppression). This is
the rule of Statistics Norway's GaussSuppression.

The elimination is kept in its dual form. ``rows`` is a basis of the perturbations still possible: the
changes ``y`` to the inner cells that leave every published cell unchanged. At the start nothing is
published and the basis is the unit vectors. Publishing a cell ``c`` keeps only the perturbations with
``<y, c> = 0``: one basis vector with ``<y, c> != 0`` is the pivot, it is subtracted from the others so that
they get ``<y, c> = 0``, and it is dropped. A protected vector ``p`` stays hidden while some basis vector
has ``<y, p> != 0``. Its *signature* (``<y, p>`` for every basis vector ``y``) is kept up to date, and
publishing ``c`` would reveal ``p`` exactly when the signature of ``c`` is proportional to that of ``p``
(then no perturbation left after the publication changes ``p``). Signatures are compared through a hash of
their normalised form (divided by the gcd of their entries, first entry positive), so a candidate is
decided in one lookup.

Every number is a Python integer: rank decisions are exact; no floating point, no tolerance. Updates are
fraction free (``y := a*y - b*pivot``, divided by the gcd of the result when ``a != 1``); the pivot is
chosen among the vectors with the fewest entries, which keeps the vectors short (a perturbation of a
table with margins is a "box" of a few cells).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from math import gcd

log = logging.getLogger(__name__)


def _key(sig: dict[int, int]) -> frozenset:
    """The signature up to a non-zero factor."""
    first = min(sig)
    g = 0
    for v in sig.values():
        g = gcd(g, v)
    if sig[first] < 0:
        g = -g
    return frozenset((b, v // g) for b, v in sig.items())


class Elimination:
    """The state of the greedy elimination over ``n`` coordinates (inner cells) with the given protected
    vectors (each a mapping coordinate -> integer coefficient)."""

    def __init__(self, n: int, protected: Iterable[dict[int, int]]):
        self.rows: dict[int, dict[int, int]] = {b: {b: 1} for b in range(n)}
        self.cols: dict[int, dict[int, int]] = {c: {c: 1} for c in range(n)}
        self.sig: list[dict[int, int]] = []
        self.sig_rows: dict[int, set[int]] = defaultdict(set)
        self.index: dict[frozenset, set[int]] = defaultdict(set)
        self.keys: list[frozenset | None] = []
        for j, p in enumerate(protected):
            sig = {c: v for c, v in p.items() if v}
            if not sig:
                raise ValueError("a protected vector has no inner cells")
            self.sig.append(sig)
            for b in sig:
                self.sig_rows[b].add(j)
            key = _key(sig)
            self.keys.append(key)
            self.index[key].add(j)

    def functional01(self, coords: Iterable[int]) -> dict[int, int]:
        """``<y, c>`` for every basis vector ``y`` not orthogonal to ``c``, the sum of these inner cells."""
        s: dict[int, int] = defaultdict(int)
        cols = self.cols
        for c in coords:
            for b, y in cols[c].items():
                s[b] += y
        return {b: v for b, v in s.items() if v}

    def offer(self, coords: Iterable[int]) -> bool:
        """Publish the cell that is the sum of these inner cells, if that reveals no protected vector; True
        when published."""
        s = self.functional01(coords)
        if not s:
            return True  # already a combination of published cells: publishing it tells nothing new
        if _key(s) in self.index:
            return False
        self._restrict(s)
        return True

    def hidden(self) -> bool:
        """Every protected vector is still changed by some perturbation (a check for tests)."""
        return all(self.sig)

    def _pivot(self, s: dict[int, int]) -> int:
        rows, sig_rows = self.rows, self.sig_rows
        return min(s, key=lambda b: (len(rows[b]), len(sig_rows.get(b, ())), abs(s[b]) != 1, b))

    def _restrict(self, s: dict[int, int]) -> None:
        """Keep only the perturbations orthogonal to the published cell whose functional is ``s``."""
        p = self._pivot(s)
        sp_, yp = s[p], self.rows[p]
        rows, cols, sig, sig_rows = self.rows, self.cols, self.sig, self.sig_rows
        with_p = sig_rows.get(p, set())
        changed: set[int] = set(with_p)
        for b, sb in s.items():
            if b == p:
                continue
            # y_b := alpha * y_b - beta * y_p, so that <y_b, c> = 0
            if sp_ == 1:
                alpha, beta = 1, sb
            elif sp_ == -1:
                alpha, beta = 1, -sb
            else:
                alpha, beta = sp_, sb
            yb = rows[b]
            if alpha != 1:
                for c in yb:
                    yb[c] *= alpha
            for c, v in yp.items():
                new = yb.get(c, 0) - beta * v
                if new:
                    yb[c] = new
                else:
                    yb.pop(c, None)
            g = 1
            if alpha != 1:
                g = 0
                for v in yb.values():
                    g = gcd(g, v)
                g = g or 1
                if g != 1:
                    for c in yb:
                        yb[c] //= g
            for c in (yp if alpha == 1 else set(yb) | set(yp)):
                v = yb.get(c, 0)
                if v:
                    cols[c][b] = v
                else:
                    cols[c].pop(b, None)
            # the signatures follow: sigma_j[b] := (alpha * sigma_j[b] - beta * sigma_j[p]) / g
            if alpha == 1 and g == 1:
                affected = with_p
            else:
                affected = with_p | sig_rows.get(b, set())
            for j in affected:
                sj = sig[j]
                new = (alpha * sj.get(b, 0) - beta * sj.get(p, 0))
                if new % g:
                    raise AssertionError("fraction-free update left a remainder")
                new //= g
                if new:
                    if b not in sj:
                        sig_rows[b].add(j)
                    sj[b] = new
                elif b in sj:
                    del sj[b]
                    sig_rows[b].discard(j)
                changed.add(j)
        for c in yp:
            del cols[c][p]
        del rows[p]
        for j in with_p:
            del sig[j][p]
        sig_rows.pop(p, None)
        for j in changed:
            self.index[self.keys[j]].discard(j)
            if not self.index[self.keys[j]]:
                del self.index[self.keys[j]]
            if not sig[j]:
                raise AssertionError("a protected vector was revealed by an accepted publication")
            self.keys[j] = _key(sig[j])
            self.index[self.keys[j]].add(j)
