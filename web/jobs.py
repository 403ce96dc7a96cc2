"""Background reindex jobs: run in a worker thread, reported by `GET /jobs/{id}`."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from archive import Archive, ArchiveError, Report

from . import wire
from .errors import INTERNAL, HttpError, from_archive, public

log = logging.getLogger("web.jobs")

State = wire.JobState
KEEP = 100  # finished jobs remembered


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
    """One reindex at a time per service; searches keep answering from the live index meanwhile."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._threads: list[threading.Thread] = []

    def get(self, job_id: str) -> Job | None:
        """The job of that id, while it is remembered."""
        with self._lock:
            return self._jobs.get(job_id)

    def start_reindex(self, full: bool, accept_changes: bool = False) -> Job:
        """Start a reindex in a thread of its own; 409 while another job is queued or running."""
        with self._lock:
            active = next((j for j in self._jobs.values() if j.state in ("queued", "running")), None)
            if active is not None:
                raise HttpError(
                    409,
                    "busy",
                    f"a reindex is already running (job {active.id})",
                    "Une réindexation est déjà en cours.",
                    extra={"job": active.id},
                )
            job = Job(uuid.uuid4().hex[:12], "reindex", full, accept_changes)
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
            thread = threading.Thread(target=self._run, args=(job,), name=f"reindex-{job.id}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def _run(self, job: Job) -> None:
        job.state, job.started_at = "running", time.time()

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            report = self.archive.reindex(
                full=job.full,
                progress=progress,
                wait=self.archive.settings.reindex_wait,
                accept_changes=job.accept_changes,
            )
        except ArchiveError as e:  # reported as an HTTP answer would tell it
            answer = from_archive(e, self.archive.settings)
            job.errors.append(wire.job_error(answer.code, answer.message))
            job.state = "failed"
        except Exception:
            log.exception("reindex job %s failed", job.id)
            job.errors.append(wire.job_error(INTERNAL.code, INTERNAL.message))
            job.state = "failed"
        else:
            job.errors.extend(
                wire.job_error(o.reason.code, public(o.reason.message, self.archive.settings), o.path)
                for o in report.outcomes
                if o.reason is not None
            )
            job.counts = report.counts()
            job.state = "done"
        finally:
            job.finished_at = time.time()
            log.info("reindex job %s %s (%d/%d)", job.id, job.state, job.done, job.total)

    def join(self, timeout: float = 30.0) -> None:
        """Wait for running jobs (at shutdown, before the archive closes)."""
        for thread in list(self._threads):
            thread.join(timeout)
