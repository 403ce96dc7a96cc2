"""Running the HTML and PDF readers in a worker process, with a time limit that grows with the file.

Third-party parsers can take minutes on a small hostile file (a PDF stream that inflates to 100,000 text
lines, an HTML attribute of 5 MB). A worker process can be killed where a thread cannot: on time-out
the worker is replaced and the file is rejected with a reason, and the batch goes on. The worker dies
with its parent (PR_SET_PDEATHSIG), and a forked child never uses its parent's pool.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable

from .errors import RejectedInput
from .models import Extracted

BASE_SECONDS = 2.5
SECONDS_PER_MB = 10.0
"""A file may take BASE_SECONDS plus this much per MB of its size to be read."""

_lock = threading.Lock()
_pool: concurrent.futures.ProcessPoolExecutor | None = None
_owner = 0  # the pid that created _pool: after a fork, the child starts its own


def budget(size: int) -> float:
    return BASE_SECONDS + SECONDS_PER_MB * size / 1_000_000


def run(reader: Callable[[str, bytes], Extracted], name: str, data: bytes) -> Extracted:
    """`reader(name, data)` in the worker; RejectedInput when it fails or runs out of time."""
    pool = _current()
    future = pool.submit(reader, name, data)
    seconds = budget(len(data))
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        _replace(pool)
        raise RejectedInput(
            name, "too_complex", f"reading this file took more than {seconds:.0f} s: too complex to extract"
        ) from None
    except concurrent.futures.process.BrokenProcessPool:
        _replace(pool)
        raise RejectedInput(name, "unreadable", "the reader crashed on this file (out of memory?)") from None


def _current() -> concurrent.futures.ProcessPoolExecutor:
    global _pool, _owner
    with _lock:
        if _pool is None or _owner != os.getpid():
            _pool = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
            )
            _owner = os.getpid()
        return _pool


def die_with_parent() -> None:
    """In the worker: be killed when the process that started it dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _replace(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Kill a stuck worker; the next file starts a fresh one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    _stop(pool)


def _stop(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown() -> None:
    with _lock:
        pool = _pool if _owner == os.getpid() else None
    if pool is not None:
        _stop(pool)
