"""One refresh at a time per warehouse: an exclusive ``flock`` on ``<warehouse>/_refresh.lock``.

The operating system releases the lock when the holder exits, however it exits (a SIGKILL included),
so a crashed refresh never leaves the warehouse locked. The file also says who holds it, for the message
the second refresh prints. ``flock`` holds on a local or NFSv4 file system; on object storage (S3, ADLS)
run one job at a time (a Databricks job's ``max_concurrent_runs: 1``) and rely on Delta's own optimistic
concurrency, which fails the second of two conflicting commits instead of interleaving them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from dream.errors import RefreshLockedError

log = logging.getLogger(__name__)

LOCK_FILE = "_refresh.lock"
_POLL_SECONDS = 0.5


class WarehouseLock:
    """``with WarehouseLock(warehouse, wait_seconds):`` holds the warehouse or raises RefreshLockedError."""

    def __init__(self, warehouse: str | Path, wait_seconds: float = 0):
        self.path = Path(warehouse) / LOCK_FILE
        self.wait_seconds = wait_seconds
        self._fd: int | None = None

    def __enter__(self) -> WarehouseLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise RefreshLockedError(
                        f"another refresh is running on {self.path.parent} ({holder}); it holds {self.path}. "
                        "Wait for it to finish, or set refresh.lock_wait_seconds to wait for it."
                    ) from None
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n".encode(), 0)
        self._fd = fd
        log.info("Holding the refresh lock %s", self.path)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    return text or "holder unknown"
