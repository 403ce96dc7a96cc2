"""The keeper thread: the one thread of a process that starts its worker processes, so that they die
with the process.

A worker dies with the process that started it, even on SIGKILL, through Linux's `PR_SET_PDEATHSIG`
(`die_with_parent`, called in the child). That signal fires when the *thread* that started the child
exits, so workers are started by one keeper thread that lives as long as the process, never by the
short-lived thread of a job or a request (which killed the reader after the first reindex job of a
server). A forked child starts a keeper of its own.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import queue
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Requests = queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]

_lock = threading.Lock()  # guards _keeper
_keeper: tuple[int, _Requests] | None = None


def die_with_parent() -> None:
    """In a child: be killed when the thread that started it dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def start(function: Callable[[], T]) -> T:
    """`function()` run in the keeper thread (which starts worker processes there); its result, or its
    exception raised here."""
    global _keeper
    with _lock:
        if _keeper is None or _keeper[0] != os.getpid():  # first use, or a forked child
            requests: _Requests = queue.SimpleQueue()
            threading.Thread(
                target=_keep, args=(requests,), name="archive-reader-keeper", daemon=True
            ).start()
            _keeper = (os.getpid(), requests)
        requests = _keeper[1]
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    requests.put((function, future))
    return future.result()


def _keep(requests: _Requests) -> None:
    while True:
        function, future = requests.get()
        try:
            future.set_result(function())
        except BaseException as e:  # handed to the caller, which raises it
            future.set_exception(e)
