"""Benchmark: dream's ``overgang_52`` step (``write_transitions_from_table``: the rule and the Delta write)
against a DuckDB self-join doing the same, both reading the Parquet files of the same ``fact_dream``.

    .venv/bin/python benchmarks/transitions.py [--persons 200000] [--warehouse DIR] [--workdir DIR]

The warehouse is prepared with `dream synth`/`ingest`/`model` when it has no ``fact_dream`` partitioned by
person bucket (not timed). The table's current files are listed once (not timed). Each tool then runs in
its own child process, timed as a whole (start-up included) while the memory of its process tree is
sampled; the child also reports the time of the step alone. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Run, delta_table_size, run_measured, tail  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
STEP_COLUMNS = ["person_id", "aar", "uge", "uge_start", "maaned", "kommune", "ydelseskode", "ydelsesgruppe"]
TABLE = "overgang_52"

# dream/model/transitions.py in SQL: the week 52 weeks on is Monday + 364 days (an equi-join, blank = the
# blank group), weeks whose follow-up lies past the last delivered Monday are left out (censored).
DUCKDB_SQL = """
COPY (
    WITH fact AS (
        SELECT person_id, aar, uge, uge_start, maaned, kommune, ydelseskode, ydelsesgruppe
        FROM read_parquet($input, hive_partitioning = true)
    ), joined AS (
        SELECT f.*, l.ydelseskode AS ydelseskode_52, coalesce(l.ydelsesgruppe, $blank) AS ydelsesgruppe_52
        FROM fact f
        LEFT JOIN fact l ON l.person_id = f.person_id AND l.uge_start = f.uge_start + 364
        WHERE f.uge_start + 364 <= $last_monday
    )
    SELECT person_id, aar, uge, uge_start, maaned, kommune, ydelseskode, ydelsesgruppe,
           ydelseskode_52, ydelsesgruppe_52,
           CASE WHEN ydelsesgruppe_52 = $blank THEN $none
                WHEN ydelsesgruppe_52 = ydelsesgruppe THEN $same
                ELSE $other END AS modtagerstatus
    FROM joined
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (aar))
"""


def cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0))


def dream_cli(*args: str) -> None:
    """Run one `dream` command from the repository root; exit with its stderr's tail if it fails."""
    command = [str(VENV_BIN / "dream"), *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def partition_columns(table: Path) -> list[str] | None:
    """The partition columns of the Delta table's latest metadata in its log; None without a commit (a run
    killed while writing leaves a log folder without one)."""
    columns = None
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "metaData" in action:
                columns = action["metaData"]["partitionColumns"]
    return columns


def prepare_warehouse(warehouse: Path, persons: int) -> None:
    """Make a warehouse with ``fact_dream`` (synth -> ingest -> model) unless it already has one as the model
    writes it now (partitioned by person bucket)."""
    if "person_bucket" in (partition_columns(warehouse / "fact_dream") or []):
        return
    source = warehouse.parent / "input.parquet"
    print(f"preparing {warehouse} from {persons:,} synthetic persons (not timed)", flush=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        dream_cli("synth", "--persons", str(persons), "--seed", "1", "--out", str(source), "--end", "2026-10",
                  "--quiet")
    dream_cli("ingest", "--input", str(source), "--warehouse", str(warehouse))
    dream_cli("model", "--warehouse", str(warehouse))


def child(job: str, *args: str) -> subprocess.CompletedProcess:
    """This script run with ``--job JOB`` (an internal flag) in a plain, unmeasured child process."""
    command = [str(VENV_BIN / "python"), str(Path(__file__).resolve()), "--job", job, *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{job} job failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def files_job(warehouse: str, out: str) -> None:
    """Child: write the paths of ``fact_dream``'s current files to ``out`` (one a line); print the last
    delivered Monday."""
    from pyspark.sql import functions as F

    from dream.config import load_config
    from dream.session import get_spark
    from dream.tables import table_path

    spark = get_spark(load_config("local"))
    files = spark.read.format("delta").load(table_path(warehouse, "fact_dream")).inputFiles()
    Path(out).write_text("".join(f"{f.removeprefix('file:')}\n" for f in sorted(files)))
    last_monday = spark.read.format("delta").load(table_path(warehouse, "dsa_uger")).agg(F.max("uge_start")).first()[0]
    print(f"LAST_MONDAY {last_monday.isoformat()}")


def dream_job(warehouse: str, files: str, out: str, last_monday: str) -> None:
    """Child: the project's step as the model runs it (``write_transitions_from_table`` on ``fact_dream``);
    prints its seconds. With ``DREAM_BENCH_SHUFFLE=1``: ``write_transitions`` on the table read by Spark (the
    shuffle by person); with ``DREAM_BENCH_WINDOW=1``: ``build_transitions`` + ``write_table``."""
    import datetime

    from dream.config import load_config
    from dream.model.transitions import build_transitions, write_transitions, write_transitions_from_table
    from dream.session import get_spark
    from dream.tables import table_path, write_table

    spark = get_spark(load_config("local"))
    source = table_path(warehouse, "fact_dream")
    monday = datetime.date.fromisoformat(last_monday)
    started = time.monotonic()
    if os.environ.get("DREAM_BENCH_WINDOW") == "1":
        fact = spark.read.format("delta").load(source)
        write_table(build_transitions(fact, monday), out, TABLE, ["aar"])  # the whole lazy plan runs here
    elif os.environ.get("DREAM_BENCH_SHUFFLE") == "1":
        write_transitions(spark.read.format("delta").load(source), monday, out, TABLE)  # the shuffle by person
    else:
        write_transitions_from_table(spark, source, monday, out, TABLE)
    print(f"STEP_SECONDS {time.monotonic() - started:.3f}")


def export(files: Path, out: Path) -> None:
    """The step's columns of the listed files as one plain Parquet file, written by DuckDB (not timed)."""
    import duckdb

    duckdb.connect().execute(f"COPY (SELECT {', '.join(STEP_COLUMNS)} FROM read_parquet($input, hive_partitioning = "
                             f"true)) TO '{str(out).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)",
                             {"input": files.read_text().split()})


def duckdb_job(warehouse: str, files: str, out: str, last_monday: str) -> None:
    """Child: the same step as one DuckDB COPY with threads = cores on the Parquet files listed in ``files``
    (one a line); prints the statement's seconds."""
    import datetime

    import duckdb

    from dream.reference.codes import blank_group, recipient_status

    status = recipient_status()
    con = duckdb.connect()
    con.execute(f"SET threads = {cores()}")
    con.execute("SET preserve_insertion_order = false")  # COPY needs no order; less memory
    started = time.monotonic()
    con.execute(DUCKDB_SQL.format(out=str(Path(out) / TABLE).replace("'", "''")),
                {"input": Path(files).read_text().split(), "last_monday": datetime.date.fromisoformat(last_monday),
                 "blank": blank_group(), "same": status["same"], "other": status["other"], "none": status["none"]})
    print(f"STEP_SECONDS {time.monotonic() - started:.3f}")


def run_tool(tool: str, warehouse: Path, files: Path, last_monday: str, workdir: Path) -> tuple[Run, float, Path]:
    """One tool's job in a measured child process: (the run, its step seconds, the table it wrote)."""
    out = workdir / f"{tool}-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [str(VENV_BIN / "python"), str(Path(__file__).resolve()), "--job", tool,
               str(warehouse), str(files), str(out), last_monday]
    run = run_measured(command, workdir / "logs", tool, cwd=REPO)
    if not run.ok:
        sys.exit(f"{tool} failed with exit code {run.returncode}: {' '.join(command)}\n"
                 f"--- last lines of {run.stderr} ---\n{tail(run.stderr)}")
    step = next(float(line.split()[1]) for line in run.stdout.read_text().splitlines()
                if line.startswith("STEP_SECONDS"))
    return run, step, out / TABLE


def duckdb_rows(table: Path) -> int:
    """Rows of the Parquet files under ``table``, counted by DuckDB."""
    import duckdb

    files = str(table / "**" / "*.parquet")
    return duckdb.connect().execute("SELECT count(*) FROM read_parquet($p)", {"p": files}).fetchone()[0]


def print_table(rows: list[tuple[str, Run, float, int]]) -> None:
    """One line per tool, then the dream/duckdb ratios."""
    header = ("tool", "wall s", "step s", "output rows", "peak RSS MB")
    cells = [header] + [(tool, f"{run.seconds:.1f}", f"{step:.1f}", "?" if n is None else f"{n:,}",
                         f"{run.peak_mb:,.0f}") for tool, run, step, n in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    _, dream, dream_step, _ = rows[0]
    for tool, peer, peer_step, _ in rows[1:]:
        print(f"dream/{tool}: wall {dream.seconds / peer.seconds:.1f}x, step {dream_step / peer_step:.1f}x, "
              f"peak RSS {dream.peak_mb / peer.peak_mb:.1f}x")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000,
                        help="synthetic persons when the warehouse must be prepared (default 200000)")
    parser.add_argument("--warehouse", type=Path,
                        help="a warehouse with fact_dream and dsa_uger; prepared when it has no fact_dream "
                             "partitioned by person bucket (default data/bench/transitions_<persons>/warehouse)")
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench" / "work-transitions",
                        help="the file list, both outputs and the logs (default data/bench/work-transitions/)")
    parser.add_argument("--job", choices=["files", "dream", "duckdb", "duckdb-export"], help=argparse.SUPPRESS)
    parser.add_argument("job_args", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.job:
        jobs = {"files": files_job, "dream": dream_job, "duckdb": duckdb_job, "duckdb-export": duckdb_job}
        jobs[args.job](*args.job_args)
        return 0
    warehouse = (args.warehouse or REPO / "data" / "bench" / f"transitions_{args.persons}" / "warehouse").resolve()
    workdir = args.workdir.resolve()
    prepare_warehouse(warehouse, args.persons)

    workdir.mkdir(parents=True, exist_ok=True)
    files = workdir / "fact_dream_files.txt"
    done = child("files", str(warehouse), str(files))
    last_monday = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("LAST_MONDAY"))
    print(f"warehouse {warehouse}; last delivered Monday {last_monday}; {cores()} cores; "
          f"{len(files.read_text().split())} fact_dream files; outputs and logs in {workdir}", flush=True)

    single = workdir / "fact_export.parquet"  # DuckDB's best case too: the same rows in one compact file
    export(files, single)
    single_list = workdir / "fact_export_files.txt"
    single_list.write_text(f"{single}\n")

    dream, dream_step, dream_out = run_tool("dream", warehouse, files, last_monday, workdir)
    rows = [("dream", dream, dream_step, delta_table_size(dream_out)[0])]
    for tool, source in (("duckdb", files), ("duckdb-export", single_list)):
        run, step, out = run_tool(tool, warehouse, source, last_monday, workdir)
        rows.append((tool, run, step, duckdb_rows(out)))
    print_table(rows)
    if len({n for *_, n in rows}) != 1:
        print(f"ROW COUNTS DIFFER: {', '.join(f'{tool} wrote {n}' for tool, *_, n in rows)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
