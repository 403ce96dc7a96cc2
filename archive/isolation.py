"""Running the file readers in a worker process, with a time budget that grows with the file.

Third-party parsers can take minutes on a small hostile file (a PDF stream that inflates to 100,000 text
lines, an HTML attribute of 5 MB, Markdown nested a million deep). A worker process can be killed where
a thread cannot: when a file uses up its budget the worker is replaced, the file is rejected with a
reason, and the batch goes on.

What is the file's fault and what is not is kept apart, because a full rebuild must never drop a
document for a reason of our own (see `ReaderUnavailable` and `Archive.reindex`):
- the budget counts the worker's CPU seconds, not the wall clock, so a loaded machine does not turn
  into "too complex" rejections; a worker that gets no CPU at all for `STARVED_SECONDS` is lost;
- a worker that dies or is lost is replaced and the file tried once more on a fresh one; only a second
  failure is reported, as `ReaderUnavailable`;
- a worker starts, and imports the readers a format needs, before any file's budget starts.

Worker lifetime: the worker dies with the process that started it, even on SIGKILL, through Linux's
`PR_SET_PDEATHSIG`. That signal fires when the *thread* that started the worker exits, so workers are
started by one keeper thread that lives as long as the process, never by the short-lived thread of a
job or a request (which killed the reader after the first reindex job of a server). A forked child
never uses its parent's worker.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import ReaderUnavailable, RejectedInput
from .models import Extracted

BASE_SECONDS = 2.5
SECONDS_PER_MB = 10.0
"""A file may take BASE_SECONDS plus this much per MB of its size of the worker's CPU time to be read."""

START_SECONDS = 60.0
"""Wall-clock seconds a new worker has to start and import a format's readers (seconds when idle)."""

MEMORY_BYTES = 2 * 1024**3
"""Heap a reader may allocate (RLIMIT_DATA): a decompression bomb fails there, not in the machine's swap."""

STARVED_SECONDS = 120.0
"""Wall-clock seconds past its budget after which a worker that has not used its CPU budget is lost."""

Reader = Callable[[str, bytes], Extracted]

NAME = "archive-reader"
"""The worker's process name, as `ps` shows it."""


def budget(size: int) -> float:
    """CPU seconds a file of `size` bytes may take to be read."""
    return BASE_SECONDS + SECONDS_PER_MB * size / 1_000_000


def run(reader: Reader, name: str, data: bytes, modules: tuple[str, ...] = ()) -> Extracted:
    """`reader(name, data)` in the worker, once it has imported `modules` (outside the file's budget).

    RejectedInput when the file cannot be read (its own fault, with the reader's reason or its budget
    used up); ReaderUnavailable when the worker failed twice for reasons of its own.
    """
    seconds = budget(len(data))
    for attempt in (1, 2):
        worker = None
        try:
            worker = _worker()
            worker.prepare(modules)
            return worker.call(reader, name, data, seconds)
        except _TooComplex:
            if worker is not None:
                _discard(worker)
            raise RejectedInput(
                name,
                "too_complex",
                f"reading this file took more than {seconds:.0f} s of computing: too complex to extract",
            ) from None
        except _Lost as lost:
            if worker is not None:
                _discard(worker)
            if attempt == 2:
                raise ReaderUnavailable(name, lost.code, lost.message) from None
    raise AssertionError("unreachable")  # pragma: no cover


def die_with_parent() -> None:
    """In a child: be killed when the thread that started it dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------- the worker


class _TooComplex(Exception):
    """The file used up its CPU budget."""


class _Lost(Exception):
    """The worker died, could not start, or got no CPU: not the file's fault."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Worker:
    """One spawned reader process and the pipe to it. Calls are serialised."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), name=NAME, daemon=True)
        self.process.start()
        child.close()
        self.ready: set[tuple[str, ...]] = set()
        self.lock = threading.Lock()
        self.owner = os.getpid()

    def usable(self) -> bool:
        """Started by this process (not inherited through a fork) and still running."""
        return self.owner == os.getpid() and self.process.is_alive()

    def prepare(self, modules: tuple[str, ...]) -> None:
        """Import the `modules` a reader needs, outside any file's budget."""
        if modules in self.ready:
            return
        with self.lock:
            self._send((_warm, (modules,)))
            outcome, value = self._receive(lambda started: time.monotonic() - started < START_SECONDS)
        if outcome == "timeout":
            raise _Lost("reader_unavailable", f"the reader process did not start in {START_SECONDS:.0f} s")
        if outcome == "raised":
            raise _Lost("reader_unavailable", f"the reader process cannot load its libraries ({value})")
        self.ready.add(modules)

    def call(self, reader: Reader, name: str, data: bytes, seconds: float) -> Extracted:
        """`reader(name, data)` in the worker within `seconds` of its CPU; _TooComplex or _Lost if not."""
        with self.lock:
            self._send((reader, (name, data)))
            cpu = _cpu_seconds(self.process.pid)

            def keep_waiting(started: float) -> bool:
                """True while the file has budget left; _TooComplex once used up, _Lost when starved."""
                now = _cpu_seconds(self.process.pid)
                used = now - cpu if now is not None and cpu is not None else time.monotonic() - started
                if used >= seconds:
                    raise _TooComplex
                if time.monotonic() - started > seconds + STARVED_SECONDS:
                    raise _Lost(
                        "reader_unavailable",
                        f"the reader process got no computing time for {STARVED_SECONDS:.0f} s",
                    )
                return True

            outcome, value = self._receive(keep_waiting, step=min(seconds, 1.0))
        if outcome == "lost":
            raise _Lost("reader_crashed", str(value))
        if outcome == "raised":
            if isinstance(value, RejectedInput):
                raise value
            raise RejectedInput(name, "unreadable", f"could not read this file ({value})")
        if not isinstance(value, Extracted):
            raise _Lost("reader_crashed", f"the reader answered {type(value).__name__}, not a text")
        return value

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            raise _Lost("reader_crashed", "the reader process was gone") from None

    def _receive(self, keep_waiting: Callable[[float], bool], step: float = 1.0) -> tuple[str, Any]:
        """('result' | 'raised', value), or ('timeout', None) once `keep_waiting(started)` says stop."""
        started = time.monotonic()
        sentinel = self.process.sentinel
        while True:
            try:
                ready = multiprocessing.connection.wait([self._conn, sentinel], timeout=step)
            except (OSError, ValueError):  # the worker was stopped by another thread meanwhile
                raise _Lost("reader_crashed", "the reader process was gone") from None
            if self._conn in ready:
                try:
                    outcome, value = self._conn.recv()
                except (EOFError, OSError):
                    raise _Lost("reader_crashed", "the reader crashed on this file (out of memory?)") from None
                return str(outcome), value
            if sentinel in ready:
                raise _Lost("reader_crashed", "the reader crashed on this file (out of memory?)")
            if not keep_waiting(started):
                return "timeout", None

    def stop(self) -> None:
        """Kill the worker and close its pipe."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(OSError):
            self._conn.close()


def _serve(conn: Any) -> None:
    """The worker's loop: run each (function, args) received, send back its result or its error."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills us
    with contextlib.suppress(OSError, ValueError, AttributeError):
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard == resource.RLIM_INFINITY or hard > MEMORY_BYTES:
            resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, hard))
    with contextlib.suppress(OSError, AttributeError):  # `ps` and `top` name it
        ctypes.CDLL(None, use_errno=True).prctl(15, NAME.encode(), 0, 0, 0)  # PR_SET_NAME
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            message: tuple[str, Any] = ("result", function(*args))
        except RejectedInput as e:
            message = ("raised", e)
        except MemoryError:  # the heap limit, or the machine's: not evidence against the file
            message = ("lost", "the reader ran out of memory on this file")
        except (Exception, RecursionError) as e:  # a reader's bug costs one file, never the worker
            message = ("raised", type(e).__name__)
        try:
            conn.send(message)
        except (OSError, ValueError):
            return


def _warm(modules: tuple[str, ...]) -> None:
    """Import a reader's libraries (seconds for trafilatura) before any file's budget starts."""
    import importlib

    for module in modules:
        importlib.import_module(module)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) a process has used, from /proc; None where /proc is not there."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


# ---------------------------------------------------------------- the keeper thread


_lock = threading.Lock()  # guards _keeper
_start_lock = threading.Lock()  # one thread at a time finds or starts the worker
_current: _Worker | None = None
_keeper: tuple[int, queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]] | None = None


def _worker() -> _Worker:
    """The live worker of this process, started by the keeper thread when there is none."""
    global _current
    with _start_lock:
        worker = _current
        if worker is not None and worker.usable():
            return worker
        try:
            fresh: _Worker = _in_keeper(_Worker)
        except OSError as e:  # no process or pipe to be had (EAGAIN, EMFILE): ours, not the file's
            raise _Lost("reader_unavailable", f"the reader process could not start ({e.strerror})") from None
        _current = fresh
    if worker is not None and worker.owner == os.getpid():
        worker.stop()  # dead already; its pipe is closed here
    return fresh


def _discard(worker: _Worker) -> None:
    """Kill a worker that failed; the next file starts a fresh one."""
    global _current
    with _start_lock:
        if _current is worker:
            _current = None
    worker.stop()


def _in_keeper(function: Callable[[], Any]) -> Any:
    """Run `function` in the keeper thread, the one thread of this process that never ends."""
    global _keeper
    with _lock:
        if _keeper is None or _keeper[0] != os.getpid():  # first use, or a forked child
            requests: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
            requests = queue.SimpleQueue()
            threading.Thread(target=_keep, args=(requests,), name="archive-reader-keeper", daemon=True).start()
            _keeper = (os.getpid(), requests)
        requests = _keeper[1]
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    requests.put((function, future))
    return future.result()


def _keep(requests: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]) -> None:
    while True:
        function, future = requests.get()
        try:
            future.set_result(function())
        except BaseException as e:  # handed to the caller, which raises it
            future.set_exception(e)


@atexit.register
def _shutdown() -> None:
    worker = _current
    if worker is not None and worker.owner == os.getpid():
        worker.stop()
