"""One write to the archive (reindex, add, upload, remove): the write lock held, a killed writer's leftovers
cleared first, and the outcome recorded in the archive's health afterwards.

A write that fails for a reason of ours (storage, reader) is recorded in `index/DEGRADED` until a later
write succeeds; see `health`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import cluster, health, indexer, preparing
from .documents import Store
from .errors import ArchiveError, ReaderFailed, ReaderUnavailable, StorageError
from .lock import WriteLock
from .models import Document
from .pipeline import Pipeline
from .preparing import Job, Prepared
from .searcher import Searcher
from .settings import Settings

Progress = Callable[[int, int], None]
"""Called with (done, total) as a long write advances."""

@dataclass
class Write:
    """What one write works with, and what it noticed on the way for the archive's health."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    searcher: Searcher
    unread: list[str] = field(default_factory=list)
    """Files this write could not read for lack of a working reader."""
    prepared: int = 0
    """Files this write read and prepared: a write that read clears a reader failure."""

    def prepare(self, document_id: str, data: bytes, sidecar: bytes | None = None) -> Document:
        """The pipeline's `prepare`, counted."""
        self.prepared += 1
        return self.pipeline.prepare(document_id, data, sidecar)

    def helper_after(self) -> int | None:
        """When a full build streamed from `prepare_all` takes a second writing process (`indexer.build`'s
        `parallel_after`): never while this machine's pool has a worker per core, where the helper only
        competes with the workers for CPU and adds a process's memory (80 MB of 310 in an add of 10,000
        files on 2 cores); as usual when fewer workers, or a cluster, prepare the documents."""
        local, cores = self.settings.scheduler is None, os.cpu_count() or 1
        return None if local and self.settings.ingest_workers >= cores else indexer.PARALLEL_AFTER

    def prepare_all(self, jobs: Iterable[Job]) -> Generator[tuple[str, Prepared], None, None]:
        """Each job prepared, in the order given: its document, or why it was rejected (never raised).

        The one road from files to documents for every write (`intake`, `reindex`): the jobs are read as
        workers free up (`settings.ingest_workers` processes, `preparing`; or a Dask cluster's when
        `settings.scheduler` is set, `cluster`), so a caller streams a batch of any size through it
        without holding more than the files in flight. Each is counted like `prepare`; a file the reader
        could not take for a reason of ours (`ReaderUnavailable`) is listed in `unread` too. The workers
        stop when the results have all been read or the generator is closed (use it in
        `contextlib.closing`, so that an error stops them at once)."""
        taxonomy, workers = self.pipeline.taxonomy, self.settings.ingest_workers
        remote = cluster.preparer_for(self.settings, taxonomy)
        with remote or preparing.local_preparer(self.settings, taxonomy, workers) as preparer:
            for document_id, prepared in preparer.map(jobs):
                self.prepared += 1
                if isinstance(prepared, ReaderUnavailable):
                    self.unread.append(document_id)
                yield document_id, prepared


@contextmanager
def writing(write: Write, what: str, wait: float) -> Iterator[Write]:
    """Hold the write lock for `write`, after clearing what a killed writer may have left behind."""
    index_dir = write.settings.index_dir
    try:
        with WriteLock(index_dir, what, wait):
            write.store.clean()
            indexer.clean_stale(index_dir)
            try:
                yield write
            except OSError as e:  # full disk, read-only storage: say so; the writers undid their part
                error = StorageError(what, e, write.settings.home)
                health.record(index_dir, what, error.code, str(error))
                raise error from e
            except ReaderFailed as e:
                health.record(index_dir, what, e.code, str(e))
                raise
            except ArchiveError:
                raise  # the caller's to report: busy, fixity, a bad request
            except Exception as e:  # a bug: the write is undone; say so where monitoring looks
                health.record(
                    index_dir, what, "internal_error", f"unexpected {type(e).__name__}; see the log"
                )
                raise
            _record(write, what)
    except OSError as e:  # the lock itself could not be taken or released
        raise StorageError(what, e, write.settings.home) from e


def _record(write: Write, what: str) -> None:
    """After a write that succeeded: the files it could not read, or the archive healthy again."""
    index_dir = write.settings.index_dir
    if write.unread:
        names = ", ".join(write.unread[:5]) + (" ..." if len(write.unread) > 5 else "")
        health.record(
            index_dir,
            what,
            ReaderUnavailable.code,
            f"{len(write.unread)} file(s) not read for lack of a working reader: {names}",
        )
    elif write.prepared or not _reader_trouble(health.read(index_dir)):
        health.clear(index_dir)  # a reader failure is cleared only by a write that read


def _reader_trouble(failed: Mapping[str, object] | None) -> bool:
    return failed is not None and failed.get("code") in (ReaderFailed.code, ReaderUnavailable.code)
