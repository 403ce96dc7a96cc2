"""Phrases over posting lists: the words a phrase query chains, and their verification from positions.

A phrase is matched in two steps: the docnums holding every word (an intersection of posting lists),
then, in each of those candidates, whether the words stand at their offsets from the first one. The
second step works on whole arrays: each word's positions in the candidates become (candidate, where the
phrase would start) keys, and the keys every word has are the matches. It runs over `CHECK_EVERY`
candidates at a time and looks at the `Deadline` before each word, so that it stops soon after it passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .idsets import Ids

if TYPE_CHECKING:
    from .deadline import Deadline

Chain = tuple[tuple[str, str, int], ...]
"""A phrase: each (field, key) with its offset from the first word."""

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


def verify(words: list[Word], count: int, deadline: Deadline | None) -> tuple[npt.NDArray[np.bool_], int]:
    """Whether each of `count` candidates holds every word at its offset from the first word, and how
    many candidates were verified before the `deadline` (the rest are left False)."""
    keep = np.zeros(count, dtype=np.bool_)
    for a in range(0, count, CHECK_EVERY):
        found = _held(words, a, min(a + CHECK_EVERY, count), deadline)
        if found is None:
            return keep, a
        keep[a + (found >> 32)] = True
    return keep, count


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
