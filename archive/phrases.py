"""Phrases over posting lists: the words a phrase query chains, and their verification from positions.

A phrase is matched in two steps: the docnums holding every word (an intersection of posting lists),
then, in each of those candidates, whether the words stand at their offsets from the first one. The
second step works on whole arrays: each word's positions in the candidates become (candidate, where the
phrase would start) keys, and the keys every word has are the matches. A sloppy phrase (a word may
stand within a range of distances from the previous one) follows the words one after another instead:
the positions of a word kept are those with a kept position of the previous word within reach. It runs
over `CHECK_EVERY` candidates at a time and looks at the `Deadline` before each word, so that it stops
soon after it passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .idsets import Ids

if TYPE_CHECKING:
    from .deadline import Deadline

Chain = tuple[tuple[str, str, int, int], ...]
"""A phrase: each (field, key) with the least and the most positions it stands after the previous word
((0, 0) for the first word; both equal for every word of an exact phrase)."""

CHECK_EVERY = 4096
"""Phrase candidates verified together. The clock is looked at before each word of each run, and a run
cut short counts as not verified: a cut wastes one word over this many candidates at most, 3 ms here
when all 4,096 are still in the running (a 64-word phrase of 4 positions per word and candidate)."""

Positions = tuple[npt.NDArray[np.uint32], Ids]
"""A term's positions in each of its postings: all in one array, and where each posting's positions
start in it, then the end (`codec.reader.position_lists`)."""


@dataclass(frozen=True)
class Word:
    """One word of a phrase in each candidate: candidate j holds it at `positions[lo[j]:lo[j] + count[j]]`,
    and the phrase wants it `offset` words after its first word."""

    positions: npt.NDArray[np.uint32]
    lo: Ids
    count: Ids
    offset: int

    @classmethod
    def of(cls, term: Positions, ids: Ids, candidates: Ids, offset: int) -> Word:
        """A word whose term has these `ids` (sorted, a superset of `candidates`) and positions."""
        positions, starts = term
        where = np.searchsorted(ids, candidates)
        lo = starts[where]
        return cls(positions, lo, starts[where + 1] - lo, offset)

    def starts(self, a: int, b: int, among: Ids | None = None) -> Ids:
        """Candidates a:b's (candidate - a, phrase start) keys, as `candidate << 32 | start`, sorted and
        unique: where the phrase would start in each candidate if this word is at its place. With
        `among`, only those candidates (as numbers from a, sorted) are looked at."""
        lo, count = self.lo[a:b], self.count[a:b]
        owners = np.arange(b - a, dtype=np.int64)
        if among is not None:
            lo, count, owners = lo[among], count[among], among
        total = int(count.sum())
        owner = np.repeat(owners, count)
        first = np.repeat(lo - (np.cumsum(count) - count), count)  # where each owner's run begins
        start = self.positions[first + np.arange(total)].astype(np.int64) - self.offset
        placed = start >= 0
        keys: Ids = np.unique((owner[placed] << 32) | start[placed])  # a position may repeat
        return keys


def exact(chain: Chain) -> bool:
    """Whether every word of a phrase stands at one distance from the previous one."""
    return all(low == high for _, _, low, high in chain)


def offsets(chain: Chain) -> list[int]:
    """Each word's offset from the first word in an exact phrase; 0 for every word of a sloppy one
    (its words are placed one after another, see `verify`)."""
    if not exact(chain):
        return [0] * len(chain)
    out: list[int] = []
    total = 0
    for _, _, low, _ in chain:
        total += low
        out.append(total)
    return out


def verify(
    words: list[Word], count: int, deadline: Deadline | None, reach: list[tuple[int, int]] | None = None
) -> tuple[npt.NDArray[np.bool_], int]:
    """Whether each of `count` candidates holds every word at its offset from the first word (with
    `reach`, each word after the first between its least and most positions after the previous one),
    and how many candidates were verified before the `deadline` (the rest are left False)."""
    keep = np.zeros(count, dtype=np.bool_)
    for a in range(0, count, CHECK_EVERY):
        b = min(a + CHECK_EVERY, count)
        found = _held(words, a, b, deadline) if reach is None else _reached(words, reach, a, b, deadline)
        if found is None:
            return keep, a
        keep[a + (found >> 32)] = True
    return keep, count


def _reached(
    words: list[Word], reach: list[tuple[int, int]], a: int, b: int, deadline: Deadline | None
) -> Ids | None:
    """The (candidate - a) << 32 | position keys of the last word of a sloppy phrase in candidates a:b,
    where each word before it stands within its reach; None when the deadline passed first."""
    if deadline is not None and deadline.expired():
        return None
    ends = words[0].starts(a, b)
    for word, (low, high) in zip(words[1:], reach, strict=True):
        if not ends.size:
            break
        if deadline is not None and deadline.expired():
            return None
        current = word.starts(a, b, np.unique(ends >> 32))
        # the last kept position of the previous word at least `low` before: within reach if `high` or less
        before = np.searchsorted(ends, current - low, side="right") - 1
        placed = before >= 0
        placed[placed] = ends[before[placed]] >= current[placed] - high
        ends = current[placed]
    return ends


def _held(words: list[Word], a: int, b: int, deadline: Deadline | None) -> Ids | None:
    """The keys (see `Word.starts`) of candidates a:b where every word is at its place; None when the
    deadline passed first. Each word after the first is looked for only where the ones before are."""
    if deadline is not None and deadline.expired():
        return None
    found = words[0].starts(a, b)
    for word in words[1:]:
        if not found.size:
            break
        if deadline is not None and deadline.expired():
            return None
        found = np.intersect1d(found, word.starts(a, b, np.unique(found >> 32)), assume_unique=True)
    return found
