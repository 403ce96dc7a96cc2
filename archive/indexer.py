"""Writing the Whoosh index: full builds beside the live index with an atomic swap, in-place increments.

Layout of `index/`:
    CURRENT            the name of the live generation (replaced atomically with os.replace)
    gen-<stamp>/       a complete Whoosh index plus `meta.json` (schema version, taxonomy, build time)
                       and `copies.npz` (each passage's copies at the last commit, copylinks.py)
    gen-<stamp>.tmp/   a generation being built: never read, removed when found stale
    write.lock         held (flock) by whoever writes: a crash releases it with the process

Every document is stored as one record (`kind=d`, its metadata and fingerprint) and its passages
(`kind=p`, see `schema.records`), committed together, atomically, through `archive.codec.writer.Writer`
(Whoosh's segment writer with a faster road to the same files); only Whoosh's public interface here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.writing import IndexWriter

from . import copylinks, lexicon, parallel
from .codec import writer as codec_writer
from .errors import IndexMissing
from .models import Document
from .schema import SCHEMA_VERSION, build_schema, records
from .vocabulary import Vocabulary

CURRENT = "CURRENT"
_META = "meta.json"

Progress = Callable[[int], None]


def live_generation(index_dir: Path) -> Path | None:
    """The directory of the live generation, or None when no index was ever completed."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    path = index_dir / name
    return path if name and path.is_dir() else None


def read_meta(generation: Path) -> dict[str, Any]:
    """A generation's `meta.json` (schema version, taxonomy, build time); empty if missing or unreadable."""
    try:
        data = json.loads((generation / _META).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def needs_full_rebuild(index_dir: Path, taxonomy_fingerprint: str) -> str | None:
    """Why the live index cannot be updated in place (missing, other schema, taxonomy or lexicon), or None."""
    generation = live_generation(index_dir)
    if generation is None:
        return "no index yet"
    if (meta := read_meta(generation)).get("schema_version") != SCHEMA_VERSION:
        return f"index schema version {meta.get('schema_version')} differs from {SCHEMA_VERSION}"
    if meta.get("taxonomy") != taxonomy_fingerprint:
        return "the taxonomy changed"
    if meta.get("lexicon") != lexicon.digest():  # another simplemma dictionary, or derivation: other keys
        return "the French lexicon changed"
    return None


PARALLEL_AFTER = 4_000
"""A full build of documents it cannot count beforehand takes a second process once this many passages
are written; one of at least twice as many counted passages starts it at once (it is up in 0.3 s)."""

SEND_AHEAD = 10_000
"""Passages sent to the helper, beyond its share, before this process writes a full segment: about
the seconds that writing takes, so that the helper is not left waiting meanwhile (the split stays a
function of the documents' order and sizes)."""

HELPER_SHARE = 0.5
"""The helper's share of the passages once it runs (0.45 to 0.6 measured at 200,000: all within noise)."""


def build(
    index_dir: Path,
    documents: Iterable[Document],
    taxonomy_fingerprint: str,
    progress: Progress | None = None,
    parallel_after: int | None = PARALLEL_AFTER,
) -> Path:
    """Build a complete new generation beside the live one, then make it live in one rename.

    A share of the documents (`HELPER_SHARE`, by passage count) goes to a second process that writes
    its own segments (`archive.parallel`), from the start or after `parallel_after` passages
    (`_helper_start`; None: never).
    """
    with _fewer_collections():
        return _build(index_dir, documents, taxonomy_fingerprint, progress, parallel_after)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """While a build allocates its millions of objects: collect garbage less often, and never rescan
    what existed before (a corpus held by the caller). 2.5 s of 36 at 200,000 passages held in memory."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _build(
    index_dir: Path,
    documents: Iterable[Document],
    taxonomy_fingerprint: str,
    progress: Progress | None,
    parallel_after: int | None,
) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(index_dir)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    final = index_dir / f"gen-{stamp}"
    tmp = index_dir / f"gen-{stamp}.tmp"
    tmp.mkdir()
    try:
        ix = whoosh_index.create_in(str(tmp), build_schema())
        vocabulary = Vocabulary()
        try:
            segments = _Segments(ix)
            try:
                extra = _write_all(segments, documents, vocabulary, tmp, progress, parallel_after)
            except BaseException:
                segments.cancel()
                raise
            segments.commit(extra)
            copylinks.write(tmp)
        finally:
            ix.close()
        vocabulary.save(tmp)
        _write_meta(tmp, taxonomy_fingerprint)
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _point_to(index_dir, final.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_old(index_dir, keep={final.name})
    return final


def update(
    index_dir: Path,
    changed: Iterable[Document],
    removed: Iterable[str],
    taxonomy_fingerprint: str,
    progress: Progress | None = None,
) -> bool:
    """Replace changed documents and drop removed ones in the live generation, in one Whoosh commit:
    `changed` streams in, then `removed` is read; an error in either cancels. False: nothing to write."""
    generation = live_generation(index_dir)
    if generation is None:
        raise IndexMissing(str(index_dir))
    with contextlib.closing(whoosh_index.open_dir(str(generation))) as ix:
        writer: IndexWriter | None = None
        written: list[str] = []
        try:
            stream = itertools.chain(((d.id, d) for d in changed), ((i, None) for i in removed))
            for document_id, document in stream:
                if writer is None:  # the commit before's copies: only what the change touches is found again
                    previous = copylinks.load(generation, ix.latest_generation())
                    writer, vocabulary = codec_writer.Writer(ix), Vocabulary.load(generation)
                writer.delete_by_term("doc", document_id)
                written.append(document_id)
                if document is not None:
                    _add(writer, document, vocabulary)
                    if progress:
                        progress(1)
            if writer is not None:
                _commit(writer)
        except BaseException:
            if writer is not None and not writer.is_closed:
                writer.cancel()
            raise
        if writer is None:
            return False
        vocabulary.save(generation)  # after the commit: a crash in between only leaves words unexpanded
        _write_meta(generation, taxonomy_fingerprint)
        with contextlib.suppress(Exception):  # derived: without it a search finds the copies itself, and
            copylinks.write(generation, previous, written)  # the commit stands
    return True


_PART = "part"


def _write_all(
    segments: _Segments,
    documents: Iterable[Document],
    vocabulary: Vocabulary,
    generation: Path,
    progress: Progress | None,
    parallel_after: int | None,
) -> list[Any]:
    """Add every document, sharing them with a helper process once `parallel_after` passages are in.

    Returns the helper's segments, moved into `generation` (none without a helper)."""
    helper = None
    mine = theirs = ahead = 0
    start = _helper_start(documents, parallel_after)
    try:
        for document in documents:
            size = _records(document)
            if helper is None and start is not None and mine >= start:
                helper = parallel.Helper(_build_part, generation / _PART)
                mine = 0
            if helper is not None and (
                (segments.full and ahead < SEND_AHEAD) or theirs * (1 - HELPER_SHARE) <= mine * HELPER_SHARE
            ):
                helper.send(document)
                theirs += size
                ahead += size if segments.full else 0
            else:
                segments.add(document, vocabulary)
                mine += size
                ahead = 0
            if progress:
                progress(1)
        if helper is None:
            return []
        helper.end()
        segments.flush()  # while the helper writes its last segment
        helper.finish()
    except BaseException:
        if helper is not None:
            helper.stop()
        raise
    return _adopt_part(generation, vocabulary)


def _helper_start(documents: Iterable[Document], parallel_after: int | None) -> int | None:
    """After how many passages a helper starts (None: no helper). Where the documents are counted
    beforehand, a build of at least twice `parallel_after` passages starts it at once, so that the
    helper is up (0.3 s) by the time it gets work, and a smaller one never starts it."""
    if parallel_after is None or not parallel.worth_it():
        return None
    if not isinstance(documents, Sequence):
        return parallel_after
    total = sum(map(_records, documents))
    return 0 if total >= 2 * parallel_after else None


def _records(document: Document) -> int:
    """A document's index records (one per passage, and its own): what segments and shares count."""
    return len(document.passages) + 1


def _build_part(directory: Path, documents: Iterable[Document]) -> None:
    """In the helper process: documents as committed segments, and their vocabulary, in `directory`."""
    with _fewer_collections():
        _write_part(directory, documents)


def _write_part(directory: Path, documents: Iterable[Document]) -> None:
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), build_schema())
    vocabulary = Vocabulary()
    try:
        segments = _Segments(ix)
        try:
            for document in documents:
                segments.add(document, vocabulary)
        except BaseException:
            segments.cancel()
            raise
        segments.commit()
    finally:
        ix.close()
    vocabulary.save(directory)


def _adopt_part(generation: Path, vocabulary: Vocabulary) -> list[Any]:
    """Move the helper's segments into the generation; their objects, for the table of contents."""
    part = generation / _PART
    segments = codec_writer.segments(part)
    names = [s.segment_id() for s in segments]
    for path in part.iterdir():
        if any(path.name.startswith(name + ".") or path.name.startswith(name + "_") for name in names):
            os.rename(path, generation / path.name)
    vocabulary.merge(Vocabulary.load(part))
    shutil.rmtree(part)
    return segments


SEGMENT_PASSAGES = 50_000
"""A full build commits a segment every this many passages (never merged by the build): its postings, held
until it is written, bound a build's memory, and a term read cold costs a lookup and a block per segment.
A first `add` of 230,000 passages peaked at 545 MB at 100,000, 425 at 50,000, 344 at 25,000; at 200,000
passages a query's first search took 1.00x, 1.07x, 1.13x of 15e13aa's (`make bench-compare`, 5 rounds).
Totals and facets never depend on the cut; equal scores are listed in docnum order, which does."""


class _Segments:
    """The segments of a build: documents go to the current one, committed without merging when full."""

    def __init__(self, ix: Any) -> None:
        self._ix = ix
        self._writer = codec_writer.Writer(ix)
        self._size = 0

    def add(self, document: Document, vocabulary: Vocabulary) -> None:
        """Add a document's records to the current segment, first writing it if it is full."""
        if self.full:
            self.flush()
        _add(self._writer, document, vocabulary)
        self._size += _records(document)

    @property
    def full(self) -> bool:
        """Whether the next document starts a new segment (the current one is written first)."""
        return self._size >= SEGMENT_PASSAGES

    def flush(self) -> None:
        """Write the current segment now (committed without merging) and start another."""
        if self._size:
            _commit(self._writer, merge=False)
            self._writer = codec_writer.Writer(self._ix)
            self._size = 0

    def commit(self, extra: Sequence[Any] = ()) -> None:
        """Commit the last segment, listing `extra` segments (moved into the index) beside all others."""
        _commit(self._writer, mergetype=lambda _writer, segments: [*segments, *extra])

    def cancel(self) -> None:
        """Abandon the segment being written (those already committed stay until the build is removed)."""
        self._writer.cancel()


def _commit(writer: IndexWriter, **how: Any) -> None:
    # A failed commit keeps Whoosh's lock for the life of the process unless cancelled (WHOOSH-NOTES).
    try:
        writer.commit(**how)
    except BaseException:
        writer.cancel()
        raise


def _add(writer: IndexWriter, document: Document, vocabulary: Vocabulary) -> None:
    """Add a document's records (its passages, then its own) and count their words."""
    for record in records(document, vocabulary.add):
        writer.add_document(**record)


def _write_meta(generation: Path, taxonomy_fingerprint: str) -> None:
    meta = {"schema_version": SCHEMA_VERSION, "taxonomy": taxonomy_fingerprint, "lexicon": lexicon.digest()}
    meta["built_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _atomic_write(generation / _META, json.dumps(meta, indent=1))


def _point_to(index_dir: Path, name: str) -> None:
    _atomic_write(index_dir / CURRENT, name + "\n")
    _fsync_dir(index_dir)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_stale(index_dir: Path) -> list[str]:
    """Remove half-built generations and temporary files left by a writer that was killed."""
    removed: list[str] = []
    if not index_dir.is_dir():
        return removed
    for child in index_dir.iterdir():
        if child.name.endswith(".tmp"):
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed.append(child.name)
    return removed


def _remove_old(index_dir: Path, keep: set[str]) -> None:
    """Drop generations older than the previous one: readers of the previous one may still be open."""
    generations = sorted(p for p in index_dir.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in generations[:-2]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
