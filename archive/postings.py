"""One index generation as arrays: posting lists, facet columns and BM25F ranking in numpy.

Whoosh stays the index and the source of truth for matching: posting lists, field lengths and term
statistics are read from its files (block by block, without the per-posting Python loop of its
matchers), and queries this module cannot evaluate exactly (phrases, spans, ranges) are handed back to
Whoosh. What it adds is the evaluation of boolean queries over sorted docnum arrays, facet counts with
`bincount`, and BM25F scores computed exactly as Whoosh computes them, so that a top-10 over 100,000
matches costs a few vectorised operations instead of 100,000 Python calls. Tests compare every answer
with Whoosh's own.

It reads private attributes of whoosh-reloaded 2.7.5's codec (pinned exactly in pyproject.toml); the
tests that compare its answers with Whoosh's own fail first if another version changes them.
"""

from __future__ import annotations

import functools
import io
import itertools
import pickle
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from whoosh import query as wq
from whoosh.codec import whoosh3
from whoosh.query.spans import SpanNear
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from .schema import DOCUMENT, PASSAGE

K = TypeVar("K")
V = TypeVar("V")

Ids = npt.NDArray[np.int64]
"""Sorted, unique docnums."""

_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_EMPTY: Ids = np.empty(0, dtype=np.int64)
CACHE_BYTES = 256 * 1024 * 1024
"""Decoded posting lists kept per index generation: most of a term's cost is decoding Whoosh's blocks
(unpickling, inflating), and a query mix cycles through more terms than a count-bounded cache holds."""

_KEPT = 256  # phrase matches, and filters, kept per generation

SINGLE = ("year", "source", "type")
MULTI = ("agency", "offence")


class _Lru(Generic[K, V]):
    """A least-recently-used map bounded by the total `size` of its values (the caller holds the lock)."""

    def __init__(self, limit: int, size: Callable[[V], int] = lambda _value: 1) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._limit = limit
        self._size = size
        self._total = 0

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._total += self._size(value)
        while self._total > self._limit and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._total -= self._size(old)
        return value


def _array_bytes(value: tuple[Ids, npt.NDArray[np.float64]]) -> int:
    return value[0].nbytes + value[1].nbytes


def _values_bytes(values: list[bytes]) -> int:
    return sum(len(v) for v in values) + 40 * len(values)  # 40: a small bytes object's overhead


class Unsupported(Exception):
    """A query this module does not evaluate; the caller asks Whoosh instead."""


Chain = tuple[tuple[str, str, int], ...]
"""A phrase: each (field, key) with its offset from the first word."""

_CHECK_EVERY = 64
"""Phrase candidates verified between two looks at the clock (a few milliseconds of work at most)."""


class Deadline:
    """The moment one request's evaluation must stop, and whether it did stop early.

    Work that can stop with a part of its answer (verifying phrase candidates, Whoosh's own collectors)
    looks at it as it goes; what it stopped sets `cut`, so the caller says the results are partial.
    Partial phrase matches are kept here for the rest of the request (ranking asks for them again),
    never in the generation's caches.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds
        self.cut = False
        self.partial: dict[Chain, Ids] = {}

    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end

    def remaining(self) -> float | None:
        """Seconds left (0 when expired), or None without a limit."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())


@dataclass
class Column:
    """A facet over passages: its values, and for each value the passages carrying it."""

    values: list[str]
    docs: Ids  # for multi-valued facets: one row per (passage, value) pair, sorted by passage
    codes: npt.NDArray[np.int32]  # the value index of each row
    code_of: npt.NDArray[np.int32] | None = None  # single-valued facets: docnum -> value index, or -1


@dataclass
class Arrays:
    """Arrays over the docnums of one Whoosh reader (one committed state of one generation)."""

    reader: Any
    doc_count: int
    live_passages: Ids
    document_of: npt.NDArray[np.int64]  # docnum -> index in `records` of its document's record
    records: Ids  # the docnums of the live document records
    columns: dict[str, Column]
    date_rank: npt.NDArray[np.int32]  # docnum -> rank of its date (missing dates rank last)
    position: npt.NDArray[np.int32]
    _postings: _Lru[tuple[str, str], tuple[Ids, npt.NDArray[np.float64]]] = field(
        default_factory=lambda: _Lru(CACHE_BYTES, _array_bytes)
    )
    _values: _Lru[tuple[str, str], list[bytes]] = field(
        default_factory=lambda: _Lru(CACHE_BYTES // 2, _values_bytes)
    )
    _phrases: _Lru[Chain, Ids] = field(default_factory=lambda: _Lru(_KEPT))
    _having: _Lru[tuple[str, tuple[str, ...]], Ids] = field(default_factory=lambda: _Lru(_KEPT))
    live: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    _lengths: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    _deleted: npt.NDArray[np.bool_] | None = None
    dates: list[str] = field(default_factory=list)
    _io: threading.Lock = field(default_factory=threading.Lock)

    def dated_between(self, start: str | None, end: str | None) -> Ids:
        """The passages dated within [start, end] (ISO days, either bound optional)."""
        import bisect

        lo = bisect.bisect_left(self.dates, start) if start else 0
        hi = bisect.bisect_right(self.dates, end) if end else len(self.dates)
        if lo >= hi:
            return _EMPTY
        ranks = self.date_rank[self.live_passages]
        return self.live_passages[(ranks >= lo) & (ranks < hi)]

    # ------------------------------------------------------------------ reading Whoosh

    @classmethod
    def load(cls, reader: Any) -> Arrays:
        n = reader.doc_count_all()
        deleted = np.zeros(n, dtype=np.bool_)
        for leaf, offset in reader.leaf_readers():
            gone = sorted(getattr(leaf, "deleted_docs_set", ()))
            if gone:
                deleted[np.asarray(gone, dtype=np.int64) + offset] = True
        arrays = cls(
            reader,
            n,
            _EMPTY,
            np.full(n, -1, dtype=np.int64),
            _EMPTY,
            {},
            np.zeros(n, dtype=np.int32),
            np.zeros(n, dtype=np.int32),
        )
        arrays._deleted = deleted
        passages = arrays.term("kind", PASSAGE)
        arrays.live_passages = passages
        arrays.live = np.zeros(n, dtype=np.bool_)
        arrays.live[passages] = True
        # The indexer adds a document's passages, then its record, in one writer: within a segment and
        # through merges, a passage's document is the first record after it. No per-document lookups.
        records = arrays.term("kind", DOCUMENT)
        arrays.records = records
        last = max(records.size - 1, 0)
        arrays.document_of[passages] = np.minimum(np.searchsorted(records, passages), last)
        for name in SINGLE + MULTI:
            values: list[str] = []
            docs: list[Ids] = []
            codes: list[npt.NDArray[np.int32]] = []
            for value in _terms(reader, name):
                ids = arrays.passages(arrays.term(name, value))
                if ids.size:
                    docs.append(ids)
                    codes.append(np.full(ids.size, len(values), dtype=np.int32))
                    values.append(value)
            all_docs = np.concatenate(docs) if docs else _EMPTY
            all_codes = np.concatenate(codes) if codes else np.empty(0, dtype=np.int32)
            order = np.argsort(all_docs, kind="stable")
            column = Column(values, all_docs[order], all_codes[order])
            if name in SINGLE and np.all(column.docs[1:] != column.docs[:-1]):
                column.code_of = np.full(n, -1, dtype=np.int32)
                column.code_of[column.docs] = column.codes
            arrays.columns[name] = column
        rank = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)
        arrays.dates = sorted(_terms(reader, "date"))
        for i, value in enumerate(arrays.dates):
            rank[arrays.term("date", value)] = i
        arrays.date_rank = rank
        arrays.position = _read_positions(reader, n)
        return arrays

    def passages(self, ids: Ids) -> Ids:
        """The live passages among sorted docnums (document records and deleted ones left out)."""
        return ids[self.live[ids]]

    def term(self, fieldname: str, text: str) -> Ids:
        return self.postings(fieldname, text)[0]

    def postings(self, fieldname: str, text: str) -> tuple[Ids, npt.NDArray[np.float64]]:
        """The live docnums holding a term, and the term's weight (frequency x field boost) in each."""
        with self._io:  # one reader's files serve every thread: reads and the cache go one at a time
            return self._postings_locked(fieldname, text)

    def _postings_locked(self, fieldname: str, text: str) -> tuple[Ids, npt.NDArray[np.float64]]:
        key = (fieldname, text)
        cached = self._postings.get(key)
        if cached is not None:
            return cached
        ids, weights, _ = self._read(fieldname, text, values=False)
        return self._postings.put(key, (ids, weights))

    def values(self, fieldname: str, text: str) -> list[bytes]:
        """The encoded positions of a term in each live docnum of `postings(fieldname, text)`."""
        with self._io:
            key = (fieldname, text)
            cached = self._values.get(key)
            if cached is not None:
                return cached
            return self._values.put(key, self._read(fieldname, text, values=True)[2])

    def _read(
        self, fieldname: str, text: str, values: bool
    ) -> tuple[Ids, npt.NDArray[np.float64], list[bytes]]:
        """A term's postings over every segment, deleted documents left out (the caller holds `_io`)."""
        ids_parts: list[Ids] = []
        weight_parts: list[npt.NDArray[np.float64]] = []
        found: list[bytes] = []
        for leaf, offset in self.reader.leaf_readers():
            if (fieldname, text) in leaf:
                ids, weights = _read_postings(leaf, fieldname, text, found if values else None)
                ids_parts.append(ids + offset)
                weight_parts.append(weights)
        if not ids_parts:
            return _EMPTY, np.empty(0, dtype=np.float64), found
        ids = np.concatenate(ids_parts)
        weights = np.concatenate(weight_parts)
        if self._deleted is not None and self._deleted.any():
            keep = ~self._deleted[ids]
            ids, weights = ids[keep], weights[keep]
            if values:
                found = list(itertools.compress(found, keep))
        return ids, weights, found

    def phrase(
        self,
        chain: Chain,
        deadline: Deadline | None = None,
        within: Ids | None = None,
        negated: bool = False,
    ) -> Ids:
        """The docnums holding each (field, key) of `chain` at its offset from the first one's position.

        This is what our phrase queries (nested SpanNear with slop == mindist) match in Whoosh; tests
        compare the two. Positions are decoded only for the docnums holding every word, and only for
        those in `within` when given (then the answer is exact inside `within` only). Past the
        `deadline`, the candidates verified so far are the answer: a subset of the matches, never
        cached beyond the request; `negated` (the phrase is excluded) counts the unverified ones as
        matches instead, so that a query's partial answer never holds a passage it should not.
        """
        if within is None and not negated:
            with self._io:
                cached = self._phrases.get(chain)
            if cached is not None:
                return cached
            if deadline is not None and chain in deadline.partial:
                return deadline.partial[chain]
        lists: list[Ids] = []
        for fieldname, text, _ in chain:
            if deadline is not None and deadline.expired():
                everything = functools.reduce(intersect, lists, self.live_passages)
                return self._cut(chain, everything if negated else _EMPTY, deadline, within, negated)
            lists.append(self.term(fieldname, text))
        candidates = functools.reduce(intersect, sorted(lists, key=len))
        if within is not None:
            candidates = intersect(candidates, within)
        keep = np.zeros(candidates.size, dtype=np.bool_)
        done = candidates.size
        if candidates.size:
            columns = []
            for (fieldname, text, offset), ids in zip(chain, lists, strict=True):
                if deadline is not None and deadline.expired():
                    return self._cut(chain, candidates if negated else _EMPTY, deadline, within, negated)
                values = self.values(fieldname, text)
                columns.append(([values[i] for i in np.searchsorted(ids, candidates)], offset))
            first, rest = columns[0][0], columns[1:]
            for j in range(candidates.size):
                if deadline is not None and j % _CHECK_EVERY == 0 and j and deadline.expired():
                    done = j
                    break
                starts = set(_positions(first[j]))
                for values, offset in rest:
                    starts.intersection_update([p - offset for p in _positions(values[j])])
                    if not starts:
                        break
                keep[j] = bool(starts)
        found: Ids = candidates[:done][keep[:done]]
        if deadline is not None and done < candidates.size:
            if negated:  # the unverified candidates are excluded too
                found = np.concatenate([found, candidates[done:]])
            return self._cut(chain, found, deadline, within, negated)
        if within is not None or negated:
            return found
        with self._io:
            return self._phrases.put(chain, found)

    @staticmethod
    def _cut(chain: Chain, found: Ids, deadline: Deadline, within: Ids | None, negated: bool = False) -> Ids:
        deadline.cut = True
        if within is None and not negated:
            deadline.partial[chain] = found
        return found

    def lengths(self, fieldname: str) -> npt.NDArray[np.float64]:
        """Each docnum's length in a field, as Whoosh stores it (one byte, lossy above 108)."""
        with self._io:
            return self._lengths_locked(fieldname)

    def _lengths_locked(self, fieldname: str) -> npt.NDArray[np.float64]:
        if fieldname not in self._lengths:
            parts = []
            for leaf, _ in self.reader.leaf_readers():
                parts.append(_read_lengths(leaf, fieldname))
            self._lengths[fieldname] = np.concatenate(parts) if parts else np.zeros(0)
        return self._lengths[fieldname]

    # ------------------------------------------------------------------ evaluating

    def evaluate(
        self,
        q: wq.Query,
        deadline: Deadline | None = None,
        within: Ids | None = None,
        negated: bool = False,
    ) -> Ids:
        """The docnums matching a boolean query of terms, or Unsupported.

        With `within`, phrases are verified only there: the answer is exact inside `within`. Past the
        `deadline`, phrases answer with the matches verified so far (and `deadline.cut` says so), or,
        under a negation, with every candidate not yet ruled out: a partial answer is a subset of the
        true one. `negated` says the query is itself inside a negation.
        """

        def sub(query: wq.Query) -> Ids:
            return self.evaluate(query, deadline, within, negated)

        def excluded(query: wq.Query) -> Ids:
            return self.evaluate(query, deadline, within, not negated)

        if isinstance(q, wq.Term):
            return self.term(q.fieldname, _text(q.text))
        if isinstance(q, SpanNear):
            return self.phrase(_chain(q), deadline, within, negated)
        if isinstance(q, wq.Every):
            return self.live_passages
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return _EMPTY
        if isinstance(q, wq.AndNot):
            return np.setdiff1d(sub(q.a), excluded(q.b), assume_unique=True)
        if isinstance(q, wq.And):
            positive = [s for s in q.subqueries if not isinstance(s, wq.Not)]
            negative = [s.query for s in q.subqueries if isinstance(s, wq.Not)]
            if not positive:
                raise Unsupported("only negations")
            found = sorted((sub(s) for s in positive), key=len)
            out = found[0]
            for ids in found[1:]:
                out = intersect(out, ids)
            for neg in negative:
                out = np.setdiff1d(out, excluded(neg), assume_unique=True)
            return out
        if isinstance(q, wq.Or) and not isinstance(q, wq.DisjunctionMax):
            parts = [sub(s) for s in q.subqueries if not isinstance(s, wq.Not)]
            if len(parts) != len(q.subqueries):
                raise Unsupported("negation inside OR")
            return union(parts, self.doc_count)
        if isinstance(q, wq.Not):
            return np.setdiff1d(self.live_passages, excluded(q.query), assume_unique=True)
        raise Unsupported(type(q).__name__)

    def scores(
        self, q: wq.Query, candidates: Ids, searcher: Any, deadline: Deadline | None = None
    ) -> npt.NDArray[np.float64]:
        """BM25F scores of `candidates` for `q`, as Whoosh's default weighting computes them.

        Past the `deadline`, a phrase's words score only where the phrase was verified in time."""
        total = np.zeros(candidates.size, dtype=np.float64)
        for fieldname, text, boost, chain in _scored_terms(q):
            if deadline is not None and deadline.expired():  # ranked on the terms scored in time
                deadline.cut = True
                break
            ids, weights = self.postings(fieldname, text)
            if not ids.size:
                continue
            where = np.searchsorted(ids, candidates)
            where[where >= ids.size] = 0
            present = ids[where] == candidates
            if chain is not None:  # a phrase's words score where the phrase is, as in Whoosh
                present &= np.isin(candidates, self.phrase(chain, deadline), assume_unique=True)
            if not present.any():
                continue
            w = weights[where[present]]
            fieldobj = searcher.schema[fieldname]
            if fieldobj.scorable:
                idf = searcher.idf(fieldname, text)
                avgfl = searcher.avg_field_length(fieldname) or 1
                fl = self.lengths(fieldname)[candidates[present]]
                s = idf * ((w * (_K1 + 1)) / (w + _K1 * ((1 - _B) + _B * fl / avgfl)))
            else:
                s = w
            total[present] += s * boost
        return total

    def top(
        self,
        q: wq.Query,
        candidates: Ids,
        k: int,
        searcher: Any,
        coordination: list[tuple[Ids, float]] | None = None,
        deadline: Deadline | None = None,
        after: tuple[float, int] | None = None,
    ) -> list[tuple[int, float]]:
        """The k best candidates by score (ties: lower docnum first), with their scores.

        With `coordination` (for each word of a loosened query, its passages and its weight), a
        candidate's score is multiplied by (weight of its words / weight of all)^COORDINATION:
        complete matches lead, and a passage with the rare words beats one with the common ones.
        With `after` (the score and docnum of the last hit of a previous page), only the candidates
        ranked after it compete: the next page costs one partition of k, not a ranking of all before it.
        """
        if not candidates.size or k <= 0:
            return []
        scores = self.scores(q, candidates, searcher, deadline)
        if coordination:
            scores = scores * coverage(candidates, coordination) ** COORDINATION
        if after is not None:
            last_score, last_docnum = after
            later = (scores < last_score) | ((scores == last_score) & (candidates > last_docnum))
            candidates, scores = candidates[later], scores[later]
            if not candidates.size:
                return []
        if candidates.size > k:
            cut = np.argpartition(-scores, k - 1)[:k]
            threshold = scores[cut].min()
            keep = np.nonzero(scores >= threshold)[0]  # every tie at the threshold, to order by docnum
        else:
            keep = np.arange(candidates.size)
        order = np.lexsort((candidates[keep], -scores[keep]))[:k]
        return [(int(candidates[keep[i]]), float(scores[keep[i]])) for i in order]

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

    # ------------------------------------------------------------------ counting

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
        with self._io:
            found = self._having.get(key)
        if found is None:
            column = self.columns[name]
            wanted = [i for i, v in enumerate(column.values) if v in set(values)]
            found = union([column.docs[column.codes == i] for i in wanted], self.doc_count)
            with self._io:
                self._having.put(key, found)
        return found

    def record_of(self, docnum: int) -> int:
        """The docnum of the record of a passage's document."""
        return int(self.records[self.document_of[docnum]])

    def distinct_documents(self, ids: Ids) -> int:
        if not ids.size:
            return 0
        owners = self.document_of[ids]  # sorted docnums have non-decreasing owners: count the changes
        return int(np.count_nonzero(owners[1:] != owners[:-1])) + 1


COORDINATION = 1.0
_K1 = 1.2
_B = 0.75


def intersect(a: Ids, b: Ids) -> Ids:
    """The docnums in both sorted, unique arrays: the smaller one looked up in the larger one.

    O(small x log(large)), where numpy's intersect1d sorts both arrays together.
    """
    small, large = (a, b) if a.size <= b.size else (b, a)
    if not small.size:
        return _EMPTY
    where = np.searchsorted(large, small)
    where[where >= large.size] = 0
    found: Ids = small[large[where] == small]
    return found


def union(parts: list[Ids], size: int) -> Ids:
    """The sorted union of docnum arrays below `size`: through a mask when they are large."""
    if not parts:
        return _EMPTY
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


def _text(text: object) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def _terms(reader: Any, fieldname: str) -> list[str]:
    return [b.decode("utf-8") for b in reader.lexicon(fieldname)]


Scored = tuple[str, str, float, "tuple[tuple[str, str, int], ...] | None"]


def _scored_terms(q: wq.Query, boost: float = 1.0) -> list[Scored]:
    """The positive terms of a query with their boosts (negated parts do not score), and for the words
    of a phrase the phrase they must form to score: Whoosh scores a phrase as the sum of its words."""
    if isinstance(q, wq.Not):
        return []
    if isinstance(q, wq.AndNot):
        return _scored_terms(q.a, boost * q.boost)
    if isinstance(q, wq.Term):
        return [(q.fieldname, _text(q.text), boost * q.boost, None)]
    if isinstance(q, SpanNear):
        chain = _chain(q)
        return [(fieldname, text, boost * getattr(q, "boost", 1.0), chain) for fieldname, text, _ in chain]
    out: list[Scored] = []
    for sub in q.children():
        out.extend(_scored_terms(sub, boost * getattr(q, "boost", 1.0)))
    return out


def _chain(q: wq.Query) -> Chain:
    """A phrase (`archive.query` nests SpanNear(a, Term, slop=gap, mindist=gap)) as each word with its
    offset from the first word; Unsupported for other span queries."""
    if isinstance(q, wq.Term):
        return ((q.fieldname, _text(q.text), 0),)
    if isinstance(q, SpanNear) and q.ordered and q.slop == q.mindist >= 1 and isinstance(q.b, wq.Term):
        left = _chain(q.a)
        return (*left, (q.b.fieldname, _text(q.b.text), left[-1][2] + q.slop))
    raise Unsupported(f"span query {q!r}")


def _positions(value: bytes) -> list[int]:
    """Whoosh's `Positions.decode_positions`: a count, then the pickled gaps between positions."""
    return list(itertools.accumulate(pickle.loads(value[4:])))


def _read_postings(
    leaf: Any, fieldname: str, text: str, values: list[bytes] | None = None
) -> tuple[Ids, npt.NDArray[np.float64]]:
    """Every posting of a term in one segment (deleted documents included): docnums and weights, and
    each posting's encoded value (positions) appended to `values` when given."""
    ids: list[Any] = []
    weights: list[Any] = []
    for raw_ids, raw_weights, raw_values in _blocks(leaf, fieldname, text):
        block = np.cumsum(np.asarray(raw_ids, dtype=np.int64))  # docnums are stored as gaps
        ids.append(block)
        if raw_weights is None:
            weights.append(np.ones(block.size))
        elif isinstance(raw_weights, float):
            weights.append(np.full(block.size, raw_weights))
        else:
            weights.append(np.asarray(raw_weights, dtype=np.float64))
        if values is not None:
            values.extend(raw_values)
    if not ids:
        return _EMPTY, np.empty(0)
    return np.concatenate(ids), np.concatenate(weights)


def _blocks(leaf: Any, fieldname: str, text: str) -> Iterator[tuple[Any, Any, Any]]:
    """The (docnum gaps, weights, values) of each block of a term's posting list in one segment.

    Whoosh's matcher reads a block's header through its file wrapper a few bytes at a time; the whole
    posting list is read here in one call and its blocks decoded from memory. The layout is whoosh3's
    (`W3PostingsWriter._write_block`): a 4-byte tag, then per block a signed length (negative for the
    last), a pickled info tuple (count, last id, max weight, compression, min/max length) and the data.
    """
    btext = leaf.schema[fieldname].to_bytes(text)
    terminfo = leaf._terms.term_info(fieldname, btext)
    if terminfo.is_inlined():  # never written by our codec settings; read as Whoosh would
        inline_ids, inline_weights, inline_values = terminfo.inlined_postings()
        gaps = np.diff(np.asarray(inline_ids, dtype=np.int64), prepend=0)
        yield gaps, tuple(inline_weights), tuple(inline_values)
        return
    offset, length = terminfo.extent()
    if isinstance(length, tuple):  # whoosh3's W3TermInfo.from_bytes leaves the length in its unpacked tuple
        (length,) = length
    raw = leaf._terms._postfile.get(offset, length)
    if raw[:4] != whoosh3.WHOOSH3_HEADER_MAGIC:
        raise Unsupported(f"posting list of {fieldname}:{text!r} has no whoosh3 header")
    stream = io.BytesIO(raw)
    position = 4
    while position < len(raw):
        (size,) = unpack_int(raw[position : position + 4])
        stream.seek(position + 4)
        info = pickle.load(stream)
        end = position + 4 + abs(size)
        data = raw[stream.tell() : end]
        yield pickle.loads(zlib.decompress(data) if info[3] else data)
        if size < 0:
            return
        position = end


def _read_positions(reader: Any, n: int) -> npt.NDArray[np.int32]:
    """Each passage's position, from the sortable column (0 for document records)."""
    parts = []
    for leaf, _ in reader.leaf_readers():
        count = leaf.doc_count_all()
        part = np.zeros(count, dtype=np.int32)
        if count and leaf.has_column("position"):
            column = leaf._perdoc.column_reader("position", leaf.schema["position"].column_type)
            stored = min(column._count, count)
            part[:stored] = np.frombuffer(column._dbfile.get(column._basepos, stored * 4), dtype=">i4")
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros(n, dtype=np.int32)


def _read_lengths(leaf: Any, fieldname: str) -> npt.NDArray[np.float64]:
    return field_lengths(leaf._perdoc, fieldname, leaf.doc_count_all())


def field_lengths(perdoc: Any, fieldname: str, n: int) -> npt.NDArray[np.float64]:
    """The length of a field in each of a segment's `n` documents, from Whoosh's per-document reader
    (one byte each, lossy above 108; 0 where the field keeps none). Read in one call: Whoosh's own
    `doc_field_length` asks the file per document."""
    if not n:
        return np.zeros(0)
    reader = perdoc._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
    if reader is None:
        return np.zeros(n)
    count = min(reader._count, n)
    raw = np.frombuffer(reader._dbfile.get(reader._basepos, count), dtype=np.uint8)
    out = np.zeros(n, dtype=np.float64)
    out[:count] = _BYTE_TO_LENGTH[raw]
    return out
