"""A reindex: bring the index in line with `documents/`, incrementally or as a complete new generation.

Planned from one `fixity.Diff` of documents/: what changed is prepared again, what is unchanged (same
fingerprint) is kept, what is gone is removed. An indexed document is never dropped for a reason of ours
(the reader failed, a busier machine ran out of budget): the reindex stops instead (`ReaderFailed`).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from . import fixity, indexer
from .documents import read_sidecar
from .errors import FixityError, ReaderFailed, ReaderUnavailable, RejectedInput
from .models import Document, Status
from .outcomes import Outcome, Rejection, Report, printable
from .preparing import Job
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
    for document_id in diff.ids:
        if document_id in diff.shas:
            plan.take(document_id, diff.shas[document_id], diff.duplicates.get(document_id))
    plan.prepare_all(progress, len(diff.ids))
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
    """A reindex's decisions, one document at a time; those to prepare again are prepared together, in
    order, by the write's workers (`prepare_all`)."""

    def __init__(self, write: Write, records: Records, indexed: Records) -> None:
        self.write = write
        self.records = records  # what the new index starts from: nothing for a full rebuild
        self.indexed = indexed  # what the live index holds
        self.outcomes: list[Outcome] = []
        self.changed: list[Document] = []
        self.lost: list[tuple[str, str]] = []  # indexed documents the reader failed on: (id, reason)
        self.keep: set[str] = set()
        self.waiting: dict[str, int] = {}  # documents to prepare again, and their outcome's place

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
        """Decide one readable document: a duplicate, unchanged, rejected, or set aside to prepare again."""
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
        self.waiting[document_id] = len(self.outcomes)  # its outcome's place, filled by `prepare_all`
        self.outcomes.append(Outcome(document_id, "rejected"))

    def prepare_all(self, progress: Progress | None, total: int) -> None:
        """Read and prepare the documents `take` set aside, in order, through the write's workers."""
        done = total - len(self.waiting)
        if progress:
            progress(done, total)
        with closing(self.write.prepare_all(self._jobs())) as results:
            for i, (document_id, prepared) in enumerate(results, start=1):
                if progress:
                    progress(done + i, total)
                if isinstance(prepared, RejectedInput):
                    self._rejected(document_id, prepared)
                    continue
                self.keep.add(document_id)
                self.changed.append(prepared)
                status: Status = "updated" if document_id in self.records else "added"
                self.outcomes[self.waiting[document_id]] = Outcome(
                    document_id, status, passages=len(prepared.passages)
                )

    def _jobs(self) -> Iterator[Job]:
        """Each document set aside, read with its sidecar as the workers free up; a file that cannot be
        read is rejected here."""
        for document_id in self.waiting:
            try:
                data, sidecar = self.write.store.read(document_id, self.write.settings.max_file_bytes)
            except RejectedInput as e:
                self._rejected(document_id, e)
                continue
            yield document_id, data, sidecar

    def _rejected(self, document_id: str, e: RejectedInput) -> None:
        """A document that could not be read or prepared again: rejected, and lost if that is our fault."""
        if isinstance(e, ReaderUnavailable):
            if document_id in self.indexed:
                self.lost.append((document_id, e.reason))
            else:
                self.write.unread.append(document_id)
        elif e.reason_code == "too_complex" and document_id in self.indexed:
            # indexed before within its budget: a slower or busier machine, not a new fault of the
            # file; refuse to drop it rather than shrink the index
            self.lost.append((document_id, e.reason))
        self.outcomes[self.waiting[document_id]] = Outcome(
            document_id, "rejected", Rejection(e.reason_code, e.reason)
        )
