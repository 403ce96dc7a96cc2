"""Near-duplicate passages: the same text in several documents (syndicated copies, a republished communiqué).

At index time each passage gets a few LSH band keys of a MinHash of its word shingles (`keys`), indexed as
terms of their own field (`FIELD`); nothing else is stored, so nothing is precomputed across passages and
an incremental `archive add` needs no pass over the old ones: a new copy and its original find each other
through the shared terms at query time. At query time the passages sharing a band key with a listed hit
are its candidates, and a candidate is a copy when the shingles of the two texts overlap by OVERLAP at
least (computed exactly, from the stored texts that the links to the copies need anyway).

A results list shows a passage once: a passage that is a copy of one listed higher is left out, and the
one listed says in which other documents its text also stands (`Hit.duplicates`). Why a MinHash of our
own rather than `datasketch`'s: see docs/web.md, "Near-duplicates".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .generations import Generation

FIELD = "near"
"""The index field holding a passage's band keys (not a field a query may name)."""

SHINGLE = 3
"""Words per shingle: a changed word changes three shingles, a changed 10-word sentence twelve."""

OVERLAP = 0.9
"""Two passages are copies when the shingles they share are this share of the larger one's at least: a
passage of 150 words with one sentence of up to about 12 words rewritten is a copy of the original; one
sharing half its text is not."""

BANDS, ROWS = 8, 4
"""LSH bands of the MinHash (BANDS x ROWS hash functions): two passages become candidates when all ROWS
minima of one band agree. At a Jaccard similarity of 0.82 (OVERLAP between passages of equal size) they
do with probability 1 - (1 - 0.82^4)^8 = 0.992, at 0.9 with 0.9998, at 0.5 with 0.41 (then the exact
check says no), and two unrelated passages (0.03) almost never (6e-6)."""

MIN_SHINGLES = 8
"""A passage of fewer shingles (about 10 words: a heading, a signature) gets no keys: two such passages
being alike says little, and a list must not merge every "Article 1er"."""

LOOKED_AT = 50
"""Candidates checked per passage at most (those sharing the most bands first): what a passage repeated
in thousands of documents costs a search. The copies counted are then the ones checked."""

WINDOW = 100
"""A list is merged over its first WINDOW passages (ten pages of ten): deeper passages are listed as ranked,
so that a page far down the list does not read every text above it."""

_constants = np.random.default_rng(1414).integers(
    1, 1 << 63, size=(2, BANDS * ROWS + SHINGLE + ROWS), dtype=np.uint64
)
_MULTIPLY = _constants[0, : BANDS * ROWS] | np.uint64(1)  # odd: multiply-shift hashing
_ADD = _constants[1, : BANDS * ROWS]
_MIX = _constants[0, BANDS * ROWS : BANDS * ROWS + SHINGLE] | np.uint64(1)  # a shingle's words into one hash
_BAND = _constants[1, BANDS * ROWS : BANDS * ROWS + ROWS] | np.uint64(1)  # a band's minima into one key

Shingles = npt.NDArray[np.uint64]


def shingles(text: str) -> Shingles:
    """The distinct hashed word shingles of a text, sorted. A word is a run of letters and digits (any
    non-ASCII character counts as a letter), lowercase; punctuation and spacing are ignored."""
    data = np.frombuffer(text.lower().encode("utf-8"), dtype=np.uint8)
    inside = _LETTER[data]
    edges = np.flatnonzero(np.diff(np.concatenate(([False], inside, [False])).astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    if starts.size < SHINGLE:
        return np.zeros(0, dtype=np.uint64)
    powers, inverses = _powers(data.size + 1)
    prefix = np.concatenate(([np.uint64(0)], np.cumsum(data * powers[: data.size], dtype=np.uint64)))
    words = (prefix[ends] - prefix[starts]) * inverses[starts]  # a polynomial hash of each word's bytes
    n = words.size - SHINGLE + 1
    hashed = words[:n] * _MIX[0]
    for i in range(1, SHINGLE):
        hashed = hashed ^ (words[i : i + n] * _MIX[i])  # uint64 arrays wrap around: a hash, not a number
    hashed.sort()
    distinct_: Shingles = hashed[np.concatenate(([True], hashed[1:] != hashed[:-1]))]  # np.unique, faster
    return distinct_


_LETTER = np.zeros(256, dtype=np.bool_)
_LETTER[np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)] = True  # after lower()
_LETTER[0x80:] = True  # the bytes of a non-ASCII character (an accented letter, mostly)
_BASE = 1_000_003  # odd, so invertible modulo 2**64
_held: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = []


def _powers(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """_BASE ** i and its inverse modulo 2**64 for i < n at least (computed once, grown when a text is longer)."""
    if not _held or _held[0][0].size < n:
        size = max(n, 4096, 2 * _held[0][0].size if _held else 0)
        one = np.ones(1, dtype=np.uint64)
        powers = np.cumprod(np.full(size, _BASE, dtype=np.uint64), dtype=np.uint64)
        inverses = np.cumprod(np.full(size, pow(_BASE, -1, 1 << 64), dtype=np.uint64), dtype=np.uint64)
        _held[:] = [(np.concatenate((one, powers[:-1])), np.concatenate((one, inverses[:-1])))]
    return _held[0]


def keys(text: str) -> list[str]:
    """The band keys of a passage's text (none for a short one): what `FIELD` indexes."""
    return band_keys(shingles(text))


def band_keys(hashed: Shingles) -> list[str]:
    """The band keys of a passage's shingles: `<band><12 hex digits>`, one per band."""
    if hashed.size < MIN_SHINGLES:
        return []
    minima = ((hashed[None, :] * _MULTIPLY[:, None] + _ADD[:, None]) >> np.uint64(32)).min(axis=1)
    bands = (minima.reshape(BANDS, ROWS) * _BAND[None, :]).sum(axis=1, dtype=np.uint64) >> np.uint64(16)
    return [f"{b:x}{int(v):012x}" for b, v in enumerate(bands)]


def overlap(a: Shingles, b: Shingles) -> float:
    """The shingles two passages share, as a share of the larger one's (0 when either has none)."""
    if not a.size or not b.size:
        return 0.0
    return np.intersect1d(a, b, assume_unique=True).size / max(a.size, b.size)


Ranked = list[tuple[int, float]]


class Copies:
    """The copies of passages of one generation, found once per search (a passage's stored fields, its
    shingles and its copies are kept for the search's life)."""

    def __init__(self, gen: Generation) -> None:
        self._gen = gen
        self._stored: dict[int, dict[str, Any]] = {}
        self._shingles: dict[int, Shingles] = {}
        self._copies: dict[int, list[int]] = {}

    def stored(self, docnum: int) -> dict[str, Any]:
        """A passage's stored fields."""
        found = self._stored.get(docnum)
        if found is None:
            found = self._stored[docnum] = self._gen.searcher.stored_fields(docnum)
        return found

    def _shingled(self, docnum: int) -> Shingles:
        found = self._shingles.get(docnum)
        if found is None:
            found = self._shingles[docnum] = shingles(self.stored(docnum)["data"]["text"])
        return found

    def of(self, docnum: int) -> list[int]:
        """The live passages of other documents whose text is a copy of `docnum`'s (in docnum order)."""
        found = self._copies.get(docnum)
        if found is None:
            found = self._copies[docnum] = self._find(docnum)
        return found

    def _find(self, docnum: int) -> list[int]:
        mine = self._shingled(docnum)
        postings = [self._gen.arrays.term(FIELD, key) for key in band_keys(mine)]
        if not postings:
            return []
        candidates, shared = np.unique(np.concatenate(postings), return_counts=True)
        owner = self._gen.arrays.document_of
        others = owner[candidates] != owner[docnum]  # a document repeating itself is crowding's business
        candidates, shared = candidates[others], shared[others]
        checked = candidates[np.argsort(-shared, kind="stable")[:LOOKED_AT]]
        return sorted(int(c) for c in checked if overlap(mine, self._shingled(int(c))) >= OVERLAP)

    def merged(self, ranked: Ranked) -> Ranked:
        """`ranked` without the passages that are copies of one kept higher in it (of another document)."""
        kept: Ranked = []
        shown: set[int] = set()
        for docnum, score in ranked:
            if not shown.isdisjoint(self.of(docnum)):
                continue
            kept.append((docnum, score))
            shown.add(docnum)
        return kept

    def documents(self, docnum: int) -> list[tuple[str, int, str]]:
        """The other documents holding a copy of a passage: (id, position of the copy, title), the first
        copy of each document, in docnum order."""
        seen: dict[str, tuple[str, int, str]] = {}
        for other in self.of(docnum):
            stored = self.stored(other)
            document = stored["doc"]
            if document in seen:
                continue
            record = self._gen.record(self._gen.arrays.record_of(other))
            seen[document] = (document, int(stored["data"]["position"]), record.get("title") or document)
        return list(seen.values())


def distinct(rank: Callable[[int], Ranked], needed: int, copies: Copies) -> Ranked:
    """The first `needed` passages of a list without the copies of passages listed higher (over its first
    WINDOW passages; past them, as ranked). `rank(n)` gives the first n of the list as ranked."""
    n = needed
    while True:
        ranked = rank(n)
        out = copies.merged(ranked[:WINDOW]) + ranked[WINDOW:]
        if len(out) >= needed or len(ranked) < n:
            return out[:needed]
        n = max(2 * n, needed + (n - len(out)))


def joined(keys_: Iterable[str]) -> str:
    """Band keys as the comma-separated value of `FIELD`."""
    return ",".join(keys_)
