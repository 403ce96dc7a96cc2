"""The JSON only the web layer speaks (errors, jobs, removals): its types, and the one place it is built.

Typed as `archive/wire.py` types the core's; `web/openapi.py` derives the OpenAPI schemas from these
classes and the core's, and a class's name is its schema's name. Fields may be added, never renamed or
removed (docs/web.md, "The contract"). The functions at the end build every such body: the endpoints
and the jobs build no JSON of their own.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal, NotRequired, Protocol, TypedDict

from msgspec import Meta

from archive import wire as core_wire

JobState = Literal["queued", "running", "done", "failed"]

# the core's bodies this layer's bodies hold
Counts = core_wire.Counts
Outcome = core_wire.Outcome
Status = core_wire.Status
Upload = core_wire.Upload


# What went wrong, `Error.error`. Said in a comment: a docstring here would become the schema's description
# in /openapi.json and so change the contract's version, for no change in the contract.
class ErrorBody(TypedDict):  # noqa: D101
    code: Annotated[str, Meta(description="stable, for programs: bad_parameter, not_found, busy...")]
    message: Annotated[str, Meta(description="for people, in English")]


class ErrorExtra(TypedDict, total=False):
    """The fields of an error beyond `error`, when it is about one thing (`HttpError.extra`)."""

    parameter: Annotated[str, Meta(description="the query parameter at fault (bad_parameter)")]
    job: Annotated[str, Meta(description="the job already running (busy)")]


class Error(ErrorExtra):
    """Every error answer: `error` always, and a field naming what it is about when there is one."""

    error: ErrorBody


class UploadError(Error):
    """An upload that stored nothing: when its files were read, each file's outcome comes with it."""

    outcomes: NotRequired[list[Outcome]]
    counts: NotRequired[Counts]


class JobError(TypedDict):
    """Why a job failed (no `document`), or why one document was refused."""

    code: str
    message: str
    document: NotRequired[str]


class Job(TypedDict):
    """A reindex job's state and progress: the body of `GET /jobs/{id}`."""

    id: str
    kind: Annotated[str, Meta(description="what the job does: reindex")]
    full: bool
    accept_changes: bool
    state: JobState
    done: Annotated[int, Meta(ge=0, description="documents looked at so far")]
    total: Annotated[int, Meta(ge=0, description="documents to look at (0 until counted)")]
    errors: list[JobError]
    counts: Annotated[Counts, Meta(description="documents per outcome; zeros until the job is done")]
    created_at: Annotated[str, Meta(description="UTC, ISO 8601")]
    started_at: str | None
    finished_at: str | None
    url: Annotated[str, Meta(description="where to poll the job")]


class JobStarted(Job):
    """The answer to `POST /reindex`: the job, with its id once more as `job`."""

    job: str


class Removed(TypedDict):
    """The answer to `DELETE /documents/{id}`."""

    id: str
    status: Status


BODIES: tuple[type, ...] = (Error, UploadError, Job, JobStarted, Removed)
"""The bodies the web layer builds; the schemas they reference come with them."""


def error(code: str, message: str, extra: ErrorExtra | None = None) -> Error:
    """The body of every error answer."""
    return {"error": {"code": code, "message": message}, **(extra or {})}


def upload_error(failed: Error, upload: Upload) -> UploadError:
    """An upload that stored nothing: its error, with each file's outcome."""
    return {**failed, "outcomes": upload["outcomes"], "counts": upload["counts"]}


def removed(document_id: str, status: Status) -> Removed:
    """The answer to a removal."""
    return {"id": document_id, "status": status}


def job_error(code: str, message: str, document: str | None = None) -> JobError:
    """Why a job failed (`document` None), or why it refused one document."""
    if document is None:
        return {"code": code, "message": message}
    return {"document": document, "code": code, "message": message}


def job_url(job_id: str) -> str:
    """Where a job is polled."""
    return f"/jobs/{job_id}"


class JobRecord(Protocol):
    """What a job knows of itself (`web.jobs.Job`): what `job()` reports."""

    id: str
    kind: str
    full: bool
    accept_changes: bool
    state: JobState
    done: int
    total: int
    errors: list[JobError]
    counts: Counts
    created_at: float
    started_at: float | None
    finished_at: float | None


def job(record: JobRecord) -> Job:
    """A job's state and progress, times in UTC."""
    return {
        "id": record.id,
        "kind": record.kind,
        "full": record.full,
        "accept_changes": record.accept_changes,
        "state": record.state,
        "done": record.done,
        "total": record.total,
        "errors": list(record.errors),
        "counts": Counts(**record.counts),
        "created_at": _iso(record.created_at),
        "started_at": None if record.started_at is None else _iso(record.started_at),
        "finished_at": None if record.finished_at is None else _iso(record.finished_at),
        "url": job_url(record.id),
    }


def job_failed(body: Job, error: JobError, finished_at: float) -> Job:
    """A job's body once it has failed for `error`, at `finished_at` (its process died: see web/jobstore.py)."""
    return {**body, "state": "failed", "errors": [*body["errors"], error], "finished_at": _iso(finished_at)}


def job_started(record: JobRecord) -> JobStarted:
    """The answer to starting a job: the job, with its id once more as `job`."""
    return {"job": record.id, **job(record)}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
