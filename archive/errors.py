"""The core's exceptions. They carry data as attributes; front ends turn them into messages and statuses."""

from __future__ import annotations

import os
from pathlib import Path

from .outcomes import printable


class ArchiveError(Exception):
    """Base of every error the core raises on purpose."""

    code = "archive_error"


class UsageError(ArchiveError):
    """A request the core cannot honour as asked (bad page, bad date, unknown facet...)."""

    code = "bad_request"

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class DocumentNotFound(ArchiveError):
    """No document of that id in the archive."""

    code = "not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(f"no document {document_id!r} in the archive")
        self.document_id = document_id


class ArchiveBusy(ArchiveError):
    """Another writer (reindex, add, remove) holds the archive's write lock."""

    code = "busy"

    def __init__(self, holder: str = "") -> None:
        detail = f" ({holder})" if holder else ""
        super().__init__(
            f"reindex already running: another writer holds the archive{detail}; try again later"
        )
        self.holder = holder


class CursorExpired(ArchiveError):
    """A search cursor made on a state of the index that is no longer live (a reindex changed it)."""

    code = "cursor_expired"

    def __init__(self, generation: str, commit: int) -> None:
        super().__init__(
            f"the archive was reindexed since this cursor was made (on {generation}, commit {commit}): "
            "the results have changed; start again from the first page"
        )
        self.generation = generation
        self.commit = commit


class IndexMissing(ArchiveError):
    """The archive has no index yet: nothing to search until `archive reindex` builds one."""

    code = "index_missing"

    def __init__(self, path: str) -> None:
        super().__init__(f"no index in {Path(path).name}/ yet: run `archive reindex`")  # no server path
        self.path = path


class RejectedInput(ArchiveError):
    """A file that cannot enter the archive; `reason` is a `Rejection`."""

    code = "rejected"

    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason_code = code
        self.reason = message

    def __reduce__(self) -> tuple[type[RejectedInput], tuple[str, str, str]]:  # crosses process boundaries
        return (type(self), (self.path, self.reason_code, self.reason))


class ReaderUnavailable(RejectedInput):
    """The reader process failed twice for reasons of its own (crashed, could not start, got no CPU).

    Not the file's fault: a rebuild never drops an indexed document for it (see `ReaderFailed`)."""

    code = "reader_unavailable"


class ReaderFailed(ArchiveError):
    """A write stopped because documents already indexed could not be read again, for reasons of ours.

    The live index is left as it was rather than replaced by a smaller one."""

    code = "reader_failed"

    def __init__(self, what: str, documents: list[tuple[str, str]]) -> None:
        names = ", ".join(d for d, _ in documents[:10]) + (" ..." if len(documents) > 10 else "")
        reasons = "; ".join(sorted({r for _, r in documents}))
        super().__init__(
            f"{what} stopped: {len(documents)} document(s) already indexed could not be read again "
            f"({names}): {reasons}. The live index is unchanged; run the reindex again, and if it "
            "fails again check the server's memory and logs"
        )
        self.what = what
        self.documents = [d for d, _ in documents]


class FixityError(ArchiveError):
    """Originals differ from the fixity manifest: nothing is indexed over them unless accepted."""

    code = "fixity"

    def __init__(self, altered: list[str], missing: list[str]) -> None:
        parts = []
        if altered:
            parts.append(f"altered: {', '.join(altered[:10])}{' ...' if len(altered) > 10 else ''}")
        if missing:
            parts.append(f"missing: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        super().__init__(
            f"refusing to reindex: {len(altered) + len(missing)} original(s) differ from the fixity manifest "
            f"({'; '.join(parts)}). If these changes are intended, run `archive reindex --accept-changes`; "
            "to delete a document, use `archive remove`."
        )
        self.altered = altered
        self.missing = missing


class StorageError(ArchiveError):
    """A write failed for lack of space or permission; the writer left everything as it was."""

    code = "storage"

    def __init__(self, what: str, error: OSError, home: Path | None = None) -> None:
        # Never an absolute server path: the file is named relative to the archive home, or not at all.
        self.path = relative_to_home(error.filename, home)
        where = f" ({self.path})" if self.path else ""
        super().__init__(
            f"{what}: cannot complete: {error.strerror or type(error).__name__}{where} (could not write); "
            "the live index and the originals are as they were"
        )
        self.errno = error.errno


class TaxonomyError(ArchiveError):
    """A taxonomy file (the default one or the home's `taxonomy.toml`) that cannot be read as a taxonomy."""

    code = "bad_taxonomy"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class SettingsError(ArchiveError, ValueError):
    """A setting (`ARCHIVE_*` variable) whose value the archive cannot run with; `variable` names it.

    A ValueError too, as settings errors were before they had a class of their own."""

    code = "bad_settings"

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


class SchedulerUnreachable(ArchiveError):
    """The Dask scheduler named by `--scheduler` / ARCHIVE_SCHEDULER cannot be used: not reached in time, not
    a Dask scheduler, no worker joined it, or it went away mid-batch. Nothing was written."""

    code = "scheduler_unreachable"

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(
            f"cannot prepare documents on the cluster at {address}: {reason}. Check that `dask scheduler` "
            "and at least one `dask worker` run there and that this machine reaches the port, or leave out "
            "--scheduler (unset ARCHIVE_SCHEDULER) to prepare them on this machine; nothing was written"
        )
        self.address = address
        self.reason = reason

    def __reduce__(self) -> tuple[type[SchedulerUnreachable], tuple[str, str]]:  # crosses process boundaries
        return (type(self), (self.address, self.reason))


class ClusterMismatch(ArchiveError):
    """Workers of the Dask cluster that cannot prepare documents exactly as this machine would: another
    archive code or library pin, or a worker that may not start the reader process. Nothing was written."""

    code = "cluster_mismatch"

    def __init__(self, address: str, workers: dict[str, str]) -> None:
        listed = "; ".join(f"{worker}: {what}" for worker, what in sorted(workers.items())[:5])
        more = f" (and {len(workers) - 5} more)" if len(workers) > 5 else ""
        super().__init__(
            f"refusing the cluster at {address}: {len(workers)} worker(s) would not prepare documents as this "
            f"machine does: {listed}{more}. Every machine of the cluster needs the same archive code and the "
            'same virtual environment (README, "A cluster of machines"); nothing was written'
        )
        self.address = address
        self.workers = dict(workers)

    def __reduce__(self) -> tuple[type[ClusterMismatch], tuple[str, dict[str, str]]]:
        return (type(self), (self.address, self.workers))


def relative_to_home(filename: object, home: Path | None) -> str | None:
    """`filename` relative to `home` (`documents/2024/a.txt`), or None when it is elsewhere or unknown."""
    if home is None or not isinstance(filename, str | bytes | os.PathLike):
        return None
    path = Path(os.fsdecode(filename))
    if not path.is_absolute() or not path.is_relative_to(home):
        return None
    return printable(path.relative_to(home).as_posix())
