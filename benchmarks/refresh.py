"""Benchmark: the whole monthly refresh (`dream refresh`) at several sizes, its scaling and a projection to
the national table.

    .venv/bin/python benchmarks/refresh.py [--persons 50000 100000 200000 400000] [--seed 1] [--workdir DIR]

Per size: the synthetic delivery (11 years to 2026-10, with its 16-66 population file) is made once with
`dream synth` and kept in the cache (not timed); then `dream refresh --input ... --warehouse <fresh>
--env local` runs as a user runs it, timed as a whole (Spark start-up included) while the memory of its
process tree is sampled. Printed: wall seconds per stage (from the refresh's own stage lines), peak memory
of the driver JVM and the Python workers, files and bytes per table, and the fitted exponent b of
time = a * persons^b with the projection to 5 million persons. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Run, delta_table_size, run_measured, tail  # noqa: E402
from ingest import REPO, VENV_BIN, cores, ensure_input  # noqa: E402

NATIONAL = 5_000_000
# The refresh's own stage lines ("Refresh 1/4: ingest ...", "Model 2/7: fact_dream"): each stage lasts
# until the next one starts; the last until the process ends.
STAGE_LINE = re.compile(r"(\d\d):(\d\d):(\d\d) INFO dream\.\S+: ((?:Refresh|Model) \d+/\d+): ?([^(]*)")


@dataclass
class Measured:
    persons: int
    run: Run
    stages: dict[str, float]  # stage -> seconds, in the order they ran
    tables: dict[str, tuple[int | None, int, int]]  # table -> (rows, files, bytes)


def stage_seconds(stderr: Path, started: dt.datetime, total: float) -> dict[str, float]:
    """Seconds per stage from the log's stage lines; "start-up" is the time before the first one. The
    nested "Refresh 2/4: model" is split into its "Model k/7" stages."""
    marks: list[tuple[float, str]] = []
    day = started.replace(hour=0, minute=0, second=0, microsecond=0)
    for line in stderr.read_text(errors="replace").splitlines():
        if m := STAGE_LINE.search(line):  # a progress bar may share the line
            at = day + dt.timedelta(hours=int(m[1]), minutes=int(m[2]), seconds=int(m[3]))
            if at < started - dt.timedelta(seconds=1):
                at += dt.timedelta(days=1)  # past midnight
            name = m[5].strip().split(" (")[0]
            marks.append(((at - started).total_seconds(), f"{m[4]} {name}".strip()))
    stages: dict[str, float] = {}
    ends = [t for t, _ in marks[1:]] + [total]
    if marks:
        stages["start-up"] = max(marks[0][0], 0.0)
    for (start, name), end in zip(marks, ends):
        if not name.startswith("Refresh 2/"):  # the model's time is in its own stages
            stages[name] = max(end - start, 0.0)
    return stages


def run_refresh(persons: int, seed: int, cache: Path, workdir: Path) -> Measured:
    source = ensure_input(persons, seed, cache)
    warehouse = workdir / f"warehouse_{persons}"
    shutil.rmtree(warehouse, ignore_errors=True)
    command = [str(VENV_BIN / "dream"), "refresh", "--input", str(source), "--warehouse", str(warehouse),
               "--env", "local"]
    print(f"{persons:,} persons: {' '.join(command)}", flush=True)
    started = dt.datetime.now().replace(microsecond=0)
    run = run_measured(command, workdir / "logs", f"refresh_{persons}", cwd=REPO)
    if not run.ok:
        sys.exit(f"dream refresh failed with exit code {run.returncode}\n--- {run.stderr} ---\n{tail(run.stderr)}")
    tables = {p.name: delta_table_size(p) for p in sorted(warehouse.iterdir()) if (p / "_delta_log").is_dir()}
    return Measured(persons, run, stage_seconds(run.stderr, started, run.seconds), tables)


def exponent(sizes: list[int], seconds: list[float]) -> tuple[float, float]:
    """(a, b) of seconds = a * persons^b, least squares on the logarithms."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-3)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(my - b * mx), b


def print_grid(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def report(results: list[Measured]) -> None:
    stages = list(dict.fromkeys(s for r in results for s in r.stages))
    print("\nWall seconds per stage (the model's stages in its own lines):")
    print_grid(["stage", *[f"{r.persons:,}" for r in results]],
               [[s, *[f"{r.stages.get(s, 0):.1f}" for r in results]] for s in stages]
               + [["total (wall)", *[f"{r.run.seconds:.1f}" for r in results]]])

    print("\nPeak memory MB (sums of VmRSS over the process tree, sampled every 0.2 s):")
    kinds = [("driver JVM", "jvm"), ("Python workers", "python workers"), ("dream (Python driver)", "main")]
    print_grid(["process", *[f"{r.persons:,}" for r in results]],
               [[label, *[f"{r.run.peak_by_kind.get(k, 0):,.0f}" for r in results]] for label, k in kinds]
               + [["whole tree", *[f"{r.run.peak_mb:,.0f}" for r in results]]])

    largest = results[-1]
    print(f"\nTables at {largest.persons:,} persons (live files of the current version):")
    print_grid(["table", "rows", "files", "MB", "MB/file"],
               [[name, "?" if rows is None else f"{rows:,}", f"{files:,}", f"{size / 1e6:,.1f}",
                 f"{size / 1e6 / files:.2f}" if files else "-"]
                for name, (rows, files, size) in largest.tables.items()])

    if len(results) < 2:
        return
    sizes = [r.persons for r in results]
    print(f"\nScaling, seconds = a * persons^b over {', '.join(f'{s:,}' for s in sizes)} persons, "
          f"projected to {NATIONAL:,} persons on these {cores()} cores:")
    lines = []
    for name in [*stages, "total (wall)"]:
        seconds = [r.run.seconds if name == "total (wall)" else r.stages.get(name, 0.0) for r in results]
        if min(seconds) < 1.0:  # the log's clock has whole seconds: a stage that shows 0 at a size has no slope
            lines.append([name, "-", "-"])
            continue
        a, b = exponent(sizes, seconds)
        lines.append([name, f"{b:.2f}", f"{a * NATIONAL ** b / 3600:.2f}"])
    print_grid(["stage", "b", "hours at 5M"], lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[50_000, 100_000, 200_000, 400_000],
                        help="the sizes, in persons (default 50000 100000 200000 400000)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic seed (default 1)")
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "bench",
                        help="folder of the generated inputs (default data/bench/)")
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench" / "work-refresh",
                        help="warehouses (replaced per run) and logs (default data/bench/work-refresh/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if any(n <= 0 for n in args.persons):
        sys.exit("--persons: every size must be a positive number of persons")
    workdir = args.workdir.resolve()
    print(f"{cores()} cores; warehouses and logs in {workdir}", flush=True)
    results = []
    for persons in sorted(set(args.persons)):
        results.append(run_refresh(persons, args.seed, args.cache.resolve(), workdir))
        print(f"  {results[-1].run.seconds:.1f} s, peak {results[-1].run.peak_mb:,.0f} MB", flush=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
