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
has ``<y, p> != 0``. Its *signature* (``<y, p>`` for every basis vector ``y``) decides: publishing ``c``
would reveal ``p`` exactly when the signature of ``c`` is proportional to that of ``p`` (then no
perturbation left after the publication changes ``p``). Signatures are found through a key that does not
change when a signature is multiplied by a constant: with two random weights per basis vector,
``H1 = sum sigma[b] * r1[b]`` and ``H2 = sum sigma[b] * r2[b]`` modulo the prime 2^61 - 1, the key is
``H1 / H2`` (modulo the prime). Only these sums are kept up to date, not the signatures themselves: with
a pivot entry of +-1 (nearly always) a signature's change is a multiple of ``s`` and so is the change of
its sums, one product per protected vector with ``<y_p, p> != 0`` (found through the coordinates of the
pivot ``y_p``, as the protected vectors hold a few inner cells each). Equal keys are only candidates: a hit
is confirmed by an exact comparison with the signature worked out from the basis, so a collision costs a
comparison, never a wrong decision.

Every number is a Python integer: rank decisions are exact; no floating point, no tolerance. Updates are
fraction free (``y := a*y - b*pivot``, divided by the gcd of the result when ``a != 1``); the pivot is
chosen among the vectors with the fewest entries, which keeps the vectors short (a perturbation of a
table with margins is a "box" of a few cells).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from math import gcd

log = logging.getLogger(__name__)


PRIME = (1 << 61) - 1
NO_INVERSE = -1  # the key of the (rare) signatures with H2 = 0: all in one bucket, compared exactly
SEED = 20_261_124  # fixed weights: the same table gives the same work, run after run


def _ratio(h1: int, h2: int) -> int:
    return h1 * pow(h2, -1, PRIME) % PRIME if h2 else NO_INVERSE


def _proportional(a: dict[int, int], b: dict[int, int]) -> bool:
    """``a = k * b`` for some non-zero rational ``k``, exactly."""
    if len(a) != len(b):
        return False
    first = next(iter(a))
    if first not in b:
        return False
    x, y = a[first], b[first]
    return all(v * y == b.get(c, 0) * x for c, v in a.items())


class Elimination:
    """The state of the greedy elimination over ``n`` coordinates (inner cells) with the given protected
    vectors (each a mapping coordinate -> integer coefficient)."""

    def __init__(self, n: int, protected: Iterable[dict[int, int]]):
        self.rows: dict[int, dict[int, int]] = {b: {b: 1} for b in range(n)}
        self.cols: dict[int, dict[int, int]] = {c: {c: 1} for c in range(n)}
        rng = random.Random(SEED)
        self.r1 = [rng.randrange(1, PRIME) for _ in range(n)]
        self.r2 = [rng.randrange(1, PRIME) for _ in range(n)]
        self.protected: list[dict[int, int]] = []
        self.by_coord: dict[int, list[tuple[int, int]]] = defaultdict(list)  # coordinate -> (vector, coefficient)
        self.h1: list[int] = []
        self.h2: list[int] = []
        self.index: dict[int, set[int]] = defaultdict(set)
        self.keys: list[int] = []
        for j, p in enumerate(protected):
            vector = {c: v for c, v in p.items() if v}
            if not vector:
                raise ValueError("a protected vector has no inner cells")
            self.protected.append(vector)
            for c, v in vector.items():
                self.by_coord[c].append((j, v))
            h1, h2 = self._hashes(vector)  # at the start the basis is the unit vectors: the signature is p
            self.h1.append(h1)
            self.h2.append(h2)
            key = _ratio(h1, h2)
            self.keys.append(key)
            self.index[key].add(j)
        self.weight = [len(self.by_coord.get(c, ())) for c in range(n)]  # per coordinate: protected vectors in it

    def _hashes(self, sig: dict[int, int]) -> tuple[int, int]:
        r1, r2 = self.r1, self.r2
        return sum(v * r1[b] for b, v in sig.items()) % PRIME, sum(v * r2[b] for b, v in sig.items()) % PRIME

    def functional01(self, coords: Iterable[int]) -> dict[int, int]:
        """``<y, c>`` for every basis vector ``y`` not orthogonal to ``c``, the sum of these inner cells."""
        s: dict[int, int] = defaultdict(int)
        cols = self.cols
        for c in coords:
            for b, y in cols[c].items():
                s[b] += y
        return {b: v for b, v in s.items() if v}

    def signature(self, j: int) -> dict[int, int]:
        """``<y, p>`` for every basis vector ``y`` not orthogonal to the protected vector ``p`` number ``j``."""
        s: dict[int, int] = defaultdict(int)
        cols = self.cols
        for c, w in self.protected[j].items():
            for b, y in cols[c].items():
                s[b] += w * y
        return {b: v for b, v in s.items() if v}

    def _products(self, y: dict[int, int]) -> dict[int, int]:
        """``<y, p>`` for every protected vector ``p`` not orthogonal to the basis vector ``y`` (its entry in
        their signatures)."""
        out: dict[int, int] = defaultdict(int)
        by_coord = self.by_coord
        for c, v in y.items():
            for j, w in by_coord.get(c, ()):
                out[j] += v * w
        return {j: v for j, v in out.items() if v}

    def offer(self, coords: Iterable[int]) -> bool:
        """Publish the cell that is the sum of these inner cells, if that reveals no protected vector; True
        when published."""
        s = self.functional01(coords)
        if not s:
            return True  # already a combination of published cells: publishing it tells nothing new
        hashes = self._hashes(s)
        if self._reveals(s, hashes):
            return False
        self._restrict(s, hashes)
        return True

    def _reveals(self, s: dict[int, int], hashes: tuple[int, int]) -> bool:
        """Some protected vector's signature is proportional to ``s`` (whose hashes are given)."""
        found = self.index.get(_ratio(*hashes))
        return bool(found) and any(_proportional(s, self.signature(j)) for j in found)

    def hidden(self) -> bool:
        """Every protected vector is still changed by some perturbation (a check for tests)."""
        return all(self.signature(j) for j in range(len(self.protected)))

    def _pivot(self, s: dict[int, int]) -> int:
        """The basis vector with the fewest entries, then with the fewest entries in protected vectors (a
        bound on the signatures to update, cheap to count), then with a pivot entry +-1. Which basis vector
        is the pivot changes the basis, never the perturbations it spans: the decisions stay the same."""
        rows, weight = self.rows, self.weight
        fewest = min(len(rows[b]) for b in s)
        shortest = [b for b in s if len(rows[b]) == fewest]
        if len(shortest) == 1:
            return shortest[0]
        return min(shortest, key=lambda b: (sum(map(weight.__getitem__, rows[b])), abs(s[b]) != 1, b))

    def _restrict(self, s: dict[int, int], hashes: tuple[int, int]) -> None:
        """Keep only the perturbations orthogonal to the published cell whose functional is ``s``."""
        p = self._pivot(s)
        if abs(s[p]) == 1:
            changed = self._eliminate_unit(s, p, hashes)
        else:
            changed = self._eliminate(s, p)
        self._rekey(changed)

    def _eliminate_unit(self, s: dict[int, int], p: int, hashes: tuple[int, int]) -> Iterable[int]:
        """``_eliminate`` for a pivot with ``s[p] = +-1``, the usual case: no multiplier, no gcd, so every
        ``y_b := y_b - s[b] * s[p] * y_p`` and ``sigma_j[b] := sigma_j[b] - s[b] * s[p] * sigma_j[p]``, and
        a protected vector's hashes change by ``-sigma_j[p] * s[p] * H(s)`` in all (dropping ``y_p`` too:
        ``s[p] * s[p] = 1``): only the vectors with ``sigma_j[p] != 0`` change, once each."""
        sp_, yp = s[p], self.rows[p]
        rows, cols = self.rows, self.cols
        with_p = self._products(yp)
        others = [(b, rows[b], sb * sp_) for b, sb in s.items() if b != p]
        for c, v in yp.items():
            col = cols[c]
            for b, yb, beta in others:
                new = yb.get(c, 0) - beta * v
                if new:
                    yb[c] = new
                    col[b] = new
                else:  # beta * v != 0: the entry was there and cancels
                    del yb[c]
                    del col[b]
            del col[p]
        del rows[p]
        h1, h2 = self.h1, self.h2
        s1, s2 = sp_ * hashes[0], sp_ * hashes[1]
        for j, sjp in with_p.items():
            h1[j] = (h1[j] - sjp * s1) % PRIME
            h2[j] = (h2[j] - sjp * s2) % PRIME
        return with_p

    def _rekey(self, changed: Iterable[int]) -> None:
        """Move the protected vectors whose signatures changed to their new keys. The inverses of their H2
        are found together (one modular inverse and three products each, Montgomery's trick)."""
        keys, index, h1, h2 = self.keys, self.index, self.h1, self.h2
        todo = []
        for j in changed:
            bucket = index[keys[j]]
            bucket.discard(j)
            if not bucket:
                del index[keys[j]]
            if not h1[j] and not h2[j] and not self.signature(j):
                raise AssertionError("a protected vector was revealed by an accepted publication")
            if h2[j]:
                todo.append(j)
            else:
                keys[j] = NO_INVERSE
                index[NO_INVERSE].add(j)
        prefix, acc = [], 1
        for j in todo:
            prefix.append(acc)
            acc = acc * h2[j] % PRIME
        inverse = pow(acc, -1, PRIME) if todo else 1
        for k in range(len(todo) - 1, -1, -1):
            j = todo[k]
            keys[j] = h1[j] * (inverse * prefix[k] % PRIME) % PRIME  # h1 / h2, as _ratio
            inverse = inverse * h2[j] % PRIME
            index[keys[j]].add(j)

    def _eliminate(self, s: dict[int, int], p: int) -> set[int]:
        """Update the basis and the hashes of the signatures for the publication of the cell with functional
        ``s``, pivot ``p``; returns the protected vectors whose signatures changed.

        Every basis vector in ``s`` changes here, not by a multiple of ``y_p``, so the hashes are updated
        through the coordinates: ``H1_j = sum_b r1[b] * <y_b, p_j> = <R1, p_j>`` with ``R1 = sum_b r1[b] * y_b``
        (likewise ``H2``). The change of ``R1`` is collected entry by entry as the basis vectors change, and
        then added to the hashes of the protected vectors holding those coordinates."""
        sp_, yp = s[p], self.rows[p]
        rows, cols, r1b, r2b = self.rows, self.cols, self.r1, self.r2
        d1: dict[int, int] = defaultdict(int)
        d2: dict[int, int] = defaultdict(int)
        for b, sb in s.items():
            if b == p:
                continue
            # y_b := alpha * y_b - beta * y_p, so that <y_b, c> = 0
            k = gcd(sp_, sb) * (1 if sp_ > 0 else -1)
            alpha, beta = sp_ // k, sb // k
            yb = rows[b]
            touched = list(yp) if alpha == 1 else list(yb.keys() | yp.keys())
            old = [yb.get(c, 0) for c in touched]
            if alpha != 1:
                for c in yb:
                    yb[c] *= alpha
            for c, v in yp.items():
                new = yb.get(c, 0) - beta * v
                if new:
                    yb[c] = new
                else:
                    yb.pop(c, None)
            if alpha != 1:
                g = 0
                for v in yb.values():
                    g = gcd(g, v)
                if g > 1:
                    for c in yb:
                        yb[c] //= g
            r1, r2 = r1b[b], r2b[b]
            for c, before in zip(touched, old):
                v = yb.get(c, 0)
                if v != before:
                    d1[c] += (v - before) * r1
                    d2[c] += (v - before) * r2
                    if v:
                        cols[c][b] = v
                    else:
                        del cols[c][b]
        r1, r2 = r1b[p], r2b[p]
        for c, v in yp.items():
            d1[c] -= v * r1
            d2[c] -= v * r2
            del cols[c][p]
        changed = set(self._products(yp))  # the signatures that lose their entry for p (and could empty)
        del rows[p]
        dh1: dict[int, int] = defaultdict(int)
        dh2: dict[int, int] = defaultdict(int)
        for c, v1 in d1.items():
            v2 = d2[c]
            for j, w in self.by_coord.get(c, ()):
                dh1[j] += w * v1
                dh2[j] += w * v2
        h1, h2 = self.h1, self.h2
        for j, v1 in dh1.items():
            v1, v2 = v1 % PRIME, dh2[j] % PRIME
            if v1 or v2:
                h1[j] = (h1[j] + v1) % PRIME
                h2[j] = (h2[j] + v2) % PRIME
                changed.add(j)
        return changed
