"""Preparing documents on every core: each file read, split, analysed and tagged in a pool of workers.

A `Preparer` maps jobs (a document's id, its file's bytes, its sidecar's) to prepared documents, in the
order of the jobs, taking them from the iterable only as workers free up: at most `AHEAD` jobs per worker
are held at once, so memory does not grow with the batch. A rejected file is a result like any other
(`RejectedInput`, or its subclass `ReaderUnavailable` when the fault is ours): the batch goes on.

`local_preparer` gives, for one worker, the pipeline as it always ran (this process splits, analyses and
tags; its reader worker reads), and for more a `Pool`: each document's whole preparation runs in a worker
process of `archive.isolation`, within the CPU budget of its file (`isolation.budget`), on a worker that
is replaced when it hangs or dies and that dies with this process. The first worker is this process's own
reader (`isolation.reader`), already started and warm; the others start only once a batch has run for
`EXTRA_AFTER` seconds, and stop with the pool.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from . import extract, isolation
from .errors import ReaderUnavailable, RejectedInput
from .models import Document
from .pipeline import Pipeline
from .settings import Settings
from .taxonomy import Taxonomy

Job = tuple[str, bytes, bytes | None]
"""One document to prepare: its id (its path in documents/), its file's bytes, its sidecar's (or None)."""

Prepared = Document | RejectedInput
"""A prepared document, or why its file was rejected (a `ReaderUnavailable` when the fault is ours)."""

AHEAD = 2
"""Jobs taken per worker before the first result is handed back: one being prepared, one waiting, so
that a worker never waits for the writer to ask for the next."""

EXTRA_AFTER = 0.3
"""Seconds a batch runs on the process's reader before the pool starts its other workers: about what
starting one costs (0.25 to 0.35 s of CPU measured with Python, the pipeline's modules and a format's
readers), so that a batch shorter than that (an upload of a few files) is prepared by the reader, warm."""


class Preparer(Protocol):
    """Prepares documents, in the order of the jobs, holding a bounded number at a time."""

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[str, Prepared]]:
        """(document id, prepared document or rejection) for each job, in order; jobs read lazily."""
        ...

    def close(self) -> None:
        """Stop the workers (a `map` under way ends with ReaderUnavailable results)."""
        ...

    def __enter__(self) -> Preparer: ...

    def __exit__(self, *exc: object) -> None: ...


def local_preparer(settings: Settings, taxonomy: Taxonomy, workers: int) -> Preparer:
    """A preparer on this machine: the pipeline in this process for one worker, a `Pool` for more."""
    pipeline = Pipeline(settings, taxonomy)
    return InProcess(pipeline) if workers <= 1 else Pool(pipeline, workers)


class InProcess:
    """One document at a time in this process, its file read by the process's reader worker."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[str, Prepared]]:
        """Each job prepared in turn."""
        for document_id, data, sidecar in jobs:
            try:
                yield document_id, self.pipeline.prepare(document_id, data, sidecar)
            except RejectedInput as e:
                yield document_id, e

    def close(self) -> None:
        """Nothing to stop: the reader worker lives as long as the process."""

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pool:
    """`workers` worker processes preparing whole documents, fed and drained by as many threads here.

    `budget(size)` is the CPU seconds a file of `size` bytes may take (`isolation.budget`).
    """

    def __init__(
        self, pipeline: Pipeline, workers: int, budget: Callable[[int], float] = isolation.budget
    ) -> None:
        self.pipeline = pipeline
        self.workers = max(1, workers)
        self._budget = budget
        self._shared = isolation.reader()
        self._own = [isolation.Slot() for _ in range(self.workers - 1)]
        self._free = _Free(self._shared)
        self._opening = threading.Timer(EXTRA_AFTER, self._open)  # started with the first job
        self._opening.daemon = True
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="archive-prepare")
        self._lock = threading.Lock()  # guards the two below
        self._abandon = threading.Event()  # set by close: calls under way are not tried again
        self._shared_busy = False

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[str, Prepared]]:
        """Each job prepared by the first free worker; results handed back in the jobs' order."""
        pending: deque[tuple[str, Future[Prepared]]] = deque()
        try:
            for job in jobs:
                if self._opening.ident is None:  # not started yet
                    self._opening.start()
                pending.append((job[0], self._threads.submit(self._prepare, job)))
                if len(pending) >= AHEAD * self.workers:
                    document_id, future = pending.popleft()
                    yield document_id, future.result()
            while pending:
                document_id, future = pending.popleft()
                yield document_id, future.result()
        finally:
            for _, future in pending:  # left unread (an error, an interrupt): not started if not yet
                future.cancel()

    def close(self) -> None:
        """Stop this pool's workers and any document still being prepared; the reader stays."""
        self._opening.cancel()
        with self._lock:
            self._abandon.set()
            if self._shared_busy:
                self._shared.stop()  # replaced at its next use
        for slot in self._own:
            slot.close()
        self._threads.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        """Let the batch use the other workers (each started at its first document)."""
        for slot in self._own:
            self._free.put(slot, used=False)

    def _prepare(self, job: Job) -> Prepared:
        """In one of this process's threads: the job run by a free worker, rejections returned."""
        document_id, data, _ = job
        slot = self._free.take()
        try:
            with self._lock:
                if self._abandon.is_set():
                    return ReaderUnavailable(document_id, "reader_unavailable", "the preparation was stopped")
                if slot is self._shared:
                    self._shared_busy = True
            task = isolation.Task(
                _prepare,
                job,
                document_id,
                self._budget(len(data)),
                extract.libraries(document_id),
                self.pipeline,
                Document,
            )
            prepared: Document = slot.run(task, self._abandon)
            return prepared
        except RejectedInput as e:
            return e
        finally:
            with self._lock:
                if slot is self._shared:
                    self._shared_busy = False
            self._free.put(slot)


class _Free:
    """The slots not at work, the most recently used taken first: a batch keeps busy the workers it has
    started (warm: libraries imported, caches filled) and starts another only when all of them are."""

    def __init__(self, first: isolation.Slot) -> None:
        self._slots = deque([first])
        self._changed = threading.Condition()

    def put(self, slot: isolation.Slot, used: bool = True) -> None:
        """Give back a slot (`used`: it has a worker, taken before those never used)."""
        with self._changed:
            if used:
                self._slots.append(slot)
            else:
                self._slots.appendleft(slot)
            self._changed.notify()

    def take(self) -> isolation.Slot:
        """A free slot, waiting for one if need be."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._slots))
            return self._slots.pop()


def _prepare(document_id: str, data: bytes, sidecar: bytes | None) -> Document:
    """In a worker: the whole pipeline for one document, its file read right here (`isolation.run`).

    An error that is neither the file's (RejectedInput) nor the machine's (MemoryError) is a fault of
    ours: the worker is replaced and the file tried again, never blamed on the file."""
    pipeline: Pipeline = isolation.context()
    try:
        return pipeline.prepare(document_id, data, sidecar)
    except (RejectedInput, MemoryError):
        raise
    except (Exception, RecursionError) as e:
        raise isolation.Fault(f"preparing this file failed ({type(e).__name__}): a fault of ours") from None
