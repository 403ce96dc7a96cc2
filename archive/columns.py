"""Per-docnum columns of one index generation: which docnums are passages, their documents, facets, dates.

Everything a search needs besides matching and scoring is an array indexed by docnum: facet counts are
a `bincount`, a filter is a lookup of the rows carrying a value, a date order is a `lexsort`. Built once
per generation from its posting lists (`postings.Arrays.load`), then only read.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .idsets import EMPTY, Ids, union
from .lru import Lru

SINGLE = ("year", "source", "type")
"""Facets with at most one value per passage."""

MULTI = ("agency", "offence")
"""Facets with any number of values per passage."""

KEPT = 256
"""Filters (and phrase matches, in `postings`) kept per generation."""

UNDATED = "sans-date"
"""The `year` value of the passages of undated documents, so that a filter can select them
(`year=sans-date`) and the year facet counts them: not a year, so it cannot clash with one."""


@dataclass
class Column:
    """A facet over passages: its values, and for each value the passages carrying it."""

    values: list[str]
    docs: Ids  # for multi-valued facets: one row per (passage, value) pair, sorted by passage
    codes: npt.NDArray[np.int32]  # the value index of each row
    code_of: npt.NDArray[np.int32] | None = None  # single-valued facets: docnum -> value index, or -1


def _int32s() -> npt.NDArray[np.int32]:
    return np.zeros(0, dtype=np.int32)


@dataclass(kw_only=True)
class Columns:
    """The columns over the docnums of one Whoosh reader (one committed state of one generation)."""

    doc_count: int
    live_passages: Ids = field(default_factory=lambda: EMPTY)
    live: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    document_of: npt.NDArray[np.int64] = field(default_factory=lambda: EMPTY)  # -> index in `records`
    records: Ids = field(default_factory=lambda: EMPTY)  # the docnums of the live document records
    columns: dict[str, Column] = field(default_factory=dict)
    dates: list[str] = field(default_factory=list)
    date_rank: npt.NDArray[np.int32] = field(default_factory=_int32s)  # -> rank of its date, missing last
    position: npt.NDArray[np.int32] = field(default_factory=_int32s)
    _having: Lru[tuple[str, tuple[str, ...]], Ids] = field(default_factory=lambda: Lru(KEPT))
    _kept: threading.Lock = field(default_factory=threading.Lock)  # guards `_having`

    # ------------------------------------------------------------------ building

    def index_documents(self, passages: Ids, records: Ids) -> None:
        """Set the live passages and document records, and each passage's record."""
        self.live_passages = passages
        self.live = np.zeros(self.doc_count, dtype=np.bool_)
        self.live[passages] = True
        # The indexer adds a document's passages, then its record, in one writer: within a segment and
        # through merges, a passage's document is the first record after it. No per-document lookups.
        self.records = records
        last = max(records.size - 1, 0)
        self.document_of = np.full(self.doc_count, -1, dtype=np.int64)
        self.document_of[passages] = np.minimum(np.searchsorted(records, passages), last)

    def index_facet(self, name: str, found: Iterable[tuple[str, Ids]], missing: str | None = None) -> None:
        """Set a facet's column from each value and the docnums carrying it (live passages only); with
        `missing`, the live passages carrying no value carry that one."""
        values: list[str] = []
        docs: list[Ids] = []
        codes: list[npt.NDArray[np.int32]] = []

        def add(value: str, ids: Ids) -> None:
            if ids.size:
                docs.append(ids)
                codes.append(np.full(ids.size, len(values), dtype=np.int32))
                values.append(value)

        for value, carrying in found:
            add(value, self.passages(carrying))
        if missing is not None:
            carrying_one = np.zeros(self.doc_count, dtype=np.bool_)
            for ids in docs:
                carrying_one[ids] = True
            add(missing, self.live_passages[~carrying_one[self.live_passages]])
        all_docs = np.concatenate(docs) if docs else EMPTY
        all_codes = np.concatenate(codes) if codes else np.empty(0, dtype=np.int32)
        order = np.argsort(all_docs, kind="stable")
        column = Column(values, all_docs[order], all_codes[order])
        if name in SINGLE and np.all(column.docs[1:] != column.docs[:-1]):
            column.code_of = np.full(self.doc_count, -1, dtype=np.int32)
            column.code_of[column.docs] = column.codes
        self.columns[name] = column

    def index_dates(self, dated: Iterable[tuple[str, Ids]]) -> None:
        """Set the date ranks from each date (in ascending order) and the docnums carrying it."""
        rank = np.full(self.doc_count, np.iinfo(np.int32).max, dtype=np.int32)
        self.dates = []
        for value, ids in dated:
            rank[ids] = len(self.dates)
            self.dates.append(value)
        self.date_rank = rank

    # ------------------------------------------------------------------ reading

    def passages(self, ids: Ids) -> Ids:
        """The live passages among sorted docnums (document records and deleted ones left out)."""
        return ids[self.live[ids]]

    def dated_between(self, start: str | None, end: str | None) -> Ids:
        """The passages dated within [start, end] (ISO days, either bound optional)."""
        lo = bisect.bisect_left(self.dates, start) if start else 0
        hi = bisect.bisect_right(self.dates, end) if end else len(self.dates)
        if lo >= hi:
            return EMPTY
        ranks = self.date_rank[self.live_passages]
        return self.live_passages[(ranks >= lo) & (ranks < hi)]

    def counts(self, name: str, scope: Ids) -> dict[str, int]:
        """How many passages of `scope` carry each value of a facet."""
        column = self.columns[name]
        if not column.values or not scope.size:
            return {}
        if column.code_of is not None:
            codes = column.code_of[scope]
            bins = np.bincount(codes[codes >= 0], minlength=len(column.values))
        else:
            mask = np.zeros(self.doc_count, dtype=np.bool_)
            mask[scope] = True
            bins = np.bincount(column.codes[mask[column.docs]], minlength=len(column.values))
        return {column.values[i]: int(bins[i]) for i in np.nonzero(bins)[0]}

    def having(self, name: str, values: tuple[str, ...]) -> Ids:
        """The passages carrying any of `values` of a facet (kept: filters come back often)."""
        key = (name, tuple(sorted(set(values))))
        with self._kept:
            found = self._having.get(key)
        if found is None:
            column = self.columns[name]
            wanted = [i for i, v in enumerate(column.values) if v in set(values)]
            found = union([column.docs[column.codes == i] for i in wanted], self.doc_count)
            with self._kept:
                self._having.put(key, found)
        return found

    def record_of(self, docnum: int) -> int:
        """The docnum of the record of a passage's document."""
        return int(self.records[self.document_of[docnum]])

    def distinct_documents(self, ids: Ids) -> int:
        """How many documents the passages `ids` (sorted) come from."""
        if not ids.size:
            return 0
        owners = self.document_of[ids]  # sorted docnums have non-decreasing owners: count the changes
        return int(np.count_nonzero(owners[1:] != owners[:-1])) + 1

    # ------------------------------------------------------------------ date order

    def sorted_page(
        self, candidates: Ids, k: int, newest: bool, after: tuple[int, int, int] | None = None
    ) -> list[int]:
        """The first k candidates by date (newest or oldest first, undated last), then position, then
        docnum; with `after` (a previous page's last `sort_key`), the first k that come after it."""
        if not candidates.size:
            return []
        rank = self._date_order(candidates, newest)
        position = self.position[candidates].astype(np.int64)
        if after is not None:
            r, p, d = after
            later = (rank > r) | ((rank == r) & ((position > p) | ((position == p) & (candidates > d))))
            candidates, rank, position = candidates[later], rank[later], position[later]
        order = np.lexsort((position, rank))[:k]  # stable: equal keys keep docnum order
        return [int(d) for d in candidates[order]]

    def sort_key(self, docnum: int, newest: bool) -> tuple[int, int, int]:
        """Where a passage stands in a date order (`sorted_page`): what a cursor continues from."""
        ids = np.array([docnum], dtype=np.int64)
        return int(self._date_order(ids, newest)[0]), int(self.position[docnum]), docnum

    def _date_order(self, candidates: Ids, newest: bool) -> npt.NDArray[np.int64]:
        rank = self.date_rank[candidates].astype(np.int64)
        if newest:
            missing = rank == np.iinfo(np.int32).max
            rank = np.where(missing, np.iinfo(np.int64).max, -rank)
        return rank
