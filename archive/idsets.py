"""Sets of docnums as sorted numpy arrays: the type, and the operations that combine them.

Boolean queries, filters and loosened queries all come down to these: an intersection that looks the
smaller array up in the larger one, a union through a mask when the parts are large, and the share of
weighted parts each candidate holds (how completely a loosened query matches it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
"""Sorted, unique docnums."""

EMPTY: Ids = np.empty(0, dtype=np.int64)
"""No docnum: one array shared by every empty answer."""


def intersect(a: Ids, b: Ids) -> Ids:
    """The docnums in both sorted, unique arrays: the smaller one looked up in the larger one.

    O(small x log(large)), where numpy's intersect1d sorts both arrays together.
    """
    small, large = (a, b) if a.size <= b.size else (b, a)
    if not small.size:
        return EMPTY
    where = np.searchsorted(large, small)
    where[where >= large.size] = 0
    found: Ids = small[large[where] == small]
    return found


def union(parts: list[Ids], size: int) -> Ids:
    """The sorted union of docnum arrays below `size`: through a mask when they are large."""
    if not parts:
        return EMPTY
    total = sum(p.size for p in parts)
    if total < size // 32:
        return np.unique(np.concatenate(parts))
    mask = np.zeros(size, dtype=np.bool_)
    for p in parts:
        mask[p] = True
    return np.flatnonzero(mask).astype(np.int64, copy=False)


def coverage(candidates: Ids, parts: list[tuple[Ids, float]]) -> npt.NDArray[np.float64]:
    """For each candidate, the share of the parts' total weight that it contains."""
    have = np.zeros(candidates.size, dtype=np.float64)
    for ids, weight in parts:
        have += weight * np.isin(candidates, ids, assume_unique=True)
    total = sum(weight for _, weight in parts) or 1.0
    return have / total
