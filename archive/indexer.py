"""Writing the Whoosh index: full builds beside the live index with an atomic swap, in-place increments.

Layout of `index/`:
    CURRENT            the name of the live generation (replaced atomically with os.replace)
    gen-<stamp>/       a complete Whoosh index plus `meta.json` (schema version, taxonomy, build time)
    gen-<stamp>.tmp/   a generation being built: never read, removed when found stale
    write.lock         held (flock) by whoever writes: a crash releases it with the process

Every document is stored as one record (`kind=d`, its metadata and fingerprint) and its passages
(`kind=p`), so what is indexed and how it was indexed are committed together, atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.util.numeric import byte_to_length
from whoosh.writing import IndexWriter, SegmentWriter

from .analysis import Analyzed
from .errors import IndexMissing
from .models import Document
from .schema import DOCUMENT, PASSAGE, SCHEMA_VERSION, build_schema
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
    try:
        data = json.loads((generation / _META).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def needs_full_rebuild(index_dir: Path, taxonomy_fingerprint: str) -> str | None:
    """Why the live index cannot be updated in place (missing, other schema, other taxonomy), or None."""
    generation = live_generation(index_dir)
    if generation is None:
        return "no index yet"
    meta = read_meta(generation)
    if meta.get("schema_version") != SCHEMA_VERSION:
        return f"index schema version {meta.get('schema_version')} differs from {SCHEMA_VERSION}"
    if meta.get("taxonomy") != taxonomy_fingerprint:
        return "the taxonomy changed"
    return None


def build(
    index_dir: Path,
    documents: Iterable[Document],
    taxonomy_fingerprint: str,
    progress: Progress | None = None,
) -> Path:
    """Build a complete new generation beside the live one, then make it live in one rename."""
    index_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(index_dir)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    final = index_dir / f"gen-{stamp}"
    tmp = index_dir / f"gen-{stamp}.tmp"
    tmp.mkdir()
    try:
        ix = whoosh_index.create_in(str(tmp), build_schema())
        vocabulary = Vocabulary()
        writer = _Writer(ix, limitmb=256)
        try:
            for document in documents:
                _add(writer, document, vocabulary)
                if progress:
                    progress(1)
            _commit(writer, optimize=True)
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
) -> None:
    """Replace changed documents and drop removed ones in the live generation, in one Whoosh commit."""
    generation = live_generation(index_dir)
    if generation is None:
        raise IndexMissing(str(index_dir))
    ix = whoosh_index.open_dir(str(generation))
    vocabulary = Vocabulary.load(generation)
    try:
        writer = _Writer(ix, limitmb=128)
        try:
            for document_id in removed:
                writer.delete_by_term("doc", document_id)
            for document in changed:
                writer.delete_by_term("doc", document.id)
                _add(writer, document, vocabulary)
                if progress:
                    progress(1)
        except BaseException:
            writer.cancel()
            raise
        _commit(writer)
    finally:
        ix.close()
    vocabulary.save(generation)  # after the commit: a crash in between only leaves words unexpanded
    _write_meta(generation, taxonomy_fingerprint)


class _Writer(SegmentWriter):  # type: ignore[misc]
    """Whoosh's segment writer, with field lengths read once per field when postings are written.

    Whoosh looks up the length of every posting's field in the new segment, and for fields that keep no
    lengths (IDs, keywords) it asks the file system whether the column exists, once per posting: a third
    of the build time here. The answers do not change while the segment is written.
    """

    def per_document_reader(self) -> Any:
        return _Lengths(super().per_document_reader())


class _Lengths:
    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._columns: dict[str, tuple[bytes, int] | None] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        if fieldname not in self._columns:
            column = self._reader._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
            self._columns[fieldname] = (
                None
                if column is None
                else (column._dbfile.get(column._basepos, column._count), column._count)
            )
        found = self._columns[fieldname]
        if found is None or docnum >= found[1]:
            return default
        return int(_LENGTHS[found[0][docnum]])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


_LENGTHS = [byte_to_length(b) for b in range(256)]


def _commit(writer: IndexWriter, optimize: bool = False) -> None:
    # A failed commit keeps Whoosh's lock for the life of the process unless cancelled (WHOOSH-NOTES).
    try:
        writer.commit(optimize=optimize)
    except BaseException:
        writer.cancel()
        raise


def _add(writer: IndexWriter, document: Document, vocabulary: Vocabulary) -> None:
    meta = document.metadata
    title = Analyzed(meta.title)
    vocabulary.add(title.words())
    year = str(meta.year) if meta.year else None
    common: dict[str, Any] = {"doc": document.id}
    if meta.source:
        common["source"] = meta.source
    if meta.type:
        common["type"] = meta.type
    if year:
        common["year"] = year
    if meta.date:
        common["date"] = meta.date
    for p in document.passages:
        content = Analyzed(p.text)
        vocabulary.add(content.words())
        agency = _merge(p.agency, meta.agency)
        offence = _merge(p.offence, meta.offence)
        writer.add_document(
            kind=PASSAGE,
            id=p.id,
            content=content,
            title=title,
            section=p.section,
            agency=",".join(agency),
            offence=",".join(offence),
            position=p.position,
            data={
                "position": p.position,
                "section": p.section,
                "text": p.text,
                "start": p.start,
                "end": p.end,
                "agency": agency,
                "offence": offence,
            },
            **common,
        )
    writer.add_document(
        kind=DOCUMENT,
        id=document.id,
        doc=document.id,
        data={
            "sha256": document.sha256,
            "fingerprint": document.fingerprint,
            "format": document.format,
            "size": document.size,
            "passages": len(document.passages),
            "title": meta.title,
            "date": meta.date,
            "source": meta.source,
            "type": meta.type,
            "language": meta.language,
            "description": meta.description,
            "url": meta.url,
            "explicit_agency": list(meta.agency),
            "explicit_offence": list(meta.offence),
            "agency": list(document.agency),
            "offence": list(document.offence),
            "indexed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys((*a, *b)))


def _write_meta(generation: Path, taxonomy_fingerprint: str) -> None:
    meta = {
        "schema_version": SCHEMA_VERSION,
        "taxonomy": taxonomy_fingerprint,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
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
