"""An archive home: documents/, index/ and taxonomy.toml, and everything done to them.

`Archive` is the core's public face, shared by the CLI and the web layer: add, remove, reindex, search,
document, check, stats. Writers take the archive's write lock; readers never wait for them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import extract, health, indexer, metadata, passages
from .documents import (
    BAD_NAME,
    Store,
    open_regular,
    read_regular,
    safe_folder,
    safe_name,
    sha256_bytes,
    sha256_file,
)
from .errors import (
    ArchiveError,
    DocumentNotFound,
    FixityError,
    ReaderFailed,
    ReaderUnavailable,
    RejectedInput,
    StorageError,
    UsageError,
)
from .lock import WriteLock
from .models import (
    FACETS,
    SORTS,
    Document,
    DocumentView,
    Outcome,
    Problem,
    Rejection,
    Report,
    SearchRequest,
    SearchResults,
    Stats,
    Status,
    printable,
)
from .schema import SCHEMA_VERSION
from .searcher import Export, IndexVersion, Searcher, check_filters
from .settings import Settings
from .taxonomy import Taxonomy
from .wire import Degraded

Progress = Callable[[int, int], None]
"""Called with (done, total) as a long write advances."""

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Archive:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.documents_dir)
        self.taxonomy = Taxonomy.load(settings.taxonomy_path)
        self.searcher = Searcher(settings.index_dir, self.taxonomy)
        self._unread: list[str] = []  # files the current write could not read for lack of a reader
        self._prepared = 0  # files the current write read and prepared

    def close(self) -> None:
        self.searcher.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def search(self, request: SearchRequest) -> SearchResults:
        """Search passages; raises UsageError for out-of-range parameters, never for query text."""
        return self.searcher.search(validate(request))

    def document(
        self, document_id: str, query: str = "", page: int = 1, position: int | None = None
    ) -> DocumentView:
        """One page of a document's passages (the page holding `position` if given), `query` marked."""
        view = self.searcher.document(document_id, query, page=page, position=position)
        if view is None:
            raise DocumentNotFound(document_id)
        return view

    def export(self, request: SearchRequest, limit: int) -> Export:
        """Every match of a search in ranked order, up to `limit`, from one index generation."""
        return self.searcher.export(validate(request), limit)

    def original(self, document_id: str) -> tuple[str, BinaryIO, int, str]:
        """The stored file of a document, opened without following links: (file name, open file, size,
        media type). The caller closes the file."""
        path = self.store.path_of(document_id)
        try:
            handle = open_regular(path)
        except OSError:  # gone, or swapped for a link since the lookup
            raise DocumentNotFound(document_id) from None
        fmt = extract.format_of(path.name) or ""
        size = os.fstat(handle.fileno()).st_size
        return path.name, handle, size, extract.MEDIA_TYPES.get(fmt, "application/octet-stream")

    def stats(self) -> Stats:
        return self.searcher.stats()

    def version(self) -> IndexVersion | None:
        """The live index's latest commit (changes with every write), cheaply: no search is run."""
        return self.searcher.version()

    # ------------------------------------------------------------------ preparing

    def prepare(self, document_id: str, data: bytes, sidecar: bytes | None = None) -> Document:
        """Extract, split and tag one document; raises RejectedInput."""
        self._prepared += 1
        found = extract.extract(document_id, data, self.settings.max_file_bytes)
        extra = metadata.parse_sidecar(document_id, sidecar) if sidecar is not None else {}
        meta = metadata.build(document_id, found.metadata, extra, self.taxonomy)
        pieces = passages.split(
            found.blocks, document_id, self.settings.passage_min_words, self.settings.passage_max_words
        )
        tagged = []
        for p in pieces:
            tags = self.taxonomy.detect(p.text)
            tagged.append(replace(p, agency=tags["agency"], offence=tags["offence"]))
        sha = sha256_bytes(data)
        return Document(
            document_id, sha, self._fingerprint(sha, sidecar), found.format, meta, tuple(tagged), len(data)
        )

    def _fingerprint(self, sha: str, sidecar: bytes | None) -> str:
        parts = [
            sha,
            sha256_bytes(sidecar) if sidecar is not None else "-",
            self.taxonomy.fingerprint,
            str(SCHEMA_VERSION),
            str(self.settings.passage_min_words),
            str(self.settings.passage_max_words),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]

    def _read(self, document_id: str) -> tuple[bytes, bytes | None]:
        """A document's bytes and its sidecar's; RejectedInput when it cannot be read as a regular file
        (gone, or swapped for a link or a FIFO since the scan): one file refused, not the whole write."""
        try:
            return self._read_regular(document_id)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise RejectedInput(document_id, "symlink", "a symbolic link: never followed") from None
            if e.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                raise RejectedInput(document_id, "unreadable", f"cannot read: {e.strerror or e}") from None
            # out of descriptors, I/O error: ours, not the file's; an indexed document is never dropped
            raise ReaderUnavailable(document_id, "reader_unavailable", f"cannot read: {e.strerror}") from None

    def _read_regular(self, document_id: str) -> tuple[bytes, bytes | None]:
        path = self.store.root / document_id
        size = path.lstat().st_size
        if size > self.settings.max_file_bytes:
            raise RejectedInput(
                document_id,
                "too_large",
                f"file too large ({size / 1e6:.1f} MB, the limit is "
                f"{self.settings.max_file_bytes / 1e6:.0f} MB)",
            )
        sidecar = self.store.sidecar_of(document_id)
        data = read_regular(path, self.settings.max_file_bytes)
        return data, read_regular(sidecar, metadata.MAX_SIDECAR_BYTES) if sidecar else None

    # ------------------------------------------------------------------ writing

    def reindex(
        self,
        full: bool = False,
        progress: Progress | None = None,
        wait: float = 0.0,
        accept_changes: bool = False,
    ) -> Report:
        """Bring the index in line with documents/: incrementally, or as a complete new generation.

        Originals that differ from the fixity manifest (altered or missing) stop the reindex with a
        FixityError before anything is written, unless `accept_changes` says the change is intended.
        """
        with self._writing("reindex --full" if full else "reindex", wait):
            return self._reindex(full, progress, accept_changes)

    @contextmanager
    def _writing(self, what: str, wait: float) -> Iterator[None]:
        """Hold the write lock, after clearing what a killed writer may have left behind.

        A write that fails for a reason of ours (storage, reader) is recorded in the archive's health
        until a later write succeeds; see `health`.
        """
        index_dir = self.settings.index_dir
        try:
            with WriteLock(index_dir, what, wait):
                self._unread = []
                self._prepared = 0
                self.store.clean()
                indexer.clean_stale(index_dir)
                try:
                    yield
                except OSError as e:  # full disk, read-only storage: say so; the writers undid their part
                    error = StorageError(what, e, self.settings.home)
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
                if self._unread:
                    names = ", ".join(self._unread[:5]) + (" ..." if len(self._unread) > 5 else "")
                    health.record(
                        index_dir,
                        what,
                        ReaderUnavailable.code,
                        f"{len(self._unread)} file(s) not read for lack of a working reader: {names}",
                    )
                elif self._prepared or not _reader_trouble(health.read(index_dir)):
                    health.clear(index_dir)  # a reader failure is cleared only by a write that read
        except OSError as e:  # the lock itself could not be taken or released
            raise StorageError(what, e, self.settings.home) from e

    def health(self) -> Degraded | None:
        """Why the last write failed (`what`, `code`, `reason`, `since`), or None if it succeeded."""
        return health.read(self.settings.index_dir)

    def _reindex(self, full: bool, progress: Progress | None, accept_changes: bool = True) -> Report:
        index_dir = self.settings.index_dir
        full = full or indexer.needs_full_rebuild(index_dir, self.taxonomy.fingerprint) is not None
        indexed = self.searcher.records()  # what the live index holds: never lost for a reason of ours
        records = {} if full else indexed
        ids, refused = self.store.survey()  # links and names with control characters are never read
        manifest = self.store.read_manifest()
        outcomes = [Outcome(printable(path), "rejected", why) for path, why in refused.items()]
        changed: list[Document] = []
        lost: list[tuple[str, str]] = []  # indexed documents the reader failed on: (id, reason)
        seen: dict[str, str] = {}  # sha256 -> first document id with that content
        keep: set[str] = set()
        shas: dict[str, str] = {}
        for document_id in ids:
            try:
                shas[document_id] = sha256_file(self.store.root / document_id)
            except OSError as e:
                if document_id in indexed and e.errno not in (errno.ENOENT, errno.ELOOP):
                    lost.append((document_id, f"cannot read: {e.strerror}"))  # EMFILE, EIO: ours
                outcomes.append(
                    Outcome(document_id, "rejected", Rejection("unreadable", f"cannot read: {e.strerror}"))
                )
        if not accept_changes:
            altered = [i for i, sha in shas.items() if manifest.get(i, sha) != sha]
            listed = set(ids)
            missing = [i for i in manifest if i not in shas and i not in listed and refused.get(i) != BAD_NAME]
            if altered or missing:
                raise FixityError(altered, sorted(missing))
        for i, document_id in enumerate(ids, start=1):
            if progress:
                progress(i - 1, len(ids))
            if document_id not in shas:
                continue
            sha = shas[document_id]
            manifest[document_id] = sha
            if sha in seen:
                outcomes.append(Outcome(document_id, "duplicate", duplicate_of=seen[sha]))
                continue
            seen[sha] = document_id
            sidecar = self.store.sidecar_of(document_id)
            try:
                sidecar_bytes = read_regular(sidecar, metadata.MAX_SIDECAR_BYTES) if sidecar else None
            except (OSError, RejectedInput) as e:
                why = e.reason if isinstance(e, RejectedInput) else f"cannot read: {e.strerror}"
                outcomes.append(Outcome(document_id, "rejected", Rejection("bad_metadata", f"sidecar: {why}")))
                continue
            record = records.get(document_id)
            if record and record.get("fingerprint") == self._fingerprint(sha, sidecar_bytes):
                keep.add(document_id)
                outcomes.append(Outcome(document_id, "unchanged", passages=record.get("passages", 0)))
                continue
            try:
                document = self.prepare(document_id, *self._read(document_id))
            except ReaderUnavailable as e:
                if document_id in indexed:
                    lost.append((document_id, e.reason))
                else:
                    self._unread.append(document_id)
                outcomes.append(Outcome(document_id, "rejected", Rejection(e.reason_code, e.reason)))
                continue
            except RejectedInput as e:
                if e.reason_code == "too_complex" and document_id in indexed:
                    # indexed before within its budget: a slower or busier machine, not a new fault of
                    # the file; refuse to drop it rather than shrink the index
                    lost.append((document_id, e.reason))
                outcomes.append(Outcome(document_id, "rejected", Rejection(e.reason_code, e.reason)))
                continue
            keep.add(document_id)
            changed.append(document)
            status: Status = "updated" if document_id in records else "added"
            outcomes.append(Outcome(document_id, status, passages=len(document.passages)))
        if lost:  # never replace the live index with a smaller one because our reader failed
            raise ReaderFailed("reindex --full" if full else "reindex", lost)
        removed = sorted(set(records) - keep)
        present = set(ids)
        outcomes.extend(Outcome(r, "removed") for r in removed if r not in present)
        manifest = {k: v for k, v in manifest.items() if k in present}
        if full:
            indexer.build(index_dir, changed, self.taxonomy.fingerprint)
        elif changed or removed:
            indexer.update(index_dir, changed, removed, self.taxonomy.fingerprint)
        self.store.write_manifest(manifest)
        if progress:
            progress(len(ids), len(ids))
        return Report(tuple(outcomes))

    def add(
        self,
        paths: Sequence[Path],
        folder: str | None = None,
        wait: float = 0.0,
        progress: Progress | None = None,
    ) -> Report:
        """Copy files (or the files under folders) into documents/ and index them; rejected files stay out."""
        items: list[tuple[str, Path]] = []
        for path in paths:
            if path.is_dir():
                for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                    sub = f.parent.relative_to(path).as_posix()
                    items.append((f"{folder or ''}/{path.name}/{sub}".strip("/"), f))
            else:
                items.append((folder or "", path))
        with self._writing("add", wait):
            return self._store_and_index(self._from_paths(items), len(items), progress)

    def add_upload(
        self, files: Sequence[tuple[str, bytes]], folder: str | None = None, wait: float = 0.0
    ) -> Report:
        """Store uploaded files (name, bytes) and index them, like `add`."""
        with self._writing("upload", wait):
            items = ((folder or "", name, _constant(data), None) for name, data in files)
            return self._store_and_index(items, len(files), None)

    def _from_paths(
        self, items: list[tuple[str, Path]]
    ) -> Iterator[tuple[str, str, Callable[[], bytes], bytes | None]]:
        given = {p.resolve() for _, p in items}
        for target_folder, path in items:
            if path.name.endswith(metadata.SIDECAR_SUFFIX):
                document = path.with_name(path.name[: -len(metadata.SIDECAR_SUFFIX)])
                if document.resolve() not in given and not any(
                    g.parent == path.parent.resolve() and g.stem == document.name for g in given
                ):
                    yield target_folder, str(path), _lone_sidecar(path), None
                continue  # sidecars travel with their document
            sidecar = metadata.sidecar_for(path)
            yield target_folder, str(path), path.read_bytes, sidecar.read_bytes() if sidecar else None

    def _store_and_index(
        self,
        items: Iterator[tuple[str, str, Callable[[], bytes], bytes | None]],
        total: int,
        progress: Progress | None,
    ) -> Report:
        manifest = self.store.read_manifest()
        before = dict(manifest)
        by_sha = {sha: path for path, sha in manifest.items()}
        outcomes: list[Outcome] = []
        stored: list[Document] = []
        written: list[str] = []
        try:  # an error or an interrupt at any point (full disk, Ctrl-C) leaves the archive as it was
            for i, (target_folder, given, read, sidecar) in enumerate(items):
                if progress:
                    progress(i, total)
                try:
                    document_id = PurePosixPath(safe_folder(target_folder), safe_name(given)).as_posix()
                    try:
                        data = read()
                    except OSError as e:
                        raise RejectedInput(given, "unreadable", f"cannot read: {e.strerror}") from None
                    sha = sha256_bytes(data)
                    target = self.store.target(document_id)  # refused when the way there is a link
                    if target.exists():
                        if sha256_file(target) == sha:
                            outcomes.append(Outcome(document_id, "unchanged"))
                            continue
                        raise RejectedInput(
                            given,
                            "name_taken",
                            f"a different file is already stored as {document_id}: "
                            "rename it, or remove the stored one first",
                        )
                    if sha in by_sha:
                        outcomes.append(Outcome(given, "duplicate", duplicate_of=by_sha[sha]))
                        continue
                    document = self.prepare(document_id, data, sidecar)
                except RejectedInput as e:
                    if isinstance(e, ReaderUnavailable):
                        self._unread.append(document_id)
                    outcomes.append(Outcome(given, "rejected", Rejection(e.reason_code, e.reason)))
                    continue
                mark = len(written)
                try:
                    written.append(document_id)  # before the write: an interrupt in between is undone too
                    self.store.put(document_id, data)
                    if sidecar is not None:
                        written.append(document_id + metadata.SIDECAR_SUFFIX)
                        self.store.put(document_id + metadata.SIDECAR_SUFFIX, sidecar)
                except RejectedInput as e:  # name taken or folder linked meanwhile: what is there is not ours
                    for name in written[mark:-1]:  # only what this file stored before the refusal
                        (self.store.root / name).unlink()
                    del written[mark:]
                    outcomes.append(Outcome(given, "rejected", Rejection(e.reason_code, e.reason)))
                    continue
                manifest[document_id] = sha
                by_sha[sha] = document_id
                stored.append(document)
                outcomes.append(Outcome(document_id, "added", passages=len(document.passages)))
            self.store.write_manifest(manifest)
            if stored:
                if indexer.needs_full_rebuild(self.settings.index_dir, self.taxonomy.fingerprint):
                    self._reindex(True, None, accept_changes=True)
                else:
                    indexer.update(self.settings.index_dir, stored, (), self.taxonomy.fingerprint)
        except BaseException:
            self._undo(written, before)
            raise
        return Report(tuple(outcomes))

    def _undo(self, written: list[str], manifest: dict[str, str]) -> None:
        """Best effort after a failed add: remove the files it stored and put the manifest back."""
        for name in written:
            with contextlib.suppress(OSError):
                (self.store.root / name).unlink()
        with contextlib.suppress(OSError):
            if self.store.read_manifest() != manifest:
                self.store.write_manifest(manifest)

    def remove(self, document_id: str, wait: float = 0.0) -> Outcome:
        """Delete a document's file, sidecar, manifest line and passages."""
        with self._writing("remove", wait):
            self.store.delete(document_id)
            manifest = self.store.read_manifest()
            manifest.pop(document_id, None)
            self.store.write_manifest(manifest)
            if indexer.live_generation(self.settings.index_dir) is not None:
                indexer.update(self.settings.index_dir, (), [document_id], self.taxonomy.fingerprint)
            return Outcome(document_id, "removed")

    # ------------------------------------------------------------------ checking

    def check(self) -> list[Problem]:
        """Fixity of every original against the manifest, and the index against the documents."""
        problems: list[Problem] = []
        failed = self.health()
        if failed:
            problems.append(
                Problem(
                    "warning",
                    "index/",
                    f"the last write ({failed.get('what')}, {failed.get('since')}) failed: "
                    f"{failed.get('reason')}; the next successful write clears this",
                )
            )
        ids, refused = self.store.survey()
        manifest = self.store.read_manifest()
        shas: dict[str, str] = {}
        for document_id in ids:
            try:
                sha = sha256_file(self.store.root / document_id)
            except OSError as e:  # gone or swapped for a link since the scan
                problems.append(Problem("error", printable(document_id), f"cannot read: {e.strerror or e}"))
                continue
            shas[document_id] = sha
            if document_id not in manifest:
                problems.append(
                    Problem(
                        "error", document_id, "not in the fixity manifest (new file? run `archive reindex`)"
                    )
                )
            elif manifest[document_id] != sha:
                problems.append(
                    Problem("error", document_id, "altered: its SHA-256 differs from the manifest")
                )
        for document_id in sorted(set(manifest) - set(ids)):
            if refused.get(document_id) != BAD_NAME:  # present, but refused for its name: said below
                problems.append(
                    Problem(
                        "error",
                        printable(document_id),
                        "missing: listed in the manifest but not in documents/",
                    )
                )
        for path, rejection in refused.items():  # never read, never indexed, never served
            prefix = "cannot be indexed: " if rejection == BAD_NAME else ""
            problems.append(
                Problem("warning", printable(path), f"{prefix}{rejection.message} [{rejection.code}]")
            )
        for name in self.store.leftovers():
            problems.append(
                Problem(
                    "warning", name, "temporary file left by an interrupted write; the next write removes it"
                )
            )
        stale = (
            [p.name for p in self.settings.index_dir.glob("*.tmp")]
            if self.settings.index_dir.is_dir()
            else []
        )
        for name in stale:
            problems.append(
                Problem(
                    "warning",
                    f"index/{name}",
                    "left over by an interrupted write; the next reindex removes it",
                )
            )
        why = indexer.needs_full_rebuild(self.settings.index_dir, self.taxonomy.fingerprint)
        if why:
            problems.append(
                Problem("error", "index/", f"index must be rebuilt ({why}): run `archive reindex`")
            )
            return problems
        records = self.searcher.records()
        counts = self.searcher.passage_counts()
        first: dict[str, str] = {}
        for document_id in ids:
            if document_id not in shas:
                continue
            sha = shas[document_id]
            if sha in first:
                problems.append(
                    Problem("warning", document_id, f"same content as {first[sha]}: indexed once")
                )
                continue
            first[sha] = document_id
            record = records.get(document_id)
            if record is None:
                try:
                    self.prepare(document_id, *self._read(document_id))
                except RejectedInput as e:
                    problems.append(
                        Problem("warning", document_id, f"cannot be indexed: {e.reason} [{e.reason_code}]")
                    )
                    continue
                problems.append(Problem("error", document_id, "not indexed: run `archive reindex`"))
                continue
            if record.get("sha256") != sha:
                problems.append(
                    Problem("error", document_id, "index out of date for this file: run `archive reindex`")
                )
            if counts.get(document_id, 0) != record.get("passages"):
                problems.append(
                    Problem(
                        "error",
                        document_id,
                        f"index holds {counts.get(document_id, 0)} passages, "
                        f"expected {record.get('passages')}",
                    )
                )
        for document_id in sorted(set(records) - set(ids)):
            problems.append(
                Problem("error", printable(document_id), "orphaned: indexed but no longer in documents/")
            )
        return problems


def _reader_trouble(failed: Mapping[str, object] | None) -> bool:
    return failed is not None and failed.get("code") in (ReaderFailed.code, ReaderUnavailable.code)


def _lone_sidecar(path: Path) -> Callable[[], bytes]:
    def refuse() -> bytes:
        raise RejectedInput(
            str(path), "bad_name", "a sidecar travels with its document: add the document itself"
        )

    return refuse


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def validate(request: SearchRequest) -> SearchRequest:
    """Check a request's parameters; UsageError names the parameter at fault."""
    if request.page < 1:
        raise UsageError("page must be 1 or more", "page")
    if request.page > 10_000:
        raise UsageError("page must be at most 10000", "page")
    if request.cursor is not None and request.page != 1:
        raise UsageError("cursor cannot be combined with page: the cursor says where the page starts", "cursor")
    if not 1 <= request.per_page <= 100:
        raise UsageError("per_page must be between 1 and 100", "per_page")
    if request.sort not in SORTS:
        raise UsageError(f"sort must be one of {', '.join(SORTS)}", "sort")
    for name, value in (("from", request.date_from), ("to", request.date_to)):
        if value is not None and (not _ISO_DAY.match(value) or metadata.parse_date(value) != value):
            raise UsageError(f"{name} must be an ISO date like 2024-06-27", name)
    if request.date_from and request.date_to and request.date_from > request.date_to:
        raise UsageError("from must not be after to", "from")
    for name in request.filters:
        if name not in FACETS:
            raise UsageError(f"unknown facet {name!r}: use {', '.join(FACETS)}", name)
    check_filters(request.filters)
    return request
