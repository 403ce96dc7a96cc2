"""A reindex: bring the index in line with `documents/`, incrementally or as a complete new generation.

Planned from one `fixity.Diff` of documents/: what changed is prepared again, what is unchanged (same
fingerprint) is kept, what is gone is removed. An indexed document is never dropped for a reason of ours
(the reader failed, a busier machine ran out of budget): the reindex stops instead (`ReaderFailed`).
"""

from __future__ import annotations

import errno
from typing import Any

from . import fixity, indexer
from .documents import read_sidecar
from .errors import FixityError, ReaderFailed, ReaderUnavailable, RejectedInput
from .models import Document, Status
from .outcomes import Outcome, Rejection, Report, printable
from .write import Progress, Write

Records = dict[str, dict[str, Any]]
"""Indexed documents' records (fingerprint, passage count...), by document id."""


def reindex(write: Write, full: bool, progress: Progress | None, accept_changes: bool = True) -> Report:
    """Reindex under the write lock `write` holds; FixityError for unaccepted changes to the originals."""
    index_dir = write.settings.index_dir
    fingerprint = write.pipeline.taxonomy.fingerprint
    full = full or indexer.needs_full_rebuild(index_dir, fingerprint) is not None
    indexed = write.searcher.records()  # what the live index holds: never lost for a reason of ours
    plan = _Plan(write, {} if full else indexed, indexed)
    diff = fixity.diff(write.store)
    plan.refuse(diff)
    altered, missing = ([], []) if accept_changes else (diff.all_altered(), diff.missing())
    if altered or missing:
        raise FixityError(altered, missing)
    for i, document_id in enumerate(diff.ids, start=1):
        if progress:
            progress(i - 1, len(diff.ids))
        if document_id in diff.shas:
            plan.take(document_id, diff.shas[document_id], diff.duplicates.get(document_id))
    if plan.lost:  # never replace the live index with a smaller one because our reader failed
        raise ReaderFailed("reindex --full" if full else "reindex", plan.lost)
    removed = sorted(set(plan.records) - plan.keep)
    present = set(diff.ids)
    plan.outcomes.extend(Outcome(r, "removed") for r in removed if r not in present)
    if full:
        indexer.build(index_dir, plan.changed, fingerprint)
    elif plan.changed or removed:
        indexer.update(index_dir, plan.changed, removed, fingerprint)
    manifest = {**diff.manifest, **diff.shas}  # every file read is recorded as it is now
    manifest = {k: v for k, v in manifest.items() if k in present}
    write.store.write_manifest(manifest)
    write.pipeline.extracted.prune(manifest.values())  # what the manifest no longer lists
    if progress:
        progress(len(diff.ids), len(diff.ids))
    return Report(tuple(plan.outcomes))


class _Plan:
    """A reindex's decisions, one document at a time."""

    def __init__(self, write: Write, records: Records, indexed: Records) -> None:
        self.write = write
        self.records = records  # what the new index starts from: nothing for a full rebuild
        self.indexed = indexed  # what the live index holds
        self.outcomes: list[Outcome] = []
        self.changed: list[Document] = []
        self.lost: list[tuple[str, str]] = []  # indexed documents the reader failed on: (id, reason)
        self.keep: set[str] = set()

    def refuse(self, diff: fixity.Diff) -> None:
        """The files the walk refused and those it could not read: rejected, and lost if indexed."""
        self.outcomes.extend(Outcome(printable(path), "rejected", why) for path, why in diff.refused.items())
        for document_id, e in diff.unreadable.items():
            if document_id in self.indexed and e.errno not in (errno.ENOENT, errno.ELOOP):
                self.lost.append((document_id, f"cannot read: {e.strerror}"))  # EMFILE, EIO: ours
            self.outcomes.append(
                Outcome(document_id, "rejected", Rejection("unreadable", f"cannot read: {e.strerror}"))
            )

    def take(self, document_id: str, sha: str, duplicate_of: str | None) -> None:
        """Decide one readable document: a duplicate, unchanged, prepared again, or rejected."""
        if duplicate_of is not None:
            self.outcomes.append(Outcome(document_id, "duplicate", duplicate_of=duplicate_of))
            return
        sidecar = self.write.store.sidecar_of(document_id)
        try:
            sidecar_bytes = read_sidecar(sidecar)
        except (OSError, RejectedInput) as e:
            why = e.reason if isinstance(e, RejectedInput) else f"cannot read: {e.strerror}"
            self.outcomes.append(
                Outcome(document_id, "rejected", Rejection("bad_metadata", f"sidecar: {why}"))
            )
            return
        record = self.records.get(document_id)
        if record and record.get("fingerprint") == self.write.pipeline.fingerprint(sha, sidecar_bytes):
            self.keep.add(document_id)
            self.outcomes.append(Outcome(document_id, "unchanged", passages=record.get("passages", 0)))
            return
        document = self._prepare(document_id)
        if document is None:
            return
        self.keep.add(document_id)
        self.changed.append(document)
        status: Status = "updated" if document_id in self.records else "added"
        self.outcomes.append(Outcome(document_id, status, passages=len(document.passages)))

    def _prepare(self, document_id: str) -> Document | None:
        """The document read and prepared again, or None when it was rejected (and why is recorded)."""
        try:
            return self.write.read_and_prepare(document_id)
        except ReaderUnavailable as e:
            if document_id in self.indexed:
                self.lost.append((document_id, e.reason))
            else:
                self.write.unread.append(document_id)
            self.outcomes.append(Outcome(document_id, "rejected", Rejection(e.reason_code, e.reason)))
        except RejectedInput as e:
            if e.reason_code == "too_complex" and document_id in self.indexed:
                # indexed before within its budget: a slower or busier machine, not a new fault of the
                # file; refuse to drop it rather than shrink the index
                self.lost.append((document_id, e.reason))
            self.outcomes.append(Outcome(document_id, "rejected", Rejection(e.reason_code, e.reason)))
        return None
