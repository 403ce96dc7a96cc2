"""A command timed as a whole process from outside, with the memory of its whole process tree.

What the kernel accounts for a finished child (`wait4`): wall seconds (monotonic clock around start and
reaping) and user + system CPU seconds of the command and of the processes it waited for. Memory is polled
every 0.1 s from /proc: the **tree peak**, the largest sum of resident sets of the command and all its
descendants (worker pools, reader processes: a pool's memory is the sum of its workers), and the largest
single process seen. The kernel's own `ru_maxrss` is kept beside them but not quoted: it cannot read
below the caller's resident set at the start (Linux carries it over the fork and exec).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """One finished command: its exit code, times (s) and memory (MB)."""

    returncode: int
    wall_s: float
    cpu_s: float
    max_single_mb: float
    tree_peak_mb: float
    ru_maxrss_mb: float

    def to_json(self) -> dict[str, float]:
        """The figures as a JSON object."""
        return asdict(self)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), from /proc; gone ones are skipped."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def rss_mb(pid: int) -> float:
    """The resident set of one process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


class TreePeak:
    """The largest sum of resident sets over `pid` and its descendants (and the largest single one),
    polled in a thread until stopped."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self.single_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(every,), daemon=True)
        self._thread.start()

    def _poll(self, every: float) -> None:
        while True:
            sizes = [rss_mb(p) for p in (self.pid, *descendants(self.pid))]
            self.peak_mb = max(self.peak_mb, sum(sizes))
            self.single_mb = max(self.single_mb, *sizes)
            if self._stop.wait(every):
                return

    def stop(self) -> float:
        """Stop polling; the peak seen, in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def timed(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Measured:
    """Run `cmd` to its end, its output appended to `log`; its times and memory (see the module)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        started = time.monotonic()
        process = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        tree = TreePeak(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        tree.stop()
    return Measured(
        returncode=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_single_mb=tree.single_mb,
        tree_peak_mb=tree.peak_mb,
        ru_maxrss_mb=usage.ru_maxrss / 1024,
    )


def summary(values: list[float]) -> dict[str, float]:
    """Median, min and max of a figure over the runs (the median is the one to quote)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
