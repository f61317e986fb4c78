"""Benchmark: `dream ingest` against DuckDB doing the same weekly unpivot, on the same synthetic input.

    .venv/bin/python benchmarks/ingest.py [--persons 200000] [--seed 1] [--input PATH] [--workdir DIR]

Both run as subprocesses, timed as a whole (start-up included) while the memory of their process trees is
sampled. The table printed compares wall time, peak memory and the weekly table each wrote. See README.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Run, delta_table_size, parquet_folder_size, run_measured, tail  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
WEEK_TABLE = "dsa_y"  # dream's weekly table (conf/families.yaml, family y)
KEY_ENV = "BENCH_DUCKDB_KEY"  # the DuckDB child's pseudonymisation key: random per run, never on a command line

# The weekly long table as dream writes it: person_id, aar, uge, uge_start, ydelseskode, kommune,
# partitioned by (aar, kommune). The person id is hashed in the wide rows, once per person, before the
# unpivot multiplies them. No validation, quarantine or reconciliation: this is the bare transformation.
DUCKDB_SQL = """
COPY (
    WITH cells AS (
        UNPIVOT (SELECT sha256($key || trim(pnr)) AS person_id, pnr, COLUMNS('^y_') FROM read_parquet($input))
        ON COLUMNS('^y_') INTO NAME kolonne VALUE ydelseskode
    ), weeks AS (
        SELECT person_id, pnr, trim(ydelseskode) AS ydelseskode,
               CAST(substr(kolonne, 3, 2) AS INTEGER) AS yy, CAST(substr(kolonne, 5, 2) AS INTEGER) AS uge
        FROM cells
        WHERE trim(ydelseskode) <> ''  -- UNPIVOT already drops NULLs
    ), homes AS (
        SELECT pnr, CAST(substr(kolonne, 7) AS INTEGER) AS aar, trim(kommune) AS kommune
        FROM (UNPIVOT (SELECT pnr, COLUMNS('^nykom_') FROM read_parquet($input))
              ON COLUMNS('^nykom_') INTO NAME kolonne VALUE kommune)
        WHERE trim(kommune) <> ''
    ), dated AS (
        SELECT *, CASE WHEN yy < 90 THEN 2000 + yy ELSE 1900 + yy END AS aar FROM weeks
    )
    SELECT d.person_id, d.aar, d.uge,
           -- the Monday of ISO week 1 is the Monday of the week holding 4 January
           CAST(date_trunc('week', make_date(d.aar, 1, 4)) AS DATE) + 7 * (d.uge - 1) AS uge_start,
           d.ydelseskode, coalesce(h.kommune, '000') AS kommune
    FROM dated d LEFT JOIN homes h ON h.pnr = d.pnr AND h.aar = d.aar
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (aar, kommune))
"""


def cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0))


def parquet_source(path: Path) -> str:
    """What DuckDB's read_parquet should read for a Parquet file or a folder of them."""
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def duckdb_job(input_path: Path, out: Path) -> None:
    """The DuckDB side, run inside the measured child process: the wide file -> the partitioned weekly table."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {cores()}")
    con.execute("SET preserve_insertion_order = false")  # COPY needs no order; less memory
    con.execute(DUCKDB_SQL.format(out=str(out).replace("'", "''")),
                {"input": parquet_source(input_path), "key": os.environ[KEY_ENV]})


def ensure_input(persons: int, seed: int, cache: Path) -> Path:
    """The cached synthetic wide table for (persons, seed), generated with `dream synth` when missing."""
    path = cache / f"synth_{persons}_s{seed}.parquet"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    command = [str(VENV_BIN / "dream"), "synth", "--persons", str(persons), "--seed", str(seed),
               "--out", str(path), "--end", "2026-10", "--quiet"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        path.unlink(missing_ok=True)
        sys.exit(f"dream synth failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return path


def run_dream(input_path: Path, workdir: Path) -> tuple[Run, Path]:
    """`dream ingest` into a fresh warehouse, run from the repository as a user would."""
    warehouse = workdir / "dream-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    command = [str(VENV_BIN / "dream"), "ingest", "--input", str(input_path), "--warehouse", str(warehouse),
               "--env", "local"]
    return run_measured(command, workdir / "logs", "dream", cwd=REPO), warehouse / WEEK_TABLE


def run_duckdb(input_path: Path, workdir: Path) -> tuple[Run, Path]:
    """This script's DuckDB job in a child process, so its memory is measured on its own."""
    out = workdir / "duckdb-out" / WEEK_TABLE
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    command = [str(VENV_BIN / "python"), str(Path(__file__).resolve()), "--input", str(input_path),
               "--duckdb-job", str(out)]
    env = {**os.environ, KEY_ENV: secrets.token_hex(32)}
    return run_measured(command, workdir / "logs", "duckdb", cwd=REPO, env=env), out


def duckdb_rows(out: Path) -> int:
    """Rows of the Parquet files DuckDB wrote, counted by DuckDB."""
    import duckdb

    return duckdb.connect().execute("SELECT count(*) FROM read_parquet($p)", {"p": parquet_source(out)}).fetchone()[0]


def print_table(rows: list[tuple]) -> None:
    """The result table: one line per tool, then the dream/duckdb ratios."""
    header = ("tool", "wall s", "peak MB", "main MB", "jvm MB", "py workers MB", "rows", "files", "bytes")
    cells = [header] + [(tool, f"{run.seconds:.1f}", f"{run.peak_mb:,.0f}",
                         *(f"{run.peak_by_kind[k]:,.0f}" if k in run.peak_by_kind else "-"
                           for k in ("main", "jvm", "python workers")),
                         "?" if n is None else f"{n:,}", f"{files:,}", f"{size:,}")
                        for tool, run, n, files, size in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    (_, dream, *_), (_, duck, *_) = rows
    print(f"dream/duckdb: wall time {dream.seconds / duck.seconds:.1f}x, peak memory {dream.peak_mb / duck.peak_mb:.1f}x")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000, help="synthetic persons (default 200000)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic seed (default 1)")
    parser.add_argument("--input", type=Path, help="an existing wide Parquet file (instead of --persons/--seed)")
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "bench",
                        help="folder of the generated inputs (default data/bench/)")
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench" / "work",
                        help="folder for the outputs (replaced per run) and logs (default data/bench/work/)")
    parser.add_argument("--duckdb-job", type=Path, help=argparse.SUPPRESS)  # internal: the DuckDB child
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.duckdb_job:
        duckdb_job(args.input, args.duckdb_job)
        return 0
    input_path = args.input.resolve() if args.input else ensure_input(args.persons, args.seed, args.cache.resolve())
    if not input_path.exists():
        sys.exit(f"no such input: {input_path}")
    workdir = args.workdir.resolve()
    print(f"input {input_path}; {cores()} cores; outputs and logs in {workdir}", flush=True)

    (dream, dream_out), (duck, duck_out) = run_dream(input_path, workdir), run_duckdb(input_path, workdir)
    failed = [(name, run) for name, run in (("dream", dream), ("duckdb", duck)) if not run.ok]
    for name, run in failed:
        print(f"{name} failed with exit code {run.returncode}: {' '.join(run.command)}\n"
              f"--- last lines of {run.stderr} ---\n{tail(run.stderr)}", file=sys.stderr)
    if failed:
        return 1
    print_table([("dream", dream, *delta_table_size(dream_out)),
                 ("duckdb", duck, duckdb_rows(duck_out), *parquet_folder_size(duck_out))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
