"""Benchmark: disclosure control of one national period of the YdelsesAktivitetBenchmark table.

    .venv/bin/python benchmarks/disclosure.py [--persons 200000] [--seed 1] [--revised 0.01] [--no-audit]

Makes one synthetic period (below), then times, in this process:

1. ``suppress``: primary suppression, Gaussian elimination, groups and interval boxes;
2. ``audit`` of the published table (values of hidden cells removed), by linear programming;
3. the next release of the same, unchanged period with the first as ``previous`` (the pattern must be kept);
4. a revised release (a share of the inner cells changed by +-1) with the first as ``previous``, and
   ``audit_releases`` of the two together.

Wall-clock seconds and the CPU seconds of this process are both printed: on a shared machine the CPU time
is the better measure of the work. The synthetic period: ``--persons`` person-months spread over the 98
municipalities by population, 15 benefit groups (random shares), the visitation category of the cash
benefits (two categories per group, the others "ikke visiteret") and 5 activation types (passive more
likely; groups without activation are passive only). Most combinations are empty, as in the real table.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dream.disclosure import Dimension, audit, audit_releases, geografi, suppress  # noqa: E402
from dream.reference.codes import activation_groups, group_names  # noqa: E402
from dream.reference.kommuner import kommuner  # noqa: E402

VISITATION = ["jobparat", "aabenlyst uddannelsesparat", "uddannelsesparat", "aktivitetsparat", "ikke visiteret"]
AKTIVERING = ["Passiv", "Vejledning og opkvalificering", "Ordinær uddannelse", "Løntilskud", "Virksomhedspraktik"]


def dimensions() -> list[Dimension]:
    return [geografi(), Dimension.flat("ydelsesgruppe", values=group_names()[:15]),
            Dimension.flat("visitationsgruppe", values=VISITATION), Dimension.flat("aktivering", values=AKTIVERING)]


def synthetic_period(persons: int, seed: int) -> pd.DataFrame:
    """One row per inner cell (kommune x group x visitation x activation) with ``antal``."""
    rng = np.random.default_rng(seed)
    ks = kommuner()
    weight = np.array([k.befolkning for k in ks], dtype=float)
    groups = group_names()[:15]
    active = set(activation_groups())
    visit = np.zeros((len(groups), len(VISITATION)))
    akt = np.zeros((len(groups), len(AKTIVERING)))
    for g, name in enumerate(groups):
        if "(Jobparate)" in name:
            visit[g, [0, 1]] = rng.dirichlet([3, 1])
        elif "(Aktivitetsparate)" in name:
            visit[g, [2, 3]] = rng.dirichlet([1, 3])
        else:
            visit[g, 4] = 1.0
        if name in active:
            akt[g] = 0.5 * rng.dirichlet(np.full(len(AKTIVERING), 0.8))
            akt[g, 0] += 0.5
        else:
            akt[g, 0] = 1.0
    k = rng.choice(len(ks), size=persons, p=weight / weight.sum())
    g = rng.choice(len(groups), size=persons, p=rng.dirichlet(np.full(len(groups), 0.7)))
    v = (visit[g].cumsum(axis=1) < rng.random(persons)[:, None]).sum(axis=1)
    a = (akt[g].cumsum(axis=1) < rng.random(persons)[:, None]).sum(axis=1)
    shape = (len(ks), len(groups), len(VISITATION), len(AKTIVERING))
    counts = np.bincount(np.ravel_multi_index((k, g, v, a), shape), minlength=int(np.prod(shape)))
    ik, ig, iv, ia = np.unravel_index(np.arange(counts.size), shape)
    return pd.DataFrame({"geografi": np.array([x.kommunekode for x in ks])[ik], "ydelsesgruppe": np.array(groups)[ig],
                         "visitationsgruppe": np.array(VISITATION)[iv], "aktivering": np.array(AKTIVERING)[ia],
                         "antal": counts})


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--revised", type=float, default=0.01, help="share of inner cells changed in the revision")
    parser.add_argument("--no-audit", action="store_true", help="skip the linear-programming audits")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    dims = dimensions()
    inner = synthetic_period(args.persons, args.seed)
    print(f"period: {args.persons:,} person-months, {len(inner):,} inner cells, "
          f"{int((inner['antal'] > 0).sum()):,} of them nonzero")
    rows = []

    with Clock() as c:
        first = suppress(inner, dims)
    levels = first.cells.groupby("geografi_niveau")["suppressed"].sum().to_dict()
    rows.append(("suppress", c, f"{len(first.cells):,} cells: {first.primary:,} primary, {first.secondary:,} "
                                f"secondary (by level {levels}), {first.rounds} rounds"))
    if not args.no_audit:
        with Clock() as c:
            checked = audit(first.published(), dims)
        rows.append(("audit (published table)", c, f"{checked.summary()}"))
    with Clock() as c:
        again = suppress(inner, dims, previous=first.cells)
    rows.append(("next release, unchanged", c,
                 f"same pattern: {again.suppressed_keys() == first.suppressed_keys()}"))
    rng = np.random.default_rng(args.seed + 1)
    revised_inner = inner.copy()
    pick = rng.random(len(inner)) < args.revised
    revised_inner.loc[pick, "antal"] = np.maximum(0, revised_inner.loc[pick, "antal"] + rng.choice([-1, 1], pick.sum()))
    with Clock() as c:
        revised = suppress(revised_inner, dims, previous=first.cells)
    rows.append((f"revised release ({int(pick.sum()):,} inner cells +-1)", c,
                 f"{revised.suppressed:,} suppressed, keeps the previous pattern: "
                 f"{first.suppressed_keys() <= revised.suppressed_keys()}"))
    if not args.no_audit:
        with Clock() as c:
            joint = audit_releases(first.cells, revised.cells, dims)
        rows.append(("audit of the two releases together", c, joint.summary()))

    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'wall s':>7}  {'cpu s':>7}  result")
    for name, clock, result in rows:
        print(f"{name:<{width}}  {clock.wall:7.1f}  {clock.cpu:7.1f}  {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
