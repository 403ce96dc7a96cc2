"""Intake: new files into `documents/` and the index, as one transaction.

Each file is named safely, refused when its name is taken by different content, skipped when its content
is already stored, prepared, then stored without ever overwriting anything. An error or an interrupt at
any point (full disk, Ctrl-C) undoes the whole add: the files it stored are removed and the manifest put
back, so the archive is left as it was.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from . import indexer, metadata
from .documents import sha256_bytes, sha256_file
from .errors import ReaderUnavailable, RejectedInput
from .models import Document
from .names import safe_folder, safe_name
from .outcomes import Outcome, Rejection, Report
from .preparing import Job, Prepared
from .reindex import reindex
from .write import Progress, Write

Item = tuple[str, str, Callable[[], bytes], bytes | None]
"""One file to add: (folder inside documents/, the name it was given, how to read it, its sidecar's bytes)."""


def files_under(paths: Sequence[Path], folder: str | None) -> list[tuple[str, Path]]:
    """The files to add (folders walked, hidden files left out), each with the folder it goes to."""
    items: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                sub = f.parent.relative_to(path).as_posix()
                items.append((f"{folder or ''}/{path.name}/{sub}".strip("/"), f))
        else:
            items.append((folder or "", path))
    return items


def from_paths(items: list[tuple[str, Path]]) -> Iterator[Item]:
    """The items of `files_under`, read as they are stored; a sidecar travels with its document."""
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


def from_uploads(files: Iterable[tuple[str, bytes]], folder: str | None) -> Iterator[Item]:
    """Uploaded files (name, bytes), to go into `folder`."""
    return ((folder or "", name, _constant(data), None) for name, data in files)


def store_and_index(write: Write, items: Iterable[Item], total: int, progress: Progress | None) -> Report:
    """Store the new files among `items` and index them, all or nothing; rejected files stay out."""
    added = _Addition(write)
    try:  # an error or an interrupt at any point (full disk, Ctrl-C) leaves the archive as it was
        with contextlib.closing(write.prepare_all(added.admit(items, total, progress))) as prepared:
            for document_id, document in prepared:
                added.take(document_id, document)
        added.commit()
    except BaseException:
        added.undo()
        raise
    return Report(tuple(added.outcomes))


class _Addition:
    """One add under way: what it stored (to undo), what it prepared (to index), what it says."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self.store = write.store
        self.manifest = write.store.read_manifest()
        self.before = dict(self.manifest)
        self.by_sha = {sha: path for path, sha in self.manifest.items()}
        self.outcomes: list[Outcome] = []
        self.stored: list[Document] = []
        self.written: list[str] = []  # names stored so far, each listed before it is written
        # files being prepared, in order: the name given, the bytes and sidecar to store, the place
        # their outcome keeps in `outcomes` (so that outcomes keep the order of the items)
        self.preparing: deque[tuple[str, bytes, bytes | None, int]] = deque()

    def admit(self, items: Iterable[Item], total: int, progress: Progress | None) -> Iterator[Job]:
        """The files to prepare among `items`; the others found unchanged, duplicates or rejected (and
        said so)."""
        for i, (folder, given, read, sidecar) in enumerate(items):
            if progress:
                progress(i, total)
            try:
                job = self._admit(folder, given, read, sidecar)
            except RejectedInput as e:
                self.outcomes.append(_rejected(given, e))
                continue
            if job is not None:
                self.preparing.append((given, job[1], sidecar, len(self.outcomes)))
                self.outcomes.append(Outcome(given, "rejected"))  # its place, filled by `take`
                yield job

    def take(self, document_id: str, prepared: Prepared) -> None:
        """A file prepared (or rejected): stored, unless a file of this add took its name or content
        meanwhile."""
        given, data, sidecar, place = self.preparing.popleft()
        if isinstance(prepared, RejectedInput):
            if isinstance(prepared, ReaderUnavailable):
                self.write.unread.append(document_id)
            self.outcomes[place] = _rejected(given, prepared)
            return
        try:
            known = self._known(document_id, given, prepared.sha256)
        except RejectedInput as e:
            known = _rejected(given, e)
        if known is None:
            known = self._put(given, document_id, data, sidecar)
        if known is not None:
            self.outcomes[place] = known
            return
        self.manifest[document_id] = prepared.sha256
        self.by_sha[prepared.sha256] = document_id
        self.stored.append(prepared)
        self.outcomes[place] = Outcome(document_id, "added", passages=len(prepared.passages))

    def _admit(self, folder: str, given: str, read: Callable[[], bytes], sidecar: bytes | None) -> Job | None:
        """The file read, as a job to prepare; None when it is stored already (unchanged) or a duplicate."""
        document_id = PurePosixPath(safe_folder(folder), safe_name(given)).as_posix()
        try:
            data = read()
        except OSError as e:
            raise RejectedInput(given, "unreadable", f"cannot read: {e.strerror}") from None
        known = self._known(document_id, given, sha256_bytes(data))
        if known is not None:
            self.outcomes.append(known)
            return None
        return document_id, data, sidecar

    def _known(self, document_id: str, given: str, sha: str) -> Outcome | None:
        """The file already stored (unchanged) or a duplicate; RejectedInput when its name is taken."""
        target = self.store.target(document_id)  # refused when the way there is a link
        if target.exists():
            if sha256_file(target) == sha:
                return Outcome(document_id, "unchanged")
            raise RejectedInput(
                given,
                "name_taken",
                f"a different file is already stored as {document_id}: "
                "rename it, or remove the stored one first",
            )
        if sha in self.by_sha:
            return Outcome(given, "duplicate", duplicate_of=self.by_sha[sha])
        return None

    def _put(self, given: str, document_id: str, data: bytes, sidecar: bytes | None) -> Outcome | None:
        """Store a file and its sidecar; its rejection when its name was taken meanwhile."""
        mark = len(self.written)
        try:
            self.written.append(document_id)  # before the write: an interrupt in between is undone too
            self.store.put(document_id, data)
            if sidecar is not None:
                self.written.append(document_id + metadata.SIDECAR_SUFFIX)
                self.store.put(document_id + metadata.SIDECAR_SUFFIX, sidecar)
        except RejectedInput as e:  # name taken or folder linked meanwhile: what is there is not ours
            for name in self.written[mark:-1]:  # only what this file stored before the refusal
                (self.store.root / name).unlink()
            del self.written[mark:]
            return _rejected(given, e)
        return None

    def commit(self) -> None:
        """Record the stored files in the manifest and index them."""
        self.store.write_manifest(self.manifest)
        if not self.stored:
            return
        index_dir, fingerprint = self.write.settings.index_dir, self.write.pipeline.taxonomy.fingerprint
        if indexer.needs_full_rebuild(index_dir, fingerprint):
            reindex(self.write, True, None, accept_changes=True)
        else:
            indexer.update(index_dir, self.stored, (), fingerprint)

    def undo(self) -> None:
        """Best effort after a failed add: remove the files it stored and put the manifest back."""
        for name in self.written:
            with contextlib.suppress(OSError):
                (self.store.root / name).unlink()
        with contextlib.suppress(OSError):
            if self.store.read_manifest() != self.before:
                self.store.write_manifest(self.before)


def _rejected(given: str, e: RejectedInput) -> Outcome:
    return Outcome(given, "rejected", Rejection(e.reason_code, e.reason))


def _lone_sidecar(path: Path) -> Callable[[], bytes]:
    """A reader that refuses a sidecar given without its document."""

    def refuse() -> bytes:
        """Always RejectedInput: the sidecar's document was not given."""
        raise RejectedInput(
            str(path), "bad_name", "a sidecar travels with its document: add the document itself"
        )

    return refuse


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data
