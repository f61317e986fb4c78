"""Shared helpers for the benchmarks: run a command while sampling the memory of its process tree, and
size the tables it wrote. Only the standard library (no psutil): memory comes from Linux's /proc."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Run:
    """One measured command: wall seconds, exit code, where its output went and its peak memory in MB
    (``peak_mb`` of the whole tree; ``peak_by_kind`` per kind of process, see ``process_kind``)."""

    command: list[str]
    returncode: int
    seconds: float
    peak_mb: float
    peak_by_kind: dict[str, float] = field(default_factory=dict)
    stdout: Path | None = None
    stderr: Path | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, name) of every process visible in /proc."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 1:]  # names may hold spaces
        found[int(entry.name)] = (int(rest.split()[1]), name)
    return found


def process_tree(root: int) -> list[tuple[int, str, str]]:
    """(pid, name, parent's name) of ``root`` and all its descendants."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root] if root in processes else []
    while todo:
        pid = todo.pop()
        ppid, name = processes[pid]
        tree.append((pid, name, processes.get(ppid, (0, ""))[1]))
        todo.extend(children.get(pid, []))
    return tree


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of one process in MB; 0 when it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_kind(name: str, parent_name: str, is_root: bool) -> str | None:
    """"main" for the command's own process, "jvm" for a java process (the Spark driver), "python workers"
    for the other python processes (PySpark's daemon and workers), "other" for the rest (shell wrappers).
    None for the JVM's other children: helpers it forks to exec a command (Hadoop runs ``chmod`` per file
    written), which until they exec report the JVM's whole VmRSS as their own; they are not counted."""
    if is_root:
        return "main"
    if name == "java":
        return "jvm"
    if name.startswith("python"):
        return "python workers"
    return None if parent_name == "java" else "other"


def run_measured(command: list[str], log_dir: Path, name: str, cwd: str | Path | None = None,
                 env: dict[str, str] | None = None, interval: float = 0.2) -> Run:
    """Run ``command`` to completion, sampling the VmRSS of its process tree every ``interval`` seconds.
    Its stdout and stderr go to ``log_dir/<name>.out`` and ``.err``. Each peak is the largest sum of VmRSS
    seen in one sample, so pages shared between forked processes (PySpark's daemon and its workers) count
    once per process: a slight overestimate. (Pss would not double count, but reading it from a large JVM's
    smaps_rollup takes ~0.1-0.2 s and stalls the JVM while the kernel walks its page tables.)"""
    log_dir.mkdir(parents=True, exist_ok=True)
    out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
    peak, peak_by_kind = 0.0, {}
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        while proc.poll() is None:
            by_kind: dict[str, float] = {}
            for pid, name, parent_name in process_tree(proc.pid):
                kind = process_kind(name, parent_name, pid == proc.pid)
                if kind:
                    by_kind[kind] = by_kind.get(kind, 0.0) + rss_mb(pid)
            peak = max(peak, sum(by_kind.values()))
            for kind, mb in by_kind.items():
                peak_by_kind[kind] = max(peak_by_kind.get(kind, 0.0), mb)
            time.sleep(interval)
        seconds = time.monotonic() - started
    return Run(command, proc.returncode, seconds, peak, peak_by_kind, out, err)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def delta_table_size(table: str | Path) -> tuple[int | None, int, int]:
    """(rows, files, bytes) of a Delta table's current version, from its ``_delta_log`` JSON commits alone
    (no Spark): the ``add`` actions still live after replaying every commit's ``remove`` actions. Rows are
    the sum of the adds' ``numRecords`` statistics, None when a file has none. Tables whose older commits
    were compacted into a checkpoint are not supported (a fresh table has none)."""
    log = Path(table) / "_delta_log"
    if (log / "_last_checkpoint").exists():
        raise ValueError(f"{log} has a checkpoint; only JSON commits are read here")
    live: dict[str, dict] = {}
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line) if line.strip() else {}
            if "add" in action:
                live[action["add"]["path"]] = action["add"]
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    rows: int | None = 0
    for add in live.values():
        stats = json.loads(add.get("stats") or "{}")
        rows = None if rows is None or "numRecords" not in stats else rows + stats["numRecords"]
    return rows, len(live), sum(add["size"] for add in live.values())


def parquet_folder_size(folder: str | Path) -> tuple[int, int]:
    """(files, bytes) of the Parquet files anywhere under ``folder``."""
    files = [p for p in Path(folder).rglob("*.parquet") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)
