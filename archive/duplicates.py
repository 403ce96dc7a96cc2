"""Near-duplicate passages: the same text in several documents (syndicated copies, a republished communiqué).

When a passage is written it gets the LSH band values of a MinHash of its word shingles (`keys`), one
4-byte number per band in numeric columns of their own (`COLUMNS`; sorted once per commit, `Bands`).
The passages sharing a band value with a passage are its candidates (`candidates`), and a candidate is a
copy when the shingles of the two texts overlap by OVERLAP at least (`find`: computed exactly, from the
stored texts). After each commit, copylinks.py applies this rule to the passages the commit can have
changed and saves what it finds beside the index; a search reads a passage's copies from there (`Copies`),
or, for a commit without them, applies the rule itself and keeps what it found for the commit's life.
Columns rather than indexed terms: 8 terms of their own per passage grew the index by half (docs/web.md,
"Near-duplicates").

A results list shows a passage once: a passage that is a copy of one listed higher is left out, and the
one listed says in which other documents its text also stands (`Hit.duplicates`). Why a MinHash of our
own rather than `datasketch`'s: see docs/web.md, "Near-duplicates".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .codec.reader import numeric_column
from .idsets import Ids
from .lru import Lru

if TYPE_CHECKING:
    from .generations import Generation
    from .postings import Arrays

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

COLUMNS = tuple(f"near{band}" for band in range(BANDS))
"""The numeric columns holding a passage's band values (0: none, a short passage)."""

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
    1, 1 << 63, size=SHINGLE + ROWS, dtype=np.uint64
) | np.uint64(1)
_MIX = _constants[:SHINGLE]  # odd multipliers: a shingle's words into one hash
_BAND = _constants[SHINGLE:]  # a band's minima into one value
_BINS = np.arange(BANDS * ROWS, dtype=np.uint64) << np.uint64(64 - 5)  # where each bin starts
if BANDS * ROWS != 32:
    raise ValueError("_BINS cuts the hashes into 32 bins by their top 5 bits")

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


def keys(text: str) -> list[int]:
    """The band values of a passage's text (none for a short one): what `COLUMNS` hold."""
    return band_values(shingles(text))


def band_values(hashed: Shingles) -> list[int]:
    """The band values of a passage's shingles, one per band: 32-bit numbers, 0 for a band it has none of."""
    if hashed.size < MIN_SHINGLES:
        return []
    # one-permutation MinHash: the sorted hashes cut into BANDS x ROWS bins by their top bits, the least of
    # each bin (its first) standing for one hash function's minimum. A band with an empty bin has no value
    # (0): short passages would otherwise all share the band of four empty bins.
    starts = np.searchsorted(hashed, _BINS)
    ends = np.append(starts[1:], hashed.size)
    minima = hashed[np.minimum(starts, hashed.size - 1)].reshape(BANDS, ROWS)
    full: list[bool] = np.all(np.reshape(starts < ends, (BANDS, ROWS)), axis=1).tolist()
    bands = (minima * _BAND[None, :]).sum(axis=1, dtype=np.uint64) >> np.uint64(32)
    return [int(v) % 0xFFFFFFFF + 1 if ok else 0 for v, ok in zip(bands, full, strict=True)]


KEPT = 1 << 16
"""Copies kept per index generation (`Bands.kept`), counted in passages (a passage with n copies counts
n + 1): about 150 bytes each, 10 MB at most."""


class Bands:
    """The band values of every passage of one index generation, and each column sorted: the passages
    holding a passage's values are found by bisection, without reading its text. 12 bytes per passage and
    band (96 per passage: 19 MB at 200,000 passages), built at the first search that merges copies; a passage
    sharing no value with another (most) is told at once.

    The copies found of a passage are kept too (`kept`, least recently used first out, under `lock`): they
    depend on the generation only, and a list read again (its next page, another search reaching the same
    passages) then reads no text."""

    def __init__(self, arrays: Arrays) -> None:
        self.kept: Lru[int, tuple[int, ...]] = Lru(KEPT, lambda found: 1 + len(found))
        self.lock = threading.Lock()
        n = arrays.doc_count
        columns = [numeric_column(arrays.reader, n, name, ">u4").astype(np.uint32) for name in COLUMNS]
        self._values = np.stack(columns, axis=1) if columns else np.zeros((n, 0), dtype=np.uint32)
        self._order = [np.argsort(c, kind="stable").astype(np.int32) for c in columns]
        self._sorted = [c[o] for c, o in zip(columns, self._order, strict=True)]
        # whether a passage shares some band value with another: most share none, and are answered at once
        self._shared = np.zeros(n, dtype=bool)
        for column, order in zip(self._sorted, self._order, strict=True):
            same = (column[1:] == column[:-1]) & (column[1:] != 0)
            self._shared[order[1:][same]] = True
            self._shared[order[:-1][same]] = True

    @property
    def shared(self) -> npt.NDArray[np.bool_]:
        """Whether each passage shares some band value with another."""
        return self._shared

    def holding(self, chosen: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """The passages sharing a band value with one of the `chosen` (a mask), the chosen among them
        when they share one with each other."""
        out = np.zeros(self._shared.size, dtype=np.bool_)
        for column, order, values in zip(self._sorted, self._order, self._values.T, strict=True):
            wanted = np.unique(values[chosen])
            out[order[np.isin(column, wanted[wanted != 0])]] = True
        return out

    def pairs(self, limit: int, chosen: npt.NDArray[np.bool_]) -> tuple[Ids, Ids, npt.NDArray[np.bool_]]:
        """Every (chosen passage, other passage) sharing a band value, once per band shared, for the values
        held by `limit` passages at most; and the chosen passages holding a value held by more (no pairs
        built for them)."""
        firsts, seconds = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        crowded = np.zeros(self._shared.size, dtype=np.bool_)
        for column, order in zip(self._sorted, self._order, strict=True):
            if not column.size:
                continue
            starts = np.concatenate(([0], np.flatnonzero(column[1:] != column[:-1]) + 1))
            sizes = np.diff(np.append(starts, column.size))
            wanted = (sizes > 1) & (column[starts] != 0) & (np.add.reduceat(chosen[order], starts) > 0)
            for start, size in zip(
                starts[wanted & (sizes > limit)], sizes[wanted & (sizes > limit)], strict=True
            ):
                crowded[order[start : start + size]] = True
            for size in np.unique(sizes[wanted & (sizes <= limit)]).tolist():
                members = order[starts[wanted & (sizes == size)][:, None] + np.arange(size)].astype(np.int64)
                first, second = np.repeat(members, size, axis=1), np.tile(members, (1, size))
                keep = (first != second) & chosen[first]
                firsts.append(first[keep])
                seconds.append(second[keep])
        return np.concatenate(firsts), np.concatenate(seconds), crowded & chosen

    def signature(self, docnum: int) -> tuple[int, ...]:
        """A passage's band values: passages with the same have the same candidates, but for themselves."""
        return tuple(self._values[docnum].tolist())

    def others(self, docnum: int) -> Ids:
        """The docnums sharing a band value with `docnum`, once per band shared (itself left out)."""
        if not self._shared[docnum]:
            return _NONE
        out = []
        for column, order, value in zip(self._sorted, self._order, self._values[docnum], strict=True):
            if value:
                out.append(
                    order[np.searchsorted(column, value, "left") : np.searchsorted(column, value, "right")]
                )
        found: Ids = np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)
        others: Ids = found[found != docnum]
        return others


_NONE: Ids = np.zeros(0, dtype=np.int64)
_building = threading.Lock()


def bands(arrays: Arrays) -> Bands:
    """The `Bands` of a generation's arrays, built once."""
    with _building:
        if arrays.near is None:
            arrays.near = Bands(arrays)
        built: Bands = arrays.near
        return built


def overlap(a: Shingles, b: Shingles) -> float:
    """The shingles two passages share, as a share of the larger one's (0 when either has none)."""
    if not a.size or not b.size:
        return 0.0
    small, large = (a, b) if a.size <= b.size else (b, a)
    at = np.minimum(np.searchsorted(large, small), large.size - 1)  # both sorted, each hash once
    return int(np.count_nonzero(large[at] == small)) / large.size


def is_copy(a: Shingles, b: Shingles) -> bool:
    """Whether two passages overlap by OVERLAP at least; told from their sizes alone when these differ
    more (they share no more shingles than the smaller holds)."""
    return min(a.size, b.size) >= OVERLAP * max(a.size, b.size) and overlap(a, b) >= OVERLAP


def find(arrays: Arrays, near: Bands, docnum: int, shingled: Callable[[int], Shingles]) -> tuple[int, ...]:
    """The live passages of other documents whose text is a copy of `docnum`'s, in docnum order: its first
    LOOKED_AT `candidates` are checked, from their `shingled` texts."""
    return checked(candidates(arrays, near, docnum)[:LOOKED_AT], docnum, shingled)


def candidates(arrays: Arrays, near: Bands, docnum: int) -> Ids:
    """The live passages of other documents sharing a band value with `docnum` (a document repeating
    itself is crowding's business), those sharing the most bands first, then in docnum order."""
    found = near.others(docnum)
    if found.size:  # most passages share none: no text read, no shingle computed
        owner = arrays.document_of
        found = found[arrays.live[found] & (owner[found] != owner[docnum])]
    return ranked(found)


def ranked(found: Ids) -> Ids:
    """Docnums found once per band they share with a passage, each once: those sharing the most bands
    first, then in docnum order."""
    if not found.size:
        return found
    unique, shared = np.unique(found, return_counts=True)
    out: Ids = unique[np.argsort(-shared, kind="stable")]
    return out


def checked(among: Ids, docnum: int, shingled: Callable[[int], Shingles]) -> tuple[int, ...]:
    """The passages `among` whose text is a copy of `docnum`'s, in docnum order."""
    if not among.size:
        return ()
    mine = shingled(docnum)
    return tuple(sorted(int(c) for c in among if is_copy(mine, shingled(int(c)))))


Ranked = list[tuple[int, float]]


class Copies:
    """The copies of passages of one generation, for one search: read from the links saved when the
    commit was written (copylinks.py), or else found once per generation (`Bands.kept`), the stored fields
    and shingles they need read once per search."""

    def __init__(self, gen: Generation) -> None:
        self._gen = gen
        self._stored: dict[int, dict[str, Any]] = {}
        self._shingles: dict[int, Shingles] = {}
        self._copies: dict[int, tuple[int, ...]] = {}

    def stored(self, docnum: int) -> dict[str, Any]:
        """A passage's stored fields."""
        found = self._stored.get(docnum)
        if found is None:
            found = self._stored[docnum] = self._gen.stored(docnum)
        return found

    def _shingled(self, docnum: int) -> Shingles:
        found = self._shingles.get(docnum)
        if found is None:
            found = self._shingles[docnum] = shingles(self.stored(docnum)["data"]["text"])
        return found

    def of(self, docnum: int) -> tuple[int, ...]:
        """The live passages of other documents whose text is a copy of `docnum`'s (in docnum order)."""
        found = self._copies.get(docnum)
        if found is None:
            found = self._copies[docnum] = self._find(docnum)
        return found

    def _find(self, docnum: int) -> tuple[int, ...]:
        links = self._gen.links  # found when the index was written (copylinks.py)
        if links is not None:
            return links.of(docnum)
        arrays = self._gen.arrays
        near = bands(arrays)
        with near.lock:
            kept = near.kept.get(docnum)
        if kept is not None:
            return kept
        copies = find(arrays, near, docnum, self._shingled)
        with near.lock:
            near.kept.put(docnum, copies)
        return copies

    def merged(self, ranked: Ranked) -> Ranked:
        """`ranked` without the passages that are copies of one kept higher in it (of another document),
        over its first WINDOW passages; past them, as ranked."""
        kept: Ranked = []
        shown: set[int] = set()
        for docnum, score in ranked[:WINDOW]:
            if not shown.isdisjoint(self.of(docnum)):
                continue
            kept.append((docnum, score))
            shown.add(docnum)
        return kept + ranked[WINDOW:]

    def documents(self, docnum: int) -> list[tuple[str, int, str]]:
        """The other documents holding a copy of a passage: (id, position of the copy, title), the first
        copy of each document, in docnum order."""
        arrays = self._gen.arrays
        seen: dict[int, tuple[str, int, str]] = {}
        for other in self.of(docnum):
            record = arrays.record_of(other)
            if record not in seen:  # the document's record only: not the copy's text
                stored = self.stored(record)
                document = stored["doc"]
                seen[record] = (
                    document,
                    int(arrays.position[other]),
                    stored["data"].get("title") or document,
                )
        return list(seen.values())


def distinct(rank: Callable[[int], Ranked], needed: int, copies: Copies) -> Ranked:
    """The first `needed` passages of a list without the copies of passages listed higher (`Copies.merged`).
    `rank(n)` gives the first n of the list as ranked."""
    n = needed
    while True:
        ranked = rank(n)
        out = copies.merged(ranked)
        if len(out) >= needed or len(ranked) < n:
            return out[:needed]
        n = max(2 * n, needed + (n - len(out)))
