"""The archive's write lock: one writer at a time (reindex, add, remove), across processes.

An `flock` on `index/write.lock`: the kernel releases it when the holder dies, so a killed writer never
leaves the archive locked. The file records who holds it, for the "already running" message.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from .errors import ArchiveBusy


class WriteLock:
    """The write lock as a context manager: ArchiveBusy (naming the holder) when `wait` seconds pass first."""

    def __init__(self, index_dir: Path, what: str, wait: float = 0.0) -> None:
        self.path = index_dir / "write.lock"
        self.what = what
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    raise ArchiveBusy(holder) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.what} (pid {os.getpid()})".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
