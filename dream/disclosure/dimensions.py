"""The dimensions of a published table: their leaves, the levels above the leaves and the total.

A flat dimension (ydelsesgruppe, visitationsgruppe, aktivering) has leaves and one total ("I alt"). A
hierarchical dimension (geografi) has leaves (kommune), one or more levels above them (region) given as
child -> parent mappings, and a total at the top (land, "DK"). Every label of a dimension (leaf,
intermediate or total) is distinct, so a label alone names a position; hierarchical dimensions also get a
level column in the published table (``<name>_niveau``: "kommune", "region", "land").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from dream.disclosure.errors import DisclosureInputError


@dataclass(frozen=True)
class Dimension:
    """One dimension of a published table.

    ``name``: the column in the inner table and in the published table. ``total``: the label of the
    top ("I alt", "DK"). ``values``: the leaves in publication order; ``None`` takes the parent mapping's
    keys, or else the values found in the data (sorted). ``parents``: child -> parent mappings, the first
    from the leaves to the first level above them, the next from that level upwards; the last level's
    parent is the total. ``levels``: names of the levels from the leaves to the total, used in the level
    column of a hierarchical dimension (default ``("detalje", "niveau1", ..., "total")``).
    """

    name: str
    total: str = "I alt"
    values: tuple[str, ...] | None = None
    parents: tuple[Mapping[str, str], ...] = ()
    levels: tuple[str, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "parents", tuple(dict(p) for p in self.parents))
        if self.values is not None:
            object.__setattr__(self, "values", tuple(str(v) for v in self.values))
        expected = len(self.parents) + 2
        if self.levels is not None and len(self.levels) != expected:
            raise DisclosureInputError(
                f"dimension {self.name!r}: {len(self.levels)} level names given for {expected} levels "
                f"(leaves, {len(self.parents)} intermediate, total); give one name per level")

    @classmethod
    def flat(cls, name: str, total: str = "I alt", values: Iterable[str] | None = None) -> "Dimension":
        return cls(name, total, None if values is None else tuple(values))

    @property
    def hierarchical(self) -> bool:
        return bool(self.parents)

    @property
    def level_column(self) -> str | None:
        return f"{self.name}_niveau" if self.hierarchical else None

    def level_names(self) -> tuple[str, ...]:
        if self.levels is not None:
            return self.levels
        return ("detalje", *[f"niveau{i + 1}" for i in range(len(self.parents))], "total")

    def to_json(self) -> dict:
        return {"name": self.name, "total": self.total, "values": None if self.values is None else list(self.values),
                "parents": [dict(p) for p in self.parents], "levels": None if self.levels is None else list(self.levels)}

    @classmethod
    def from_json(cls, d: Mapping) -> "Dimension":
        return cls(d["name"], d["total"], None if d.get("values") is None else tuple(d["values"]),
                   tuple(d.get("parents") or ()), None if d.get("levels") is None else tuple(d["levels"]))


def geografi(name: str = "geografi") -> Dimension:
    """The 98 municipalities -> 5 regions -> "DK", from the project's reference data."""
    from dream.reference.kommuner import kommuner

    ks = kommuner()
    return Dimension(name, "DK", tuple(k.kommunekode for k in ks), ({k.kommunekode: k.regionskode for k in ks},),
                     ("kommune", "region", "land"))


@dataclass(frozen=True)
class Axis:
    """A dimension resolved against the data: every label in publication order (leaves first, then each
    level above them, the total last), its level, and which leaves each label adds up."""

    dimension: Dimension
    labels: tuple[str, ...]
    depth: np.ndarray  # per label: 0 for a leaf, 1 for the first level above, ..., the total last
    n_leaves: int
    members: sp.csr_matrix = field(repr=False)  # labels x leaves, 1 where the leaf is under the label
    parent: np.ndarray = field(repr=False, default=None)  # per label: the label one level up (-1 for the total)

    @property
    def leaves(self) -> tuple[str, ...]:
        return self.labels[: self.n_leaves]

    def level_of(self) -> np.ndarray:
        names = np.array(self.dimension.level_names(), dtype=object)
        return names[self.depth]


def resolve(dimension: Dimension, found: Iterable[str] | None = None) -> Axis:
    """The labels and membership matrix of a dimension; ``found`` are the leaf values in the data, used when
    the dimension does not list its leaves."""
    d = dimension
    if d.values is not None:
        leaves = list(d.values)
    elif d.parents:
        leaves = list(d.parents[0])
    elif found is not None:
        leaves = sorted({str(v) for v in found})
    else:
        raise DisclosureInputError(f"dimension {d.name!r} has no values and none were found in the data")
    labels, depth = list(leaves), [0] * len(leaves)
    ancestors = {leaf: [leaf] for leaf in leaves}  # leaf -> its label at every level
    current = {leaf: leaf for leaf in leaves}
    for level, mapping in enumerate(d.parents, start=1):
        missing = sorted({c for c in current.values() if c not in mapping})
        if missing:
            raise DisclosureInputError(
                f"dimension {d.name!r}: {len(missing)} values have no parent at level {level} "
                f"(e.g. {missing[:3]}); complete the mapping")
        current = {leaf: str(mapping[c]) for leaf, c in current.items()}
        new = sorted(set(current.values()))
        labels += new
        depth += [level] * len(new)
        for leaf in leaves:
            ancestors[leaf].append(current[leaf])
    labels.append(d.total)
    depth.append(len(d.parents) + 1)
    if len(set(labels)) != len(labels):
        seen, dup = set(), set()
        for label in labels:
            (dup if label in seen else seen).add(label)
        raise DisclosureInputError(
            f"dimension {d.name!r}: labels {sorted(dup)[:5]} occur at more than one level (or twice); every leaf, "
            f"level value and the total {d.total!r} must be distinct")
    index = {label: i for i, label in enumerate(labels)}
    rows, cols = [], []
    for j, leaf in enumerate(leaves):
        for a in [*ancestors[leaf], d.total]:
            rows.append(index[a])
            cols.append(j)
    members = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(labels), len(leaves)))
    parent = np.full(len(labels), -1, dtype=np.int64)
    for leaf in leaves:
        chain = [*ancestors[leaf], d.total]
        for child, up in zip(chain, chain[1:]):
            parent[index[child]] = index[up]
    return Axis(d, tuple(labels), np.array(depth), len(leaves), members, parent)
