"""Progress of long commands (Spark stages as log lines or a bar) and the end summary of `dream`."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time

import pytest

from dream.cli import build_parser
from dream.progress import SparkProgress, Stage, command_warehouse, describe, latest_commits, summary

STAGE_LINE = re.compile(r"^Spark stage \d+: [0-4]/4 tasks done, \d running")


def slow_job(spark, tasks: int = 4, seconds: float = 0.6) -> int:
    """A job of one stage whose ``tasks`` tasks each take ``seconds``: long enough to be watched."""
    return spark.sparkContext.parallelize(range(tasks), tasks).map(lambda x: time.sleep(seconds) or x).count()


def progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dream-spark-progress"]


def test_a_running_stage_is_told_as_info_lines_and_the_reporter_stops(spark, caplog):
    caplog.set_level(logging.INFO, logger="dream.progress")
    with SparkProgress(spark.sparkContext, interval=0.1, log_every=0.3, bar=False) as progress:
        assert slow_job(spark) == 4
    lines = [r.getMessage() for r in caplog.records if r.name == "dream.progress"]
    assert lines and all(STAGE_LINE.match(line) for line in lines), lines
    assert progress.lines == len(lines)
    assert not progress_threads()
    time.sleep(0.4)  # nothing more is told once the block has ended
    assert len([r for r in caplog.records if r.name == "dream.progress"]) == len(lines)


def test_on_a_terminal_the_stage_is_a_bar(spark, caplog):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    caplog.set_level(logging.INFO, logger="dream.progress")
    with SparkProgress(spark.sparkContext, stream=screen, interval=0.1):
        slow_job(spark)
    assert re.search(r"Spark stage \d+: +\d+%\|.*\| [0-4]/4 ", screen.getvalue()), screen.getvalue()[-500:]
    assert not [r for r in caplog.records if r.name == "dream.progress"]  # a bar, not log lines
    assert not progress_threads()


def test_without_a_spark_context_nothing_is_told(caplog):
    caplog.set_level(logging.INFO, logger="dream.progress")
    with SparkProgress(lambda: None, interval=0.05, log_every=0.0, bar=False) as progress:
        time.sleep(0.3)
    assert progress.lines == 0 and not caplog.records
    assert not progress_threads()


def test_describe_names_the_oldest_stage_and_counts_the_others():
    one = [Stage(12, "save", 3, 8, 2)]
    assert describe(one) == "stage 12: 3/8 tasks done, 2 running"
    three = [Stage(12, "save", 3, 8, 2), Stage(13, "count", 0, 1000, 0), Stage(15, "save", 1, 2, 1)]
    assert describe(three) == "stage 12: 3/8 tasks done, 2 running; 3 stages active, 4/1,010 tasks in all"


def write_commit(table_dir, version: int, operation: str, timestamp_ms: int, rows: int | None) -> None:
    log_dir = table_dir / "_delta_log"
    log_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"numFiles": "1"} | ({"numOutputRows": str(rows)} if rows is not None else {})
    actions = [{"commitInfo": {"timestamp": timestamp_ms, "operation": operation, "operationMetrics": metrics}},
               {"add": {"path": "part-0.parquet", "partitionValues": {}, "size": 1, "dataChange": True}}]
    (log_dir / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")


def test_summary_lists_the_tables_written_since_the_start(tmp_path):
    warehouse = tmp_path / "wh"
    write_commit(warehouse / "dsa_y", 0, "WRITE", 1_000, 50)
    write_commit(warehouse / "dsa_y", 1, "WRITE", 2_000, 1_234_567)
    write_commit(warehouse / "koersel_log", 0, "WRITE", 2_500, 13)
    write_commit(warehouse / "dim_tid", 0, "WRITE", 1_500, 10)  # before the command started: not its work
    write_commit(warehouse / "overgang_52", 3, "RESTORE", 2_100, None)
    (warehouse / "not_a_table").mkdir()

    assert [(c.table, c.version, c.rows) for c in latest_commits(warehouse, since_ms=2_000)] == [
        ("dsa_y", 1, 1_234_567), ("koersel_log", 0, 13), ("overgang_52", 3, None)]
    assert summary("refresh", warehouse, 12.34, since_ms=2_000) == "\n".join([
        f"dream refresh: done in 12.3 s; 3 Delta tables written in {warehouse}",
        "  table        version    rows written",
        "  dsa_y              1       1,234,567",
        "  koersel_log        0              13",
        "  overgang_52        3               -",
    ])


def test_summary_of_a_command_without_tables_is_its_time(tmp_path):
    assert summary("synth", None, 3.0, 0) == "dream synth: done in 3.0 s"
    assert summary("model", tmp_path / "missing", 3.0, 0) == "dream model: done in 3.0 s"
    assert summary("model", "s3://bucket/wh", 3.0, 0) == "dream model: done in 3.0 s"


@pytest.mark.parametrize(("argv", "expected"), [
    (["model", "--warehouse", "/x/wh"], "/x/wh"),
    (["ingest", "--input", "a.parquet", "--warehouse", "wh2"], "wh2"),
    (["run", "--env", "test"], "data/test-warehouse"),  # conf/test.yaml paths.warehouse
    (["synth", "--persons", "3", "--out", "x.parquet"], None),
])
def test_the_summary_looks_in_the_warehouse_the_command_wrote(argv, expected):
    assert command_warehouse(build_parser().parse_args(argv)) == expected
