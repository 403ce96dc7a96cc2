"""The newest passages a search matches: what its Atom feed lists, so that a feed reader does the alerting.

The order is by document date, newest first (undated documents last, as `sort=newest` puts them), then
by when the document was last indexed, latest first (the `indexed_at` its index record keeps, to the
second: a document added today that is dated last year comes before the others of last year), then by
document and position, which makes it total on one state of the index. A full reindex writes every
record again, so after one the indexing times are those of the reindex, close together: the date
decides. Only the passages that can reach the first `limit` by date are sorted further, and only their
documents' records are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .generations import Generation
from .idsets import Ids
from .results import SearchResults

FEED_ENTRIES = 50
"""Passages a feed lists: a feed reader keeps what it has seen, so a feed needs the newest, not all.
Fifty covers a week of a busy search on the real archive, and keeps the feed near 100 KB."""

_UNDATED = np.iinfo(np.int32).max  # the date rank of a passage without a date (columns.index_dates)


@dataclass(frozen=True)
class Feed:
    """The newest passages of a search (`results.hits`, in feed order) and when each one's document was
    last indexed (ISO 8601, UTC; None for an index written before the time was kept)."""

    results: SearchResults
    indexed: tuple[str | None, ...]


def newest(gen: Generation, candidates: Ids, limit: int) -> list[int]:
    """The first `limit` of `candidates` (sorted docnums) in feed order (see the module's docstring)."""
    if not candidates.size or limit <= 0:
        return []
    arrays = gen.arrays
    rank = arrays.date_rank[candidates].astype(np.int64)
    date = np.where(rank == _UNDATED, np.iinfo(np.int64).max, -rank)  # newest first, undated last
    if candidates.size > limit:  # those dated after the limit-th cannot be in the feed
        keep = date <= np.partition(date, limit - 1)[limit - 1]
        candidates, date = candidates[keep], date[keep]
    owners = arrays.document_of[candidates]
    order = np.lexsort((arrays.position[candidates], owners, -_indexed(gen, owners), date))[:limit]
    return [int(d) for d in candidates[order]]


def indexed_at(gen: Generation, docnum: int) -> str | None:
    """When the document of the passage `docnum` was last indexed (ISO 8601, UTC), if its record says."""
    value = gen.record(gen.arrays.record_of(docnum)).get("indexed_at")
    return value if isinstance(value, str) else None


def _indexed(gen: Generation, owners: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each owner's (a document record's index) indexing time in seconds since the epoch, 0 if unknown."""
    distinct, inverse = np.unique(owners, return_inverse=True)
    records = gen.arrays.records
    seconds = [_epoch(gen.record(int(records[o])).get("indexed_at")) for o in distinct.tolist()]
    return np.asarray(seconds, dtype=np.int64)[inverse]


def _epoch(value: object) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return int(dt.datetime.fromisoformat(value).timestamp())
    except ValueError:
        return 0
