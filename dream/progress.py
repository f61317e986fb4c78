"""Progress of a long command and its end summary.

``SparkProgress`` watches Spark from a daemon thread while a command runs: the active stages and their
tasks done/total, as a bar on stderr when stderr is a terminal, and as periodic INFO lines otherwise (a
log file, spark-submit, a scheduler). ``summary`` tells, after the command, which Delta tables it wrote,
their new version and the rows their commit reports, read from the tables' own logs.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from pyspark import SparkContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    stage_id: int
    name: str
    done: int
    total: int
    running: int


def active_stages(sc: SparkContext) -> list[Stage]:
    """The stages running now (a handful of small JVM calls; safe from any thread)."""
    tracker = sc.statusTracker()
    stages = []
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:  # finished between the two calls
            stages.append(Stage(stage_id, info.name, info.numCompletedTasks, info.numTasks, info.numActiveTasks))
    return stages


def describe(stages: list[Stage]) -> str:
    """``stage 12: 3/8 tasks done, 2 running`` for the oldest active stage, plus a count of the others."""
    first = stages[0]
    text = f"stage {first.stage_id}: {first.done:,}/{first.total:,} tasks done, {first.running} running"
    if len(stages) > 1:
        done, total = sum(s.done for s in stages), sum(s.total for s in stages)
        text += f"; {len(stages)} stages active, {done:,}/{total:,} tasks in all"
    return text


def _current_context() -> SparkContext | None:
    """The process's SparkContext once a command has made one. The session is made inside the command,
    after the reporter has started, so the reporter looks it up on every poll; PySpark keeps the one
    context of a process in this class attribute. Without pyspark imported there is none to look up."""
    pyspark = sys.modules.get("pyspark")
    return None if pyspark is None else pyspark.SparkContext._active_spark_context


class SparkProgress:
    """``with SparkProgress(): run()`` reports the Spark stages that run inside the block.

    ``context``: a SparkContext, or a function returning the current one (default: the process's, looked
    up while the block runs, so a command that makes its session later is still followed; a command that
    never starts Spark reports nothing). ``bar``: a tqdm bar (default: when ``stream`` is a terminal);
    otherwise an INFO line every ``log_every`` seconds while stages are active."""

    def __init__(self, context: SparkContext | Callable[[], SparkContext | None] | None = None, *,
                 stream: TextIO | None = None, interval: float = 1.0, log_every: float = 30.0,
                 bar: bool | None = None) -> None:
        if context is None:
            self._context = _current_context
        elif callable(context):
            self._context = context
        else:
            self._context = lambda: context
        self._stream = stream or sys.stderr
        self._bar_wanted = bar if bar is not None else _is_terminal(self._stream)
        self._interval = interval
        self._log_every = log_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="dream-spark-progress", daemon=True)
        self._bar = None
        self._last_line = 0.0
        self._exit = ExitStack()
        self.lines = 0  # INFO lines told so far

    def __enter__(self) -> SparkProgress:
        if self._bar_wanted:
            from tqdm.contrib.logging import logging_redirect_tqdm

            # Log lines are written above the bar instead of through it.
            self._exit.enter_context(logging_redirect_tqdm())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, 3 * self._interval))
        if self._bar is not None:
            self._bar.close()
        self._exit.close()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                sc = self._context()
                stages = active_stages(sc) if sc is not None else []
            except Exception as exc:  # noqa: BLE001 - the context may be stopping under us; progress is optional
                log.debug("Spark progress unavailable: %s", exc)
                continue
            if self._bar_wanted:
                self._show_bar(stages)
            elif stages:
                self._log_line(stages)

    def _log_line(self, stages: list[Stage]) -> None:
        now = time.monotonic()
        if now - self._last_line >= self._log_every:
            self._last_line = now
            self.lines += 1
            log.info("Spark %s", describe(stages))

    def _show_bar(self, stages: list[Stage]) -> None:
        from tqdm import tqdm

        if not stages:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            return
        if self._bar is None:
            self._bar = tqdm(total=0, file=self._stream, unit="task", leave=False, dynamic_ncols=True)
        self._bar.total = sum(s.total for s in stages)
        self._bar.n = sum(s.done for s in stages)
        ids = ",".join(str(s.stage_id) for s in stages[:3]) + ("..." if len(stages) > 3 else "")
        self._bar.set_description(f"Spark stage {ids}", refresh=False)
        self._bar.refresh()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


@dataclass(frozen=True)
class TableCommit:
    table: str
    version: int
    operation: str
    rows: int | None  # the rows the commit reports writing (numOutputRows); None if it does not say
    timestamp_ms: int


def latest_commits(warehouse: str | Path, since_ms: int = 0) -> list[TableCommit]:
    """The latest commit of every Delta table in ``warehouse`` made at or after ``since_ms`` (epoch ms),
    read from the tables' ``_delta_log`` on the local file system. A warehouse that is not a local folder
    (``s3://``, ``abfss://``...) gives an empty list: the run log table has the same figures there."""
    folder = Path(warehouse)
    if "://" in str(warehouse) or not folder.is_dir():
        return []
    commits = []
    for delta_log in sorted(folder.glob("*/_delta_log")):
        commit = _latest_commit(delta_log)
        if commit is not None and commit.timestamp_ms >= since_ms:
            commits.append(commit)
    return commits


def _latest_commit(delta_log: Path) -> TableCommit | None:
    versions = [int(p.stem) for p in delta_log.glob("*.json") if p.stem.isdigit()]
    if not versions:
        return None
    version = max(versions)
    for line in (delta_log / f"{version:020d}.json").read_text(encoding="utf-8").splitlines():
        info = json.loads(line).get("commitInfo")
        if info is not None:
            rows = info.get("operationMetrics", {}).get("numOutputRows")
            return TableCommit(delta_log.parent.name, version, info.get("operation", ""),
                               int(rows) if rows is not None else None, int(info.get("timestamp", 0)))
    return None


def summary(command: str, warehouse: str | Path | None, seconds: float, since_ms: int) -> str:
    """A short end summary: the tables the command wrote, their version and rows, and the time taken."""
    commits = latest_commits(warehouse, since_ms) if warehouse else []
    lines = [f"dream {command}: done in {seconds:.1f} s"
             + (f"; {len(commits)} Delta tables written in {warehouse}" if commits else "")]
    if commits:
        width = max(len(c.table) for c in commits)
        lines.append(f"  {'table':<{width}}  {'version':>7}  {'rows written':>14}")
        for c in commits:
            rows = f"{c.rows:,}" if c.rows is not None else "-"
            lines.append(f"  {c.table:<{width}}  {c.version:>7}  {rows:>14}")
    return "\n".join(lines)


def print_summary(command: str, warehouse: str | Path | None, seconds: float, since_ms: int,
                  stream: TextIO | None = None) -> None:
    print(summary(command, warehouse, seconds, since_ms), file=stream or sys.stdout, flush=True)


def command_warehouse(args) -> str | None:
    """The warehouse a parsed ``dream`` command wrote to: its ``--warehouse``, else the configured one
    (``dream run``), else none (``dream synth``)."""
    if getattr(args, "warehouse", None):
        return args.warehouse
    if getattr(args, "env", None) is None:
        return None
    from dream.config import load_config

    return load_config(args.env, getattr(args, "conf_dir", None)).paths.warehouse
