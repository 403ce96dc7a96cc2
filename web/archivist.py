"""The archivists' endpoints: upload, delete, reindex and its jobs. Every write needs the bearer token."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from archive import Archive, Settings

from . import wire
from .auth import require_token
from .errors import HttpError, refused
from .jobs import Jobs
from .jobstore import KEEP


def _too_large(limit: int) -> HttpError:
    return HttpError(
        413,
        "too_large",
        f"upload too large: the limit is {limit / 1024 / 1024:g} MB per request",
        "Envoi trop volumineux.",
    )


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` (declared or actual length)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def upload_endpoint(request: Request) -> Response:
    """Store and index uploaded files (multipart `file` parts, optional `folder`)."""
    require_token(request)
    archive: Archive = request.app.state.archive
    settings: Settings = request.app.state.settings
    body = await _body(request, settings.max_upload_bytes)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise HttpError(
            415,
            "unsupported_media_type",
            "send the files as multipart/form-data 'file' parts",
            "Envoyez les fichiers en multipart/form-data.",
        )
    form = await Request(request.scope, replay).form(max_files=100, max_fields=20)
    try:
        parts: Sequence[object] = form.getlist("file")
        files = [p for p in parts if isinstance(p, UploadFile)]
        if not files:
            raise HttpError(400, "no_file", "no 'file' part in the upload", "Aucun fichier envoyé.")
        folder = form.get("folder")
        items = [(f.filename or "", await f.read()) for f in files]
    finally:
        await form.close()
    report = await run_in_threadpool(
        archive.add_upload, items, folder if isinstance(folder, str) else None, settings.write_wait
    )
    upload = report.to_json()
    error = refused(report)
    if error is not None:
        return JSONResponse(wire.upload_error(error.to_json(), upload), status_code=error.status)
    return JSONResponse(upload, status_code=201 if report.count("added") else 200)


async def delete_endpoint(request: Request) -> Response:
    """Remove a document: its file, sidecar, manifest line and passages."""
    require_token(request)
    archive: Archive = request.app.state.archive
    wait = request.app.state.settings.write_wait
    outcome = await run_in_threadpool(archive.remove, request.path_params["doc_id"], wait)
    return JSONResponse(wire.removed(outcome.path, outcome.status))


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no", ""):
        raise HttpError(
            400, "bad_parameter", f"{name} must be true or false", f"Paramètre « {name} » invalide."
        )
    return raw in ("true", "1", "yes")


async def reindex_endpoint(request: Request) -> Response:
    """Start a reindex; 202 with the job to poll.

    `full=true` rebuilds beside the live index; `accept_changes=true` indexes originals that differ from
    the fixity manifest (otherwise the job fails with code `fixity` and names them).
    """
    require_token(request)
    jobs: Jobs = request.app.state.jobs
    full, accept_changes = _flag(request, "full"), _flag(request, "accept_changes")
    job = await run_in_threadpool(jobs.start_reindex, full, accept_changes)  # file locks: off the loop
    return JSONResponse(wire.job_started(job), status_code=202, headers={"Location": wire.job_url(job.id)})


async def job_endpoint(request: Request) -> Response:
    """State and progress of a reindex job: queued, running, done or failed."""
    jobs: Jobs = request.app.state.jobs
    job = await run_in_threadpool(jobs.get, request.path_params["job_id"])
    if job is None:
        raise HttpError(
            404, "not_found", f"no such job (the last {KEEP} are kept)", "Cette tâche est inconnue."
        )
    return JSONResponse(job)
