"""Benchmark: `dream ingest` against DuckDB and Polars doing the same weekly unpivot, on the same synthetic input.

    .venv/bin/python benchmarks/ingest.py [--persons 200000] [--seed 1] [--input PATH] [--workdir DIR]

All three run as subprocesses, timed as a whole (start-up included) while the memory of their process trees is
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
KEY_ENV = "BENCH_PEER_KEY"  # the peers' pseudonymisation key: random per run, never on a command line

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


PEERS = ("duckdb", "polars")


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


def polars_job(input_path: Path, out: Path) -> None:
    """The Polars side, run inside the measured child process: the same transformation as ``DUCKDB_SQL``,
    with Polars' lazy engine (unpivot, join, a hive-partitioned Parquet write). Polars has no SHA-256
    expression: the person ids are hashed once per person with hashlib, as DuckDB hashes the wide rows."""
    import hashlib

    import polars as pl

    key = os.environ[KEY_ENV].encode()
    wide = pl.scan_parquet(parquet_source(input_path))
    names = wide.collect_schema().names()
    pnr = wide.select(pl.col("pnr").str.strip_chars()).collect().to_series()
    ids = pl.DataFrame({"pnr": pnr, "person_id": [hashlib.sha256(key + p.encode()).hexdigest() for p in pnr]})
    weeks = (wide.select(pl.col("pnr").str.strip_chars(), *[c for c in names if c.startswith("y_")])
             .unpivot(index="pnr", variable_name="kolonne", value_name="ydelseskode")
             .with_columns(pl.col("ydelseskode").str.strip_chars())
             .filter(pl.col("ydelseskode").is_not_null() & (pl.col("ydelseskode") != ""))
             .with_columns(yy=pl.col("kolonne").str.slice(2, 2).cast(pl.Int32),
                           uge=pl.col("kolonne").str.slice(4, 2).cast(pl.Int32))
             .with_columns(aar=pl.when(pl.col("yy") < 90).then(2000 + pl.col("yy")).otherwise(1900 + pl.col("yy"))))
    homes = (wide.select(pl.col("pnr").str.strip_chars(), *[c for c in names if c.startswith("nykom_")])
             .unpivot(index="pnr", variable_name="kolonne", value_name="kommune")
             .with_columns(pl.col("kommune").str.strip_chars(), aar=pl.col("kolonne").str.slice(6).cast(pl.Int32))
             .filter(pl.col("kommune").is_not_null() & (pl.col("kommune") != ""))
             .select("pnr", "aar", "kommune"))
    jan4 = pl.date(pl.col("aar"), 1, 4)  # the Monday of ISO week 1 is the Monday of the week holding 4 January
    table = (weeks.join(homes, on=["pnr", "aar"], how="left").join(ids.lazy(), on="pnr")
             .select("person_id", "aar", "uge",
                     (jan4 - pl.duration(days=jan4.dt.weekday() - 1) + pl.duration(weeks=pl.col("uge") - 1))
                     .alias("uge_start"),
                     "ydelseskode", pl.col("kommune").fill_null("000"))
             .collect())
    table.write_parquet(out, compression="zstd", partition_by=["aar", "kommune"])


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


def run_peer(tool: str, input_path: Path, workdir: Path) -> tuple[Run, Path]:
    """This script's ``tool`` job (duckdb or polars) in a child process, so its memory is measured on its own."""
    out = workdir / f"{tool}-out" / WEEK_TABLE
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    command = [str(VENV_BIN / "python"), str(Path(__file__).resolve()), "--input", str(input_path),
               f"--{tool}-job", str(out)]
    env = {**os.environ, KEY_ENV: secrets.token_hex(32)}
    return run_measured(command, workdir / "logs", tool, cwd=REPO, env=env), out


def parquet_rows(out: Path) -> int:
    """Rows of the Parquet files a peer wrote, counted by DuckDB."""
    import duckdb

    return duckdb.connect().execute("SELECT count(*) FROM read_parquet($p)", {"p": parquet_source(out)}).fetchone()[0]


def print_table(rows: list[tuple]) -> None:
    """The result table: one line per tool, then dream's ratios to each peer."""
    header = ("tool", "wall s", "peak MB", "main MB", "jvm MB", "py workers MB", "rows", "files", "bytes")
    cells = [header] + [(tool, f"{run.seconds:.1f}", f"{run.peak_mb:,.0f}",
                         *(f"{run.peak_by_kind[k]:,.0f}" if k in run.peak_by_kind else "-"
                           for k in ("main", "jvm", "python workers")),
                         "?" if n is None else f"{n:,}", f"{files:,}", f"{size:,}")
                        for tool, run, n, files, size in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    (_, dream, *_), *peers = rows
    for tool, run, *_ in peers:
        print(f"dream/{tool}: wall time {dream.seconds / run.seconds:.1f}x, peak memory {dream.peak_mb / run.peak_mb:.1f}x")


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
    parser.add_argument("--polars-job", type=Path, help=argparse.SUPPRESS)  # internal: the Polars child
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.duckdb_job:
        duckdb_job(args.input, args.duckdb_job)
        return 0
    if args.polars_job:
        polars_job(args.input, args.polars_job)
        return 0
    input_path = args.input.resolve() if args.input else ensure_input(args.persons, args.seed, args.cache.resolve())
    if not input_path.exists():
        sys.exit(f"no such input: {input_path}")
    workdir = args.workdir.resolve()
    print(f"input {input_path}; {cores()} cores; outputs and logs in {workdir}", flush=True)

    runs = {"dream": run_dream(input_path, workdir)}
    runs.update({tool: run_peer(tool, input_path, workdir) for tool in PEERS})
    failed = [(name, run) for name, (run, _) in runs.items() if not run.ok]
    for name, run in failed:
        print(f"{name} failed with exit code {run.returncode}: {' '.join(run.command)}\n"
              f"--- last lines of {run.stderr} ---\n{tail(run.stderr)}", file=sys.stderr)
    if failed:
        return 1
    dream, dream_out = runs.pop("dream")
    print_table([("dream", dream, *delta_table_size(dream_out)),
                 *[(tool, run, parquet_rows(out), *parquet_folder_size(out)) for tool, (run, out) in runs.items()]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
