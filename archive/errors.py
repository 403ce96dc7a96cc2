"""The core's exceptions. They carry data as attributes; front ends turn them into messages and statuses."""

from __future__ import annotations


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


class IndexMissing(ArchiveError):
    code = "index_missing"

    def __init__(self, path: str) -> None:
        super().__init__(f"no index at {path}: run `archive reindex`")
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

    def __init__(self, what: str, error: OSError) -> None:
        where = f" ({error.filename})" if error.filename else ""
        super().__init__(
            f"{what}: cannot complete: {error.strerror or error}{where} (could not write); "
            "the live index and the originals are as they were"
        )
        self.errno = error.errno
