"""Copy links: each passage's near-duplicates in other documents, found when the index is written.

`duplicates.py` holds the rule (passages sharing a band value are candidates, at most LOOKED_AT of them
checked, a copy when their shingles overlap by OVERLAP). Applied at query time, it reads and shingles the
texts of every candidate of a search's hits: about 0.7 ms of a first search at 200,000 passages. Here the
same rule runs once per Whoosh commit, when the index is written, and its answer is saved beside the
index (`FILE`): a search of that commit reads a passage's copies from it (`Links.of`).

The file is derived and names the commit it describes: a commit without its own (an index written by an
older archive, or read in the moment between a commit and its file) is searched as before, copies found
as hits need them. A full build finds every passage's copies at once, candidates paired in arrays from
the sorted band columns, CHUNK passages at a time (a band value held by more than GROUP passages is left to
the rule itself, its candidates ranked once for all the passages with the same band values). An update
finds again only the passages its change can touch (its new passages and those sharing a band value with
one; a passage with more than LOOKED_AT candidates also when segments were merged or it shares a band
value with a deleted passage, as which candidates it checks depends on their order) and carries the
others over, by document and position, less the passages it removed. The file also names the rule's
settings (`RULE`): another rule's file is not read.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .codec.reader import open_index, segment_ids
from .duplicates import (
    BANDS,
    LOOKED_AT,
    MIN_SHINGLES,
    OVERLAP,
    ROWS,
    SHINGLE,
    Bands,
    Shingles,
    bands,
    checked,
    is_copy,
    ranked,
    shingles,
)
from .idsets import Ids
from .lru import Lru
from .postings import Arrays

FILE = "copies.npz"

RULE = f"shingle={SHINGLE} overlap={OVERLAP} bands={BANDS}x{ROWS} min={MIN_SHINGLES} looked_at={LOOKED_AT} v1"
"""What the saved copies depend on: a file naming another rule is not read (and found again)."""

CHUNK = 1 << 16
"""Passages whose candidate pairs are built at once: at most 31 other passages per band, 16 bytes a pair."""

SIGNATURES_KEPT = 64 * 1024 * 1024
"""Bytes of ranked candidates kept per band values while a commit's crowded passages are found."""

GROUP = 32
"""Passages holding one band value above which its pairs are not built in arrays (a paragraph repeated in
thousands of documents would make millions): each of them is found by the rule itself."""

SHINGLES_KEPT = 64 * 1024 * 1024
"""Bytes of shingles kept while a commit's copies are found (8 per shingle, about 150 per passage)."""

_FIELDS = (
    "docnums",
    "starts",
    "targets",
    "capped",
    "names",
    "name_ends",
    "segment_names",
    "segment_ends",
    "doc",
    "position",
    "target_doc",
    "target_position",
)


@dataclass(frozen=True)
class Links:
    """The copies of the passages of one Whoosh commit: for each passage listed (`docnums`, sorted), its
    copies (`targets[starts[i]:starts[i + 1]]`, docnums in order) and whether it had more than LOOKED_AT
    candidates (`capped`); every passage not listed has none. Each passage and copy is also named by its
    document (an index into the document ids, `names` in UTF-8 one after the other, each ending at its
    `name_ends`) and position, which outlive the commit's docnums; the commit's segments are named the
    same way."""

    commit: int
    docnums: Ids
    starts: Ids
    targets: Ids
    capped: np.ndarray
    names: np.ndarray
    name_ends: Ids
    segment_names: np.ndarray
    segment_ends: Ids
    doc: Ids
    position: Ids
    target_doc: Ids
    target_position: Ids

    def documents(self) -> list[str]:
        """The document ids, in the order `doc` and `target_doc` number them."""
        return _strings(self.names, self.name_ends)

    def segments(self) -> list[str]:
        """The ids of the commit's segments, in docnum order."""
        return _strings(self.segment_names, self.segment_ends)

    def of(self, docnum: int) -> tuple[int, ...]:
        """The copies of a passage of this commit."""
        i = int(np.searchsorted(self.docnums, docnum))
        if i == self.docnums.size or self.docnums[i] != docnum:
            return ()
        return tuple(int(t) for t in self.targets[self.starts[i] : self.starts[i + 1]])


def load(directory: Path, commit: int) -> Links | None:
    """The links saved in a generation's directory if they describe `commit` by RULE, else None (also when
    the file is missing or damaged: it is derived)."""
    try:
        with (directory / FILE).open("rb") as file, np.load(file, allow_pickle=False) as saved:
            if int(saved["commit"]) != commit or str(saved["rule"]) != RULE:
                return None
            return Links(commit, *(saved[name] for name in _FIELDS))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def save(directory: Path, links: Links) -> None:
    """Save links in a generation's directory, replacing the previous commit's in one rename."""
    tmp = directory / f".{FILE}.tmp"
    with tmp.open("wb") as out:
        fields = {name: getattr(links, name) for name in _FIELDS}
        np.savez(out, commit=np.int64(links.commit), rule=np.array(RULE), **fields)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / FILE)


def write(generation: Path, previous: Links | None = None, changed: Iterable[str] = ()) -> None:
    """Find and save the links of the last commit of a generation's index: every passage's, or with
    `previous` (the commit before's) those the `changed` documents can touch. The index is opened without
    mapping its files (`open_index`): the texts read would otherwise count in the writer's memory."""
    with contextlib.closing(open_index(generation)) as ix, contextlib.closing(ix.reader()) as reader:
        commit = reader.generation()
        if commit is None:  # no segment at all: nothing to link
            return
        links = found(Arrays.bare(reader), commit, segment_ids(reader), previous, changed)
    save(generation, links)


def found(
    arrays: Arrays,
    commit: int,
    segments: list[str],
    previous: Links | None = None,
    changed: Iterable[str] = (),
) -> Links:
    """The links of a commit, whose segments are `segments`. With `previous` (the links of the commit
    before, whose documents `changed` were replaced or removed since), only the passages the change can
    touch are found again."""
    near = bands(arrays)
    text = _Texts(arrays)
    todo = near.shared & arrays.live
    carried: dict[int, tuple[int, ...]] = {}
    if previous is not None:
        gone = set(changed)
        new = np.zeros(arrays.doc_count, dtype=np.bool_)
        for name in gone:
            new[arrays.passages(arrays.term("doc", name))] = True
        kept, capped = _carried(arrays, previous, gone)
        touched = near.holding(new) | new
        if segments[: len(previous.segments())] != previous.segments():  # merged: docnums renumbered
            touched[capped] = True
        else:  # the deleted passages are still there, with their band values
            touched[capped[near.holding(arrays.deleted)[capped]]] = True
        carried = {docnum: copies for docnum, copies in kept.items() if not touched[docnum]}
        todo &= touched
    links: dict[int, tuple[int, ...]] = {}
    for start in range(0, arrays.doc_count, CHUNK):
        chunk = np.zeros(arrays.doc_count, dtype=np.bool_)
        chunk[start : start + CHUNK] = todo[start : start + CHUNK]
        if chunk.any():
            links.update(_paired(arrays, near, chunk, text.shingled))
    links.update(carried)
    return _links(arrays, commit, segments, links, text)


def _paired(
    arrays: Arrays, near: Bands, todo: np.ndarray, shingled: Callable[[int], Shingles]
) -> dict[int, tuple[int, ...]]:
    """The copies of the passages in `todo` (a mask), as `duplicates.find` finds them one by one; each
    passage with more than LOOKED_AT candidates maps to a copies tuple marked `_Capped`."""
    n = arrays.doc_count
    owner = arrays.document_of
    firsts, seconds, crowded = near.pairs(GROUP, todo)
    keep = ~crowded[firsts] & arrays.live[seconds] & (owner[firsts] != owner[seconds])
    key, shared = np.unique(firsts[keep] * n + seconds[keep], return_counts=True)
    a, b = key // n, key % n
    order = np.lexsort((b, -shared, a))  # each passage's candidates, most bands shared first, then docnum
    a, b = a[order], b[order]
    starts = np.flatnonzero(np.concatenate(([True], a[1:] != a[:-1]))) if a.size else np.zeros(0, np.int64)
    rank = np.arange(a.size) - np.repeat(starts, np.diff(np.append(starts, a.size)))
    capped = set(a[rank == LOOKED_AT].tolist())
    a, b = a[rank < LOOKED_AT], b[rank < LOOKED_AT]
    pair = np.minimum(a, b) * n + np.maximum(a, b)  # a pair is checked once, whichever side found it
    once = np.unique(pair)
    copy = np.fromiter(
        (is_copy(shingled(int(k // n)), shingled(int(k % n))) for k in once), np.bool_, once.size
    )
    is_pair = copy[np.searchsorted(once, pair)] if pair.size else np.zeros(0, np.bool_)
    out: dict[int, tuple[int, ...]] = {}
    a, b = a[is_pair], b[is_pair]
    order = np.lexsort((b, a))
    for first, second in zip(a[order].tolist(), b[order].tolist(), strict=True):
        out[first] = (*out.get(first, ()), second)
    for docnum in capped:
        out[docnum] = _Capped(out.get(docnum, ()))
    out.update(_crowded(arrays, near, np.flatnonzero(crowded).tolist(), shingled))
    return out


def _crowded(
    arrays: Arrays, near: Bands, docnums: list[int], shingled: Callable[[int], Shingles]
) -> dict[int, tuple[int, ...]]:
    """The copies of passages holding a band value held by more than GROUP passages, by the rule itself;
    the candidates are ranked once per band values (a paragraph repeated in thousands of documents: once,
    not once per copy), then each passage leaves out itself and its own document's."""
    owner = arrays.document_of
    kept: Lru[tuple[int, ...], Ids] = Lru(SIGNATURES_KEPT, lambda ids: ids.nbytes + 100)
    out: dict[int, tuple[int, ...]] = {}
    for docnum in docnums:
        signature = near.signature(docnum)
        ranking = kept.get(signature)
        if ranking is None:  # its others, and itself once per band value: any passage's with these values
            found = np.concatenate((near.others(docnum), np.full(sum(map(bool, signature)), docnum)))
            ranking = kept.put(signature, ranked(found[arrays.live[found]]))
        mine = ranking[(ranking != docnum) & (owner[ranking] != owner[docnum])]
        copies = checked(mine[:LOOKED_AT], docnum, shingled)
        out[docnum] = _Capped(copies) if mine.size > LOOKED_AT else copies
    return out


class _Capped(tuple[int, ...]):
    """The copies of a passage that had more candidates than were checked."""


def _carried(arrays: Arrays, previous: Links, gone: set[str]) -> tuple[dict[int, tuple[int, ...]], Ids]:
    """The previous links of the passages still there, on this commit's docnums, without the copies in
    `gone` documents; and those of them that had more than LOOKED_AT candidates."""
    where: dict[tuple[int, int], int] = {}
    for i, name in enumerate(previous.documents()):
        if name in gone:
            continue
        docnums = arrays.passages(arrays.term("doc", name))
        for docnum, position in zip(docnums.tolist(), arrays.position[docnums].tolist(), strict=True):
            where[(i, position)] = docnum
    carried: dict[int, tuple[int, ...]] = {}
    capped: list[int] = []
    for i, (doc, position) in enumerate(zip(previous.doc.tolist(), previous.position.tolist(), strict=True)):
        docnum = where.get((doc, position))
        if docnum is None:
            continue
        span = slice(previous.starts[i], previous.starts[i + 1])
        targets = zip(
            previous.target_doc[span].tolist(), previous.target_position[span].tolist(), strict=True
        )
        copies = tuple(sorted(where[t] for t in targets if t in where))
        if previous.capped[i]:
            capped.append(docnum)
            copies = _Capped(copies)
        carried[docnum] = copies
    return carried, np.asarray(capped, dtype=np.int64)


def _links(
    arrays: Arrays, commit: int, segments: list[str], links: dict[int, tuple[int, ...]], text: _Texts
) -> Links:
    """Links from each passage's copies (passages without copies left out, unless capped)."""
    listed = sorted(d for d, copies in links.items() if copies or isinstance(copies, _Capped))
    targets = [t for d in listed for t in links[d]]
    starts = np.zeros(len(listed) + 1, dtype=np.int64)
    np.cumsum([len(links[d]) for d in listed], out=starts[1:])
    names: dict[str, int] = {}

    def named(docnums: list[int]) -> tuple[Ids, Ids]:
        docs = [names.setdefault(text.document(d), len(names)) for d in docnums]
        positions: Ids = arrays.position[np.asarray(docnums, dtype=np.int64)].astype(np.int64)
        return np.asarray(docs, dtype=np.int64), positions

    doc, position = named(listed)
    target_doc, target_position = named(targets)
    return Links(
        commit,
        np.asarray(listed, dtype=np.int64),
        starts,
        np.asarray(targets, dtype=np.int64),
        np.asarray([isinstance(links[d], _Capped) for d in listed], dtype=np.bool_),
        *_joined(list(names)),
        *_joined(segments),
        doc,
        position,
        target_doc,
        target_position,
    )


class _Texts:
    """Passages' shingles (kept up to SHINGLES_KEPT bytes) and documents' ids, read from stored fields."""

    def __init__(self, arrays: Arrays) -> None:
        self._arrays = arrays
        self._shingles: Lru[int, Shingles] = Lru(SHINGLES_KEPT, lambda s: 8 * s.size + 100)
        self._documents: dict[int, str] = {}

    def shingled(self, docnum: int) -> Shingles:
        found = self._shingles.get(docnum)
        if found is None:
            stored = self._arrays.stored(docnum)
            self._documents[self._arrays.record_of(docnum)] = str(stored["doc"])  # read: kept
            found = self._shingles.put(docnum, shingles(stored["data"]["text"]))
        return found

    def document(self, docnum: int) -> str:
        record = self._arrays.record_of(docnum)
        name = self._documents.get(record)
        if name is None:
            name = self._documents[record] = str(self._arrays.stored(record)["doc"])
        return name


def _joined(strings: list[str]) -> tuple[np.ndarray, Ids]:
    """Strings as their UTF-8 bytes one after the other, and where each ends (`_strings` reads them)."""
    encoded = [string.encode("utf-8") for string in strings]
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), np.cumsum(
        [len(e) for e in encoded], dtype=np.int64
    )


def _strings(data: np.ndarray, ends: Ids) -> list[str]:
    """The strings `_joined` gave."""
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8") for a, b in itertools.pairwise([0, *ends.tolist()])]
