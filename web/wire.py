"""The JSON only the web layer speaks (errors, jobs, removals), typed as `archive/wire.py` types the core's.

`web/openapi.py` derives the OpenAPI schemas from these classes and the core's; a class's name is its
schema's name. Fields may be added, never renamed or removed (docs/web.md, "The contract").
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired, TypedDict

from msgspec import Meta

from archive.wire import Counts, Outcome, Status

JobState = Literal["queued", "running", "done", "failed"]


class ErrorBody(TypedDict):
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
