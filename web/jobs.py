"""Background reindex jobs: run in a worker thread, their state kept on disk (`web/jobstore.py`) so that
`GET /jobs/{id}` answers the same from every process of `archive serve --workers N`."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from archive import Archive, ArchiveError, Report, StorageError

from . import wire
from .errors import INTERNAL, HttpError, from_archive, public
from .jobstore import Busy, Claim, JobStore

log = logging.getLogger("web.jobs")

State = wire.JobState

PROGRESS_EVERY = 0.25
"""Seconds between two saves of a running job's progress (`done`/`total`): a reindex calls back once per
document, thousands of times a second when little changed, and a save is a file written and renamed."""


@dataclass
class Job:
    """A reindex job: what it was asked, where it stands, what went wrong (`wire.job` is its JSON)."""

    id: str
    kind: str
    full: bool
    accept_changes: bool = False
    state: State = "queued"
    done: int = 0
    total: int = 0
    errors: list[wire.JobError] = field(default_factory=list)
    counts: wire.Counts = field(default_factory=lambda: Report(()).counts())  # zeros until done
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None


class Jobs:
    """One reindex at a time per archive, whichever process serves the request; searches go on meanwhile."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.store = JobStore(archive.settings.index_dir)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def get(self, job_id: str) -> wire.Job | None:
        """The job of that id as its process last saved it, while it is kept (the last `jobstore.KEEP`)."""
        return self.store.load(job_id)

    def start_reindex(self, full: bool, accept_changes: bool = False) -> Job:
        """Start a reindex in a thread of its own; 409 while another job is queued or running anywhere."""
        job = Job(uuid.uuid4().hex[:12], "reindex", full, accept_changes)
        try:
            claim = self.store.claim(wire.job(job))
        except Busy as e:
            raise HttpError(
                409,
                "busy",
                f"a reindex is already running (job {e.job})",
                "Une réindexation est déjà en cours.",
                extra={"job": e.job},
            ) from None
        except OSError as e:  # the jobs' folder cannot be written: nor could the index
            raise from_archive(StorageError("reindex", e, self.archive.settings.home)) from e
        thread = threading.Thread(target=self._run, args=(job, claim), name=f"reindex-{job.id}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        try:
            thread.start()
        except BaseException:
            job.state, job.finished_at = "failed", time.time()
            job.errors.append(wire.job_error(INTERNAL.code, INTERNAL.message))
            self.store.finish(claim, wire.job(job))
            raise
        return job

    def _run(self, job: Job, claim: Claim) -> None:
        job.state, job.started_at = "running", time.time()
        self._save(job)
        try:
            self._reindex(job)
        finally:
            job.finished_at = time.time()
            try:
                self.store.finish(claim, wire.job(job))
            except OSError:  # other processes will report it interrupted
                log.exception("reindex job %s: its last state could not be saved", job.id)
            log.info("reindex job %s %s (%d/%d)", job.id, job.state, job.done, job.total)

    def _reindex(self, job: Job) -> None:
        settings = self.archive.settings
        saved = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal saved
            job.done, job.total = done, total
            if time.monotonic() - saved >= PROGRESS_EVERY:
                saved = time.monotonic()
                self._save(job)

        try:
            report = self.archive.reindex(
                full=job.full,
                progress=progress,
                wait=settings.reindex_wait,
                accept_changes=job.accept_changes,
            )
        except ArchiveError as e:  # reported as an HTTP answer would tell it
            answer = from_archive(e, settings)
            job.errors.append(wire.job_error(answer.code, answer.message))
            job.state = "failed"
        except Exception:
            log.exception("reindex job %s failed", job.id)
            job.errors.append(wire.job_error(INTERNAL.code, INTERNAL.message))
            job.state = "failed"
        else:
            job.errors.extend(
                wire.job_error(o.reason.code, public(o.reason.message, settings), o.path)
                for o in report.outcomes
                if o.reason is not None
            )
            job.counts = report.counts()
            job.state = "done"

    def _save(self, job: Job) -> None:
        """Save a running job's state for the other processes; a failure costs only their freshness."""
        try:
            self.store.save(wire.job(job))
        except OSError as e:
            log.warning("reindex job %s: progress not saved: %s", job.id, e)

    def join(self, timeout: float = 30.0) -> None:
        """Wait for running jobs (at shutdown, before the archive closes)."""
        for thread in list(self._threads):
            thread.join(timeout)
