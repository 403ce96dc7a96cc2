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

A `Slot` holds one worker and replaces it when it is lost; `run` uses the process's own slot (`reader`),
and `archive.preparing` runs whole documents (read, split, analysed, tagged) on several slots at once,
each within the same budget. A function running in a worker that calls `run` reads there, in-process:
the worker is already the isolation.

Worker lifetime: a worker dies with the process that started it, even on SIGKILL, because the keeper
thread starts it (`archive.keeper`). A forked child never uses its parent's worker.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import keeper
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
    if _inside:
        return _read_here(reader, name, data)
    found: Extracted = _reader.run(
        Task(reader, (name, data), name, budget(len(data)), modules, expect=Extracted)
    )
    return found


def reader() -> Slot:
    """The slot of this process's long-lived worker, the one `run` uses."""
    return _reader


def context() -> Any:
    """In a worker: the object the last `Slot.run` with a `context` installed (None if none did)."""
    return _context


class Fault(Exception):
    """Raised by a function running in a worker for a failure of ours, not the file's: the worker is
    replaced and the file tried again, then reported as ReaderUnavailable."""


# ---------------------------------------------------------------- a slot and its worker


@dataclass(frozen=True)
class Task:
    """`function(*args)` for the file `name`, to run in a worker within `seconds` of its CPU once the
    worker has imported `modules` and holds `context` (both outside the budget); it answers an `expect`."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    name: str
    seconds: float
    modules: tuple[str, ...] = ()
    context: object = None
    expect: type = object


class Slot:
    """A place for one worker process: started by the keeper thread when needed, replaced when lost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one thread at a time finds or starts the worker
        self._current: _Worker | None = None
        self._closed = False

    def run(self, task: Task, abandon: threading.Event | None = None) -> Any:
        """The task's answer. RejectedInput for its file (the reader's reason, the budget used up);
        ReaderUnavailable when the worker failed twice for reasons of its own, or once `abandon` is set."""
        for attempt in (1, 2):
            worker = None
            try:
                if abandon is not None and abandon.is_set():
                    raise _Lost("reader_unavailable", "the reading was stopped")
                worker = self._worker()
                return worker.call(task)
            except _TooComplex as spent:
                if worker is not None and not spent.finished:  # still at work on the file: stopped
                    self._discard(worker)
                raise RejectedInput(
                    task.name,
                    "too_complex",
                    f"reading this file took more than {task.seconds:.0f} s of computing: too complex to extract",
                ) from None
            except _Lost as lost:
                if worker is not None:
                    self._discard(worker)
                if attempt == 2 or (abandon is not None and abandon.is_set()):
                    raise ReaderUnavailable(task.name, lost.code, lost.message) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Kill the worker: a call under way fails, the next call starts a fresh one."""
        with self._lock:
            worker, self._current = self._current, None
        if worker is not None and worker.owner == os.getpid():
            worker.stop()

    def close(self) -> None:
        """Kill the worker and take no more calls (they fail as ReaderUnavailable)."""
        self._closed = True
        self.stop()

    def _worker(self) -> _Worker:
        """The live worker of this slot, started by the keeper thread when there is none."""
        with self._lock:
            if self._closed:
                raise _Lost("reader_unavailable", "the reader processes were stopped")
            worker = self._current
            if worker is not None and worker.usable():
                return worker
            try:
                fresh = keeper.start(_Worker)
            except OSError as e:  # no process or pipe to be had (EAGAIN, EMFILE): ours, not the file's
                raise _Lost(
                    "reader_unavailable", f"the reader process could not start ({e.strerror})"
                ) from None
            self._current = fresh
        if worker is not None and worker.owner == os.getpid():
            worker.stop()  # dead already; its pipe is closed here
        return fresh

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker that failed; the next file starts a fresh one."""
        with self._lock:
            if self._current is worker:
                self._current = None
        worker.stop()


class _TooComplex(Exception):
    """The file used up its CPU budget; `finished`: its worker answered all the same, and is idle."""

    def __init__(self, finished: bool = False) -> None:
        super().__init__()
        self.finished = finished


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
        self.context: object = None
        self.lock = threading.Lock()
        self.owner = os.getpid()

    def usable(self) -> bool:
        """Started by this process (not inherited through a fork) and still running."""
        return self.owner == os.getpid() and self.process.is_alive()

    def call(self, task: Task) -> Any:
        """The task run in the worker, after its setup; _TooComplex or _Lost if not."""
        with self.lock:
            if task.modules not in self.ready:
                self._start((_warm, (task.modules,)))
                self.ready.add(task.modules)
            if task.context is not None and self.context is not task.context:
                self.context = None
                self._start((_install, (task.context,)))
                self.context = task.context
            return self._call(task)

    def _start(self, message: tuple[Any, ...]) -> None:
        """A setup step, within START_SECONDS of the wall clock."""
        self._send(message)
        outcome, value, _ = self._receive(lambda started: time.monotonic() - started < START_SECONDS)
        if outcome == "timeout":
            raise _Lost("reader_unavailable", f"the reader process did not start in {START_SECONDS:.0f} s")
        if outcome != "result":
            raise _Lost("reader_unavailable", f"the reader process cannot load its libraries ({value})")

    def _call(self, task: Task) -> Any:
        """`task.function(*task.args)` within `task.seconds` of the worker's CPU.

        Watched from here while it runs (the worker's CPU time in /proc, counted from before the task is
        sent: the worker is idle then), so that a runaway reader is killed; and, once it has answered,
        held to the CPU time the worker measured around the call itself: a task that used its budget up
        is too complex even when its answer came before this thread looked again (a busy machine)."""
        name, seconds = task.name, task.seconds
        cpu = _cpu_seconds(self.process.pid)
        self._send((task.function, task.args))

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

        outcome, value, used = self._receive(keep_waiting, step=min(seconds, 1.0))
        if outcome == "result" and used >= seconds:
            raise _TooComplex(finished=True)
        if outcome == "lost":
            raise _Lost("reader_crashed", str(value))
        if outcome == "raised":
            if isinstance(value, RejectedInput):
                raise value
            raise RejectedInput(name, "unreadable", f"could not read this file ({value})")
        if not isinstance(value, task.expect):
            raise _Lost(
                "reader_crashed",
                f"the reader answered a {type(value).__name__}, not the {task.expect.__name__} asked for",
            )
        return value

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            raise _Lost("reader_crashed", "the reader process was gone") from None

    def _receive(self, keep_waiting: Callable[[float], bool], step: float = 1.0) -> tuple[str, Any, float]:
        """('result' | 'raised' | 'lost', value, CPU seconds the call took in the worker), or
        ('timeout', None, 0.0) once `keep_waiting(started)` says stop."""
        started = time.monotonic()
        sentinel = self.process.sentinel
        while True:
            try:
                ready = multiprocessing.connection.wait([self._conn, sentinel], timeout=step)
            except (OSError, ValueError):  # the worker was stopped by another thread meanwhile
                raise _Lost("reader_crashed", "the reader process was gone") from None
            if self._conn in ready:
                try:
                    outcome, value, used = self._conn.recv()
                except (EOFError, OSError):
                    raise _Lost(
                        "reader_crashed", "the reader crashed on this file (out of memory?)"
                    ) from None
                return str(outcome), value, float(used)
            if sentinel in ready:
                raise _Lost("reader_crashed", "the reader crashed on this file (out of memory?)")
            if not keep_waiting(started):
                return "timeout", None, 0.0

    def stop(self) -> None:
        """Kill the worker and close its pipe."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(OSError):
            self._conn.close()


def _serve(conn: Any) -> None:
    """The worker's loop: run each (function, args) received, send back its result or its error."""
    global _inside
    _inside = True
    keeper.die_with_parent()
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
        started = time.process_time()  # this process's CPU (all its threads), the budget's measure
        try:
            message: tuple[str, Any] = ("result", function(*args))
        except RejectedInput as e:
            message = ("raised", e)
        except MemoryError:  # the heap limit, or the machine's: not evidence against the file
            message = ("lost", "the reader ran out of memory on this file")
        except Fault as e:
            message = ("lost", str(e))
        except (Exception, RecursionError) as e:  # a reader's bug costs one file, never the worker
            message = ("raised", type(e).__name__)
        try:
            conn.send((*message, time.process_time() - started))
        except (OSError, ValueError):
            return


def _warm(modules: tuple[str, ...]) -> None:
    """Import a reader's libraries (seconds for trafilatura) before any file's budget starts."""
    import importlib

    for module in modules:
        importlib.import_module(module)


def _install(value: object) -> None:
    """In the worker: hold `value` for the functions that follow (`context()`)."""
    global _context
    _context = value


def _read_here(reader: Reader, name: str, data: bytes) -> Extracted:
    """`run` in a worker: the reader called directly, its bugs turned into a rejection as `_serve` does."""
    try:
        return reader(name, data)
    except (RejectedInput, MemoryError):
        raise
    except (Exception, RecursionError) as e:  # a reader's bug costs one file, never the worker
        raise RejectedInput(name, "unreadable", f"could not read this file ({type(e).__name__})") from None


_inside = False  # True in a worker process
_context: Any = None  # in a worker: what `_install` was given last


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


# ---------------------------------------------------------------- the process's own slot


_reader = Slot()
atexit.register(_reader.close)
