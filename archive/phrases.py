"""Phrases over posting lists: the words a phrase query chains, and their verification from positions.

A phrase is matched in two steps: the docnums holding every word (an intersection of posting lists),
then, in each of those candidates, whether the words stand at their offsets from the first one. The
second step decodes positions per candidate in Python, so it is the part a `Deadline` can cut short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .codec.reader import decode_positions

if TYPE_CHECKING:
    from .deadline import Deadline

Chain = tuple[tuple[str, str, int], ...]
"""A phrase: each (field, key) with its offset from the first word."""

CHECK_EVERY = 64
"""Phrase candidates verified between two looks at the clock (a few milliseconds of work at most)."""

WordPositions = list[tuple[list[bytes], int]]
"""For each word of a phrase: its encoded positions in each candidate, and its offset."""


def verify(
    columns: WordPositions, count: int, deadline: Deadline | None
) -> tuple[npt.NDArray[np.bool_], int]:
    """Whether each of `count` candidates holds every word at its offset from the first word, and how
    many candidates were verified before the `deadline` (the rest are left False)."""
    keep = np.zeros(count, dtype=np.bool_)
    first, rest = columns[0][0], columns[1:]
    for j in range(count):
        if deadline is not None and j % CHECK_EVERY == 0 and j and deadline.expired():
            return keep, j
        starts = set(decode_positions(first[j]))
        for values, offset in rest:
            starts.intersection_update([p - offset for p in decode_positions(values[j])])
            if not starts:
                break
        keep[j] = bool(starts)
    return keep, count
