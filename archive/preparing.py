"""Preparing documents on every core: each file read, split, analysed and tagged in a pool of workers.

A `Preparer` maps jobs (a document's id, its file's bytes, its sidecar's) to prepared documents, in the
order of the jobs, taking them from the iterable only as workers free up: at most `AHEAD` jobs per worker
are held at once, so memory does not grow with the batch. A rejected file is a result like any other
(`RejectedInput`, or its subclass `ReaderUnavailable` when the fault is ours): the batch goes on.

`local_preparer` gives, for one worker, the pipeline as it always ran (this process splits, analyses and
tags; its reader worker reads), and for more a `Pool`: each document's whole preparation runs in a worker
process of `archive.isolation`, within the CPU budget of its file (`isolation.budget`), on a worker that
is replaced when it hangs or dies and that dies with this process. The first worker is this process's own
reader (`isolation.reader`), already started and warm; the others start only for a batch of more than
`EXTRA_AFTER` documents and stop with the pool.
"""

from __future__ import annotations

import queue
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

EXTRA_AFTER = 4
"""A pool starts workers beyond the process's reader only once a batch has more documents than this: a
worker takes about 0.5 s of CPU to start (Python, numpy, Whoosh, the pipeline), the time to prepare about
40 small documents, so an upload of a file or two is prepared by the reader, already warm."""


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
        self._free: queue.SimpleQueue[isolation.Slot] = queue.SimpleQueue()
        self._free.put(self._shared)
        self._opened = False  # whether the own slots are in `_free`
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="archive-prepare")
        self._lock = threading.Lock()  # guards the two below
        self._abandon = threading.Event()  # set by close: calls under way are not tried again
        self._shared_busy = False

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[str, Prepared]]:
        """Each job prepared by the first free worker; results handed back in the jobs' order."""
        pending: deque[tuple[str, Future[Prepared]]] = deque()
        try:
            for count, job in enumerate(jobs, start=1):
                if count > EXTRA_AFTER and not self._opened:
                    self._open()
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
        self._opened = True
        for slot in self._own:
            self._free.put(slot)

    def _prepare(self, job: Job) -> Prepared:
        """In one of this process's threads: the job run by a free worker, rejections returned."""
        document_id, data, _ = job
        slot = self._free.get()
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
