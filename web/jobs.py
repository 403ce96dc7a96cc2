"""Background reindex jobs: run in a worker thread, reported by `GET /jobs/{id}`."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from archive.errors import ArchiveError
from archive.home import Archive
from archive.models import Report
from archive.wire import Counts

from . import wire
from .errors import HttpError

log = logging.getLogger("web.jobs")

State = wire.JobState
KEEP = 100  # finished jobs remembered


@dataclass
class Job:
    id: str
    kind: str
    full: bool
    accept_changes: bool = False
    state: State = "queued"
    done: int = 0
    total: int = 0
    errors: list[wire.JobError] = field(default_factory=list)
    counts: Counts = field(default_factory=lambda: Report(()).counts())  # zeros until done
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    def to_json(self) -> wire.Job:
        return {
            "id": self.id,
            "kind": self.kind,
            "full": self.full,
            "accept_changes": self.accept_changes,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "errors": list(self.errors),
            "counts": Counts(**self.counts),
            "created_at": _iso(self.created_at),
            "started_at": None if self.started_at is None else _iso(self.started_at),
            "finished_at": None if self.finished_at is None else _iso(self.finished_at),
            "url": f"/jobs/{self.id}",
        }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Jobs:
    """One reindex at a time per service; searches keep answering from the live index meanwhile."""

    def __init__(self, archive: Archive, lock_wait: float = 10.0) -> None:
        self.archive = archive
        self.lock_wait = lock_wait
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._threads: list[threading.Thread] = []

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start_reindex(self, full: bool, accept_changes: bool = False) -> Job:
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
                full=job.full, progress=progress, wait=self.lock_wait, accept_changes=job.accept_changes
            )
        except ArchiveError as e:
            job.errors.append({"code": e.code, "message": self._public(str(e))})
            job.state = "failed"
        except Exception:
            log.exception("reindex job %s failed", job.id)
            job.errors.append(
                {"code": "internal_error", "message": "the reindex failed; the error is logged"}
            )
            job.state = "failed"
        else:
            job.errors.extend(
                {"document": o.path, "code": o.reason.code, "message": self._public(o.reason.message)}
                for o in report.outcomes
                if o.reason is not None
            )
            job.counts = report.counts()
            job.state = "done"
        finally:
            job.finished_at = time.time()
            log.info("reindex job %s %s (%d/%d)", job.id, job.state, job.done, job.total)

    def _public(self, message: str) -> str:
        """A message anyone may read: the archive's own paths shown as document ids, never absolute.

        The core's messages already name documents by id; this keeps it so whatever a reader reports.
        """
        settings = self.archive.settings
        for root in (settings.documents_dir, settings.documents_dir.resolve(), settings.home):
            message = message.replace(f"{root}{os.sep}", "")
        return message.replace(str(settings.home), "the archive home")

    def join(self, timeout: float = 30.0) -> None:
        """Wait for running jobs (at shutdown, before the archive closes)."""
        for thread in list(self._threads):
            thread.join(timeout)
