"""A reindex: bring the index in line with `documents/`, incrementally or as a complete new generation.

Planned from one `fixity.Diff` of documents/: what changed is prepared again, what is unchanged (same
fingerprint) is kept, what is gone is removed. The documents stream: each is read, prepared
(`Write.prepare_all`) and handed to the index writer as the writer asks for it, so memory does not grow
with the archive. An indexed document is never dropped for a reason of ours (the reader failed, a busier
machine ran out of budget): the reindex stops instead (`ReaderFailed`), and since that can only be known
once every document was seen, the stream raises it after its last document, before anything is committed.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Collection, Iterator
from typing import Any

from . import fixity, indexer
from .documents import read_sidecar
from .errors import FixityError, ReaderFailed, ReaderUnavailable, RejectedInput
from .metadata import SIDECAR_SUFFIX
from .models import Document, Status
from .outcomes import Listener, Outcome, Outcomes, Rejection, Report, printable
from .preparing import Job
from .write import Progress, Write

Records = dict[str, dict[str, Any]]
"""Indexed documents' records (fingerprint, passage count...), by document id."""


def reindex(
    write: Write,
    full: bool,
    progress: Progress | None,
    accept_changes: bool = True,
    listener: Listener | None = None,
) -> Report:
    """Reindex under the write lock `write` holds; FixityError for unaccepted changes to the originals.

    `listener` hears each document's outcome as it is settled (`Outcomes`), before the reindex commits."""
    index_dir = write.settings.index_dir
    fingerprint = write.pipeline.taxonomy.fingerprint
    full = full or indexer.needs_full_rebuild(index_dir, fingerprint) is not None
    plan = Plan(write, full, progress, listener=listener)
    if not accept_changes:
        plan.refuse_changes()
    if full:
        indexer.build(index_dir, plan.documents(), fingerprint, parallel_after=write.helper_after())
    else:
        indexer.update(index_dir, plan.documents(), plan.removed(), fingerprint)
    manifest = plan.manifest()  # every file read is recorded as it is now
    write.store.write_manifest(manifest)
    write.pipeline.extracted.prune(manifest.values())  # what the manifest no longer lists
    if progress:
        progress(len(plan.diff.ids), len(plan.diff.ids))
    return plan.report()


class Plan:
    """A reindex's decisions, one document at a time, as the index writer asks for documents.

    `skip` names documents already given to the writer by the caller (an `add` that builds a new
    generation: its own files first, then the rest through this plan)."""

    def __init__(
        self,
        write: Write,
        full: bool,
        progress: Progress | None,
        skip: Collection[str] = (),
        listener: Listener | None = None,
    ) -> None:
        self.write = write
        self.what = "reindex --full" if full else "reindex"
        self.indexed: Records = write.searcher.records()  # what the live index holds: never lost for us
        self.records = {} if full else self.indexed  # what the new index starts from
        self.progress = progress
        self.skip = skip
        self.diff = fixity.diff(write.store, write.settings.index_dir / fixity.CACHE)
        self.outcomes = Outcomes(listener)  # by place in diff.ids: refused first, removed last
        self.lost: list[tuple[str, str]] = []  # indexed documents the reader failed on: (id, reason)
        self.keep: set[str] = set()
        self._pending: dict[str, int] = {}  # the place of each document given out to be prepared
        self._refuse()

    def refuse_changes(self) -> None:
        """FixityError when originals differ from the manifest (altered or missing): nothing written."""
        altered, missing = self.diff.all_altered(), self.diff.missing()
        if altered or missing:
            raise FixityError(altered, missing)

    def documents(self) -> Iterator[Document]:
        """Every document to write, prepared as it is asked for; after the last, ReaderFailed if an
        indexed document could not be read again, so that the writer cancels instead of committing."""
        with contextlib.closing(self.write.prepare_all(self._jobs())) as prepared:  # workers stop on error
            for document_id, result in prepared:
                document = self._settle(document_id, result)
                if document is not None and not self.lost:  # once lost, nothing will be committed
                    yield document
        if self.lost:  # never replace the live index with a smaller one because our reader failed
            raise ReaderFailed(self.what, self.lost)

    def removed(self) -> Iterator[str]:
        """The indexed documents to remove; read once `documents` is exhausted (only then is it known)."""
        present = set(self.diff.ids)
        for document_id in sorted(set(self.records) - self.keep):
            if document_id not in present:
                self.outcomes.say(len(self.diff.ids), Outcome(document_id, "removed"))
            yield document_id

    def manifest(self) -> dict[str, str]:
        """The manifest as documents/ is now: every file read recorded with its SHA-256, the gone left out."""
        present = set(self.diff.ids)
        manifest = {**self.diff.manifest, **self.diff.shas}
        return {k: v for k, v in manifest.items() if k in present}

    def report(self) -> Report:
        """The outcomes, in the order of the documents."""
        return self.outcomes.report()

    def _refuse(self) -> None:
        """The files the walk refused and those it could not read: rejected, and lost if indexed."""
        refused = self.diff.refused.items()
        for path, why in refused:
            self.outcomes.say(-1, Outcome(printable(path), "rejected", why))
        for document_id, e in self.diff.unreadable.items():
            if document_id in self.indexed and e.errno not in (errno.ENOENT, errno.ELOOP):
                self.lost.append((document_id, f"cannot read: {e.strerror}"))  # EMFILE, EIO: ours
            why = Rejection("unreadable", f"cannot read: {e.strerror}")
            self.outcomes.say(-1, Outcome(document_id, "rejected", why))

    def _jobs(self) -> Iterator[Job]:
        """The documents to prepare, read one at a time: the others are decided without preparing."""
        ids, shas = self.diff.ids, self.diff.shas
        for place, document_id in enumerate(ids):
            if self.progress:
                self.progress(place, len(ids))
            if document_id in shas and document_id not in self.skip:
                self._pending[document_id] = place
                self.outcomes.open(place)
                job = self._job(document_id)
                if job is not None:
                    yield job

    def _job(self, document_id: str) -> Job | None:
        """A readable document: a duplicate, unchanged, rejected, or read to be prepared again."""
        duplicate_of = self.diff.duplicates.get(document_id)
        if duplicate_of is not None:
            self._say(document_id, Outcome(document_id, "duplicate", duplicate_of=duplicate_of))
            return None
        store = self.write.store
        try:
            sidecar = read_sidecar(
                store.sidecar_of(document_id) if self._may_have_sidecar(document_id) else None
            )
        except (OSError, RejectedInput) as e:
            why = e.reason if isinstance(e, RejectedInput) else f"cannot read: {e.strerror}"
            self._say(
                document_id, Outcome(document_id, "rejected", Rejection("bad_metadata", f"sidecar: {why}"))
            )
            return None
        record = self.records.get(document_id)
        fingerprint = self.write.pipeline.fingerprint(self.diff.shas[document_id], sidecar)
        if record and record.get("fingerprint") == fingerprint:
            self.keep.add(document_id)
            self._say(document_id, Outcome(document_id, "unchanged", passages=record.get("passages", 0)))
            return None
        try:
            return document_id, store.read_file(document_id, self.write.settings.max_file_bytes), sidecar
        except RejectedInput as e:  # gone, too large, or not read for a reason of ours
            if isinstance(e, ReaderUnavailable):
                self.write.unread.append(document_id)
            self._settle(document_id, e)
            return None

    def _settle(self, document_id: str, result: Document | RejectedInput) -> Document | None:
        """A prepared document kept (and said so), or its rejection recorded: lost if it was indexed."""
        if isinstance(result, Document):
            self.keep.add(document_id)
            status: Status = "updated" if document_id in self.records else "added"
            self._say(document_id, Outcome(document_id, status, passages=len(result.passages)))
            return result
        indexed = document_id in self.indexed
        if indexed and (isinstance(result, ReaderUnavailable) or result.reason_code == "too_complex"):
            # ours, or indexed before within its budget (a slower or busier machine, not a new fault
            # of the file): refuse to drop it rather than shrink the index
            self.lost.append((document_id, result.reason))
        self._say(document_id, Outcome(document_id, "rejected", Rejection(result.reason_code, result.reason)))
        return None

    def _may_have_sidecar(self, document_id: str) -> bool:
        """Whether the walk saw a file named like this document's sidecar (`metadata.sidecar_for`:
        the document's name or its stem, then `.meta.toml`); only then is the file system asked."""
        sidecars = self.diff.sidecars
        if not sidecars:
            return False
        name = document_id.rpartition("/")[2]
        dot = name.rfind(".")
        stem = document_id[: len(document_id) - len(name) + dot] if 0 < dot < len(name) - 1 else document_id
        return document_id + SIDECAR_SUFFIX in sidecars or stem + SIDECAR_SUFFIX in sidecars

    def _say(self, document_id: str, outcome: Outcome) -> None:
        """Record the outcome of a document given out by `_jobs`, in its place."""
        self.outcomes.say(self._pending.pop(document_id), outcome)
