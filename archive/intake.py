"""Intake: new files into `documents/` and the index, as one transaction.

Each file is named safely, refused when its name is taken by different content, skipped when its content
is already stored, prepared, then stored without ever overwriting anything, and its document handed at
once to the index writer: the batch streams, read, prepared and written one file at a time. The manifest
is written after the last document and before the index commits. An error or an interrupt at any point
(full disk, Ctrl-C) undoes the whole add: the index write is cancelled, the files it stored are removed
and the manifest put back, so the archive is left as it was.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import indexer, metadata
from .documents import Staged, sha256_bytes, sha256_file
from .errors import RejectedInput
from .models import Document
from .names import safe_folder, safe_name
from .outcomes import Listener, Outcome, Outcomes, Rejection, Report
from .preparing import Job
from .reindex import Plan
from .write import Progress, Write

Item = tuple[str, str, Callable[[], bytes], bytes | None]
"""One file to add: (folder inside documents/, the name it was given, how to read it, its sidecar's bytes)."""

STAGING_THREADS = 4
"""Threads writing the files being prepared to hidden names, each synced to disk (`Store.stage`). One
fsync of a new 10 KB file took 5 to 7 ms here, one at a time: 12 s for 2,000 files, more than their
whole extraction, when the writer did it between documents. 4 at once took 0.5 ms a file (the journal
commits them together), hidden behind the preparation."""


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
    travelling = _travelling(items)
    for target_folder, path in items:
        if path in travelling:
            continue  # sidecars travel with their document
        if path.name.endswith(metadata.SIDECAR_SUFFIX):
            yield target_folder, str(path), _lone_sidecar(path), None
            continue
        sidecar = metadata.sidecar_for(path)
        yield target_folder, str(path), path.read_bytes, sidecar.read_bytes() if sidecar else None


def batch_size(items: list[tuple[str, Path]]) -> int:
    """How many files `from_paths` gives for `items`: the sidecars travelling with their document are not."""
    travelling = _travelling(items)
    return sum(1 for _, path in items if path not in travelling)


def _travelling(items: list[tuple[str, Path]]) -> set[Path]:
    """The sidecars among `items` whose document is given too (named after its name or its stem)."""
    given = {p.resolve() for _, p in items}
    stems = {(g.parent, g.stem) for g in given}  # a sidecar may be named after its document's stem
    travelling = set()
    for _, path in items:
        if path.name.endswith(metadata.SIDECAR_SUFFIX):
            document = path.with_name(path.name[: -len(metadata.SIDECAR_SUFFIX)])
            if document.resolve() in given or (path.parent.resolve(), document.name) in stems:
                travelling.add(path)
    return travelling


def from_uploads(files: Iterable[tuple[str, bytes]], folder: str | None) -> Iterator[Item]:
    """Uploaded files (name, bytes), to go into `folder`."""
    return ((folder or "", name, _constant(data), None) for name, data in files)


def store_and_index(
    write: Write,
    items: Iterable[Item],
    total: int,
    progress: Progress | None,
    listener: Listener | None = None,
) -> Report:
    """Store the new files among `items` and index them, all or nothing; rejected files stay out.

    The batch streams: each file is read, prepared (`Write.prepare_all`) and stored in turn, and its
    document goes straight to the index writer, so memory does not grow with the batch. `listener` hears
    each file's outcome as it is settled (`Outcomes`), before the add commits."""
    added = _Addition(write, items, total, progress, listener)
    try:  # an error or an interrupt at any point (full disk, Ctrl-C) leaves the archive as it was
        added.index()
    except BaseException:
        added.undo()
        raise
    finally:
        added.unstage()
    return added.report()


@dataclass(eq=False)
class _Taken:
    """One file taken from the batch: its place in it, where it goes, how to read it."""

    place: int
    folder: str
    given: str
    read: Callable[[], bytes]
    sidecar: bytes | None
    document_id: str = ""
    sha: str = ""
    staged: Future[Staged] | None = None  # written to a hidden name while it is being prepared


class _Addition:
    """One add under way: what it stored (to undo), what is being prepared, what it says."""

    def __init__(
        self,
        write: Write,
        items: Iterable[Item],
        total: int,
        progress: Progress | None,
        listener: Listener | None,
    ) -> None:
        self.write = write
        self.store = write.store
        self.items = enumerate(items)
        self.total = total
        self.progress = progress
        self.manifest = write.store.read_manifest()
        self.before = dict(self.manifest)
        self.by_sha = {sha: path for path, sha in self.manifest.items()}
        self.outcomes = Outcomes(listener)  # by place in the batch
        self.written: list[str] = []  # names stored so far, each listed before it is written
        self.added: set[str] = set()
        self.out: dict[str, _Taken] = {}  # files being prepared, by document id
        self.out_shas: dict[str, str] = {}  # their content -> their document id
        self.held: list[_Taken] = []  # files named like, or holding the same content as, one being prepared
        self.again: deque[_Taken] = deque()  # held files whose twin was settled: to be looked at again
        self.stager = ThreadPoolExecutor(STAGING_THREADS, thread_name_prefix="archive-stage")

    def index(self) -> None:
        """Store the batch and index it: one commit to the live index, or a new generation when the index
        must be rebuilt (the batch first, then every other stored document). Nothing stored, nothing
        indexed."""
        index_dir, fingerprint = self.write.settings.index_dir, self.write.pipeline.taxonomy.fingerprint
        full = indexer.needs_full_rebuild(index_dir, fingerprint) is not None
        documents = self._documents(full)
        first = next(documents, None)
        if first is None:
            return
        stream = _then(first, documents)
        del first  # held by nobody once written
        if full:
            indexer.build(index_dir, stream, fingerprint, parallel_after=self.write.helper_after())
        else:
            indexer.update(index_dir, stream, (), fingerprint)

    def report(self) -> Report:
        """What happened to each file, in the batch's order."""
        return self.outcomes.report()

    def unstage(self) -> None:
        """Stop the staging threads, and remove the hidden files of the documents never settled."""
        self.stager.shutdown(wait=True, cancel_futures=True)
        for taken in self.out.values():
            _discard(taken)

    def undo(self) -> None:
        """Best effort after a failed add: remove the files it stored and put the manifest back."""
        self.unstage()
        for name in self.written:
            with contextlib.suppress(OSError):
                (self.store.root / name).unlink()
        with contextlib.suppress(OSError):
            if self.store.read_manifest() != self.before:
                self.store.write_manifest(self.before)

    def _documents(self, full: bool) -> Iterator[Document]:
        """The documents of the files stored, as each is; for a new generation, every other stored
        document after them. After the last, the manifest is written: the index commits a recorded add."""
        yield from self._stored()
        if full and self.added:
            rest = Plan(self.write, True, None, skip=self.added)
            yield from rest.documents()
            self.manifest = rest.manifest()
        self.store.write_manifest(self.manifest)

    def _stored(self) -> Iterator[Document]:
        """The batch's files prepared and stored, one at a time (held twins in a pass of their own)."""
        while True:
            with contextlib.closing(self.write.prepare_all(self._jobs())) as prepared:  # workers stop on error
                for document_id, result in prepared:
                    document = self._settle(document_id, result)
                    if document is not None:
                        yield document
            self.again.extend(self.held)  # nothing is being prepared any more
            self.held.clear()
            if not self.again:
                return

    def _jobs(self) -> Iterator[Job]:
        """The files to prepare, read one at a time; the others are settled (or held) on the way."""
        while taken := self._take():
            try:
                job = self._job(taken)
            except RejectedInput as e:
                self._say(taken, Outcome(taken.given, "rejected", Rejection(e.reason_code, e.reason)))
                continue
            if job is not None:
                yield job

    def _take(self) -> _Taken | None:
        """The next file to look at: a held one whose twin was settled, else the batch's next."""
        if self.again:
            return self.again.popleft()
        for place, (folder, given, read, sidecar) in self.items:
            if self.progress:
                self.progress(place, self.total)
            self.outcomes.open(place)
            return _Taken(place, folder, given, read, sidecar)
        return None

    def _job(self, taken: _Taken) -> Job | None:
        """The file named, read and checked: a job, or None when it is unchanged, a duplicate, or held
        until a file of the same name or content being prepared is settled."""
        document_id = taken.document_id = PurePosixPath(
            safe_folder(taken.folder), safe_name(taken.given)
        ).as_posix()
        try:
            data = taken.read()
        except OSError as e:
            raise RejectedInput(taken.given, "unreadable", f"cannot read: {e.strerror}") from None
        sha = taken.sha = sha256_bytes(data)
        if document_id in self.out or sha in self.out_shas:
            self.held.append(taken)  # its bytes are read again then
            return None
        target = self.store.target(document_id)  # refused when the way there is a link
        if target.exists():
            if sha256_file(target) != sha:
                raise RejectedInput(
                    taken.given,
                    "name_taken",
                    f"a different file is already stored as {document_id}: "
                    "rename it, or remove the stored one first",
                )
            self._say(taken, Outcome(document_id, "unchanged"))
            return None
        if sha in self.by_sha:
            self._say(taken, Outcome(taken.given, "duplicate", duplicate_of=self.by_sha[sha]))
            return None
        self.out[document_id], self.out_shas[sha] = taken, document_id
        taken.staged = self.stager.submit(self.store.stage, document_id, data)
        return document_id, data, taken.sidecar

    def _settle(self, document_id: str, result: Document | RejectedInput) -> Document | None:
        """A prepared file stored (its document returned), or its rejection said; its twins released."""
        taken = self.out.pop(document_id)
        del self.out_shas[taken.sha]
        if self.held:
            twins = [t for t in self.held if t.document_id == document_id or t.sha == taken.sha]
            self.held = [t for t in self.held if t not in twins]
            self.again.extend(twins)
        if isinstance(result, RejectedInput):
            _discard(taken)
            self._say(taken, Outcome(taken.given, "rejected", Rejection(result.reason_code, result.reason)))
            return None
        if not self._put(taken):
            return None
        self.manifest[document_id] = taken.sha
        self.by_sha[taken.sha] = document_id
        self.added.add(document_id)
        self._say(taken, Outcome(document_id, "added", passages=len(result.passages)))
        return result

    def _put(self, taken: _Taken) -> bool:
        """Name a staged file and store its sidecar; False (and rejected) when its name was taken meanwhile."""
        document_id, sidecar, staged = taken.document_id, taken.sidecar, taken.staged
        mark, taken.staged = len(self.written), None
        try:
            self.written.append(document_id)  # before the link: an interrupt in between is undone too
            if staged is not None:  # always: staged when its job was made
                staged.result().commit()
            if sidecar is not None:
                self.written.append(document_id + metadata.SIDECAR_SUFFIX)
                self.store.put(document_id + metadata.SIDECAR_SUFFIX, sidecar)
        except RejectedInput as e:  # name taken or folder linked meanwhile: what is there is not ours
            for name in self.written[mark:-1]:  # only what this file stored before the refusal
                (self.store.root / name).unlink()
            del self.written[mark:]
            self._say(taken, Outcome(taken.given, "rejected", Rejection(e.reason_code, e.reason)))
            return False
        return True

    def _say(self, taken: _Taken, outcome: Outcome) -> None:
        self.outcomes.say(taken.place, outcome)


def _discard(taken: _Taken) -> None:
    """Remove the hidden file of a document that will not be stored (once it is written)."""
    staged, taken.staged = taken.staged, None
    if staged is not None:
        with contextlib.suppress(Exception):  # a staging that failed left nothing
            staged.result().discard()


def _then(first: Document, rest: Iterator[Document]) -> Iterator[Document]:
    """`first`, then `rest`, without holding on to `first` (itertools.chain keeps it to the end)."""
    yield first
    del first
    yield from rest


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
