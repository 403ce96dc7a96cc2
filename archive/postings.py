"""One index generation as arrays: posting lists read from Whoosh, and boolean queries evaluated on them.

Whoosh stays the index and the source of truth for matching: posting lists, field lengths and term
statistics are read from its files (by `codec.reader`, block by block, without the per-posting Python
loop of its matchers), and queries this module cannot evaluate exactly (spans other than our phrases,
ranges) are handed back to Whoosh. What it adds is the evaluation of boolean queries and phrases over
sorted docnum arrays (`idsets`, `phrases`), with BM25F scores computed exactly as Whoosh computes them
(`ranking`) and facet columns beside them (`columns`), so that a top-10 over 100,000 matches costs a
few vectorised operations instead of 100,000 Python calls. Tests compare every answer with Whoosh's own.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import query as wq
from whoosh.query.spans import SpanNear

from . import ranking
from .codec.positions import RawPositions
from .codec.reader import (
    StoredFields,
    UnknownLayout,
    deleted_mask,
    position_column,
    position_lists,
    read_postings,
    segment_lengths,
)
from .columns import KEPT, MULTI, SINGLE, UNDATED, Columns
from .deadline import Deadline
from .idsets import EMPTY, Ids, intersect, union
from .lru import Lru
from .phrases import Chain, Positions, Word, exact, offsets, verify
from .schema import DOCUMENT, PASSAGE

CACHE_BYTES = 256 * 1024 * 1024
"""Decoded posting lists kept per index generation: most of a term's cost is decoding Whoosh's blocks
(unpickling, inflating), and a query mix cycles through more terms than a count-bounded cache holds."""

FREQUENCIES_KEPT = 1 << 16
"""Document frequencies of terms kept per index generation (`Arrays.doc_frequency`), about 100 bytes each."""

Weights = npt.NDArray[np.float64]

_Evaluate = Callable[[wq.Query], Ids]


class Unsupported(Exception):
    """A query (or a posting list layout) this module does not evaluate; the caller asks Whoosh instead."""


def _array_bytes(value: tuple[Ids, Weights]) -> int:
    return value[0].nbytes + value[1].nbytes


def _positions_bytes(value: Positions) -> int:
    return value[0].nbytes + value[1].nbytes


@dataclass(kw_only=True)
class Arrays(Columns):
    """The columns of one Whoosh reader (one committed state of one generation) and its posting lists."""

    reader: Any
    deleted: npt.NDArray[np.bool_]
    _postings: Lru[tuple[str, str], tuple[Ids, Weights]] = field(
        default_factory=lambda: Lru(CACHE_BYTES, _array_bytes)
    )
    _positions: Lru[tuple[str, str], Positions] = field(
        default_factory=lambda: Lru(CACHE_BYTES // 2, _positions_bytes)
    )
    _phrases: Lru[Chain, Ids] = field(default_factory=lambda: Lru(KEPT))
    _lengths: dict[str, Weights] = field(default_factory=dict)
    _frequencies: Lru[tuple[str, str], int] = field(default_factory=lambda: Lru(FREQUENCIES_KEPT))
    near: Any = None  # duplicates.Bands, built by the first search that merges copies
    _stored: StoredFields | None = None
    _io: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ reading Whoosh

    @classmethod
    def load(cls, reader: Any) -> Arrays:
        """The arrays of a Whoosh reader: its passages, their documents, facets, dates and positions."""
        arrays = cls.bare(reader)
        for name in SINGLE + MULTI:
            found = ((value, arrays.term(name, value)) for value in _terms(reader, name))
            arrays.index_facet(name, found, UNDATED if name == "year" else None)
        arrays.index_dates((value, arrays.term("date", value)) for value in sorted(_terms(reader, "date")))
        return arrays

    @classmethod
    def bare(cls, reader: Any) -> Arrays:
        """The arrays of a Whoosh reader without its facets and dates: its passages, their documents and
        positions (what finding copies needs, `copylinks.found`)."""
        n = reader.doc_count_all()
        arrays = cls(reader=reader, doc_count=n, deleted=deleted_mask(reader, n))
        arrays.index_documents(arrays.term("kind", PASSAGE), arrays.term("kind", DOCUMENT))
        arrays.position = position_column(reader, n)
        return arrays

    def stored(self, docnum: int) -> dict[str, Any]:
        """A docnum's stored fields, as Whoosh's `stored_fields` gives them (`codec.reader.StoredFields`:
        positional reads, so any thread reads them at once)."""
        reads = self._stored
        if reads is None:
            reads = self._stored = StoredFields(self.reader, self._io)
        return reads(docnum)

    def term(self, fieldname: str, text: str) -> Ids:
        """The live docnums holding a term."""
        return self.postings(fieldname, text)[0]

    def postings(self, fieldname: str, text: str) -> tuple[Ids, Weights]:
        """The live docnums holding a term, and the term's weight (frequency x field boost) in each."""
        with self._io:  # one reader's files serve every thread: reads and the cache go one at a time
            key = (fieldname, text)
            cached = self._postings.get(key)
            if cached is not None:
                return cached
            ids, weights, _ = self._read(fieldname, text, values=False)
            return self._postings.put(key, (ids, weights))

    def positions(self, fieldname: str, text: str) -> Positions:
        """The positions of a term in each live docnum of `postings(fieldname, text)`; Unsupported in
        a field whose values are not `RawPositions` (an index of an older schema: Whoosh reads it)."""
        with self._io:
            key = (fieldname, text)
            cached = self._positions.get(key)
            if cached is not None:
                return cached
            if type(self.reader.schema[fieldname].format) is not RawPositions:
                raise Unsupported(f"positions of {fieldname} in another format")
            return self._positions.put(key, position_lists(self._read(fieldname, text, values=True)[2]))

    def _read(self, fieldname: str, text: str, values: bool) -> tuple[Ids, Weights, list[bytes]]:
        """A term's postings over every segment, deleted documents left out (the caller holds `_io`)."""
        ids_parts: list[Ids] = []
        weight_parts: list[Weights] = []
        found: list[bytes] = []
        for leaf, offset in self.reader.leaf_readers():
            try:
                ids, weights = read_postings(leaf, fieldname, text, found if values else None)
            except UnknownLayout as e:
                raise Unsupported(str(e)) from e
            if ids.size:
                ids_parts.append(ids + offset)
                weight_parts.append(weights)
        self._frequencies.put((fieldname, text), sum(part.size for part in ids_parts))  # deleted ones too
        if not ids_parts:
            return EMPTY, np.empty(0, dtype=np.float64), found
        ids = np.concatenate(ids_parts)
        weights = np.concatenate(weight_parts)
        if self.deleted.any():
            keep = ~self.deleted[ids]
            ids, weights = ids[keep], weights[keep]
            if values:
                found = list(itertools.compress(found, keep))
        return ids, weights, found

    def idf(self, fieldname: str, text: str) -> float:
        """Whoosh's idf of a term, as BM25F takes it from `WeightingModel.idf`: log(N / (df + 1)) + 1,
        N counting every docnum and df every docnum holding the term, deleted ones included."""
        return math.log(self.doc_count / (self.doc_frequency(fieldname, text) + 1)) + 1

    def doc_frequency(self, fieldname: str, text: str) -> int:
        """How many docnums hold a term, deleted ones too (as Whoosh counts it), kept: Whoosh sums it over
        every segment, looking the term up in each (a build writes one per `indexer.SEGMENT_PASSAGES`), and a term
        whose postings were read has it already."""
        with self._io:
            key = (fieldname, text)
            found = self._frequencies.get(key)
            if found is None:
                found = self._frequencies.put(key, int(self.reader.doc_frequency(fieldname, text)))
            return found

    def lengths(self, fieldname: str) -> Weights:
        """Each docnum's length in a field, as Whoosh stores it (one byte, lossy above 108)."""
        with self._io:
            if fieldname not in self._lengths:
                parts = [segment_lengths(leaf, fieldname) for leaf, _ in self.reader.leaf_readers()]
                self._lengths[fieldname] = np.concatenate(parts) if parts else np.zeros(0)
            return self._lengths[fieldname]

    # ------------------------------------------------------------------ evaluating

    def phrase(
        self,
        chain: Chain,
        deadline: Deadline | None = None,
        within: Ids | None = None,
        negated: bool = False,
    ) -> Ids:
        """The docnums holding each (field, key) of `chain` in order, each at its distance from the
        previous one (or within its range of distances, in a sloppy phrase).

        This is what our phrase queries (nested ordered SpanNear of mindist <= slop) match in Whoosh;
        tests compare the two. Positions are decoded only for the docnums holding every word, and only for
        those in `within` when given (then the answer is exact inside `within` only). Past the
        `deadline`, the candidates verified so far are the answer: a subset of the matches, never
        cached beyond the request; `negated` (the phrase is excluded) counts the unverified ones as
        matches instead, so that a query's partial answer never holds a passage it should not.
        """
        kept = within is None and not negated
        if kept:
            found = self._kept_phrase(chain, deadline)
            if found is not None:
                return found
        found, complete = self._verified(chain, deadline, within, negated)
        if deadline is not None and not complete:
            return deadline.stopped(chain, found, kept)
        if kept:
            with self._io:
                self._phrases.put(chain, found)
        return found

    def _kept_phrase(self, chain: Chain, deadline: Deadline | None) -> Ids | None:
        """A phrase's matches kept by the generation, or (partial) by the request; None if by neither."""
        with self._io:
            found = self._phrases.get(chain)
        if found is None and deadline is not None:
            found = deadline.partial.get(chain)
        return found

    def _verified(
        self, chain: Chain, deadline: Deadline | None, within: Ids | None, negated: bool
    ) -> tuple[Ids, bool]:
        """The docnums verified to hold a phrase (see `phrase`), and whether all candidates were verified
        before the deadline (if not, and `negated`, the unverified ones are in the answer)."""
        lists = self._word_docnums(chain, deadline)
        if len(lists) < len(chain):  # the deadline passed while reading the words' docnums
            return functools.reduce(intersect, lists, self.live_passages) if negated else EMPTY, False
        candidates = functools.reduce(intersect, sorted(lists, key=len))
        if within is not None:
            candidates = intersect(candidates, within)
        if not candidates.size:
            return EMPTY, True
        words = self._words(chain, lists, candidates, deadline)
        if len(words) < len(chain):  # the deadline passed while reading their positions
            return candidates if negated else EMPTY, False
        reach = None if exact(chain) else [(low, high) for _, _, low, high in chain[1:]]
        keep, done = verify(words, candidates.size, deadline, reach)
        found: Ids = candidates[:done][keep[:done]]
        if done == candidates.size:
            return found, True
        if negated:  # the unverified candidates are excluded too
            found = np.concatenate([found, candidates[done:]])
        return found, False

    def _word_docnums(self, chain: Chain, deadline: Deadline | None) -> list[Ids]:
        """The docnums holding each word of a phrase (the words read before the deadline only)."""
        lists: list[Ids] = []
        for fieldname, text, *_ in chain:
            if deadline is not None and deadline.expired():
                break
            lists.append(self.term(fieldname, text))
        return lists

    def _words(
        self, chain: Chain, lists: list[Ids], candidates: Ids, deadline: Deadline | None
    ) -> list[Word]:
        """Each word's positions in each candidate, with its offset (the words read before the deadline
        only)."""
        words: list[Word] = []
        for (fieldname, text, *_), ids, offset in zip(chain, lists, offsets(chain), strict=True):
            if deadline is not None and deadline.expired():
                break
            words.append(Word.of(self.positions(fieldname, text), ids, candidates, offset))
        return words

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
        if isinstance(q, wq.Term):
            return self.term(q.fieldname, _text(q.text))
        if isinstance(q, SpanNear):
            return self.phrase(_chain(q), deadline, within, negated)
        if isinstance(q, wq.Every):
            return self.live_passages
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return EMPTY

        def sub(query: wq.Query) -> Ids:
            return self.evaluate(query, deadline, within, negated)

        def excluded(query: wq.Query) -> Ids:
            return self.evaluate(query, deadline, within, not negated)

        return self._combined(q, sub, excluded)

    def _combined(self, q: wq.Query, sub: _Evaluate, excluded: _Evaluate) -> Ids:
        """A compound query's docnums from its parts': `sub` evaluates a part, `excluded` a negated one."""
        if isinstance(q, wq.AndNot):
            return np.setdiff1d(sub(q.a), excluded(q.b), assume_unique=True)
        if isinstance(q, wq.And):
            positive = [s for s in q.subqueries if not isinstance(s, wq.Not)]
            if not positive:
                raise Unsupported("only negations")
            out = functools.reduce(intersect, sorted((sub(s) for s in positive), key=len))
            for neg in [s.query for s in q.subqueries if isinstance(s, wq.Not)]:
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

    # ------------------------------------------------------------------ ranking

    def scores(
        self, q: wq.Query, candidates: Ids, searcher: Any, deadline: Deadline | None = None
    ) -> Weights:
        """BM25F scores of `candidates` for `q`, as Whoosh's default weighting computes them.

        Past the `deadline`, a phrase's words score only where the phrase was verified in time."""
        return ranking.term_scores(self, _scored_terms(q), candidates, searcher, deadline)

    def top(
        self,
        q: wq.Query,
        candidates: Ids,
        k: int,
        searcher: Any,
        coordination: list[tuple[Ids, float]] | None = None,
        deadline: Deadline | None = None,
        after: tuple[float, int] | None = None,
        near: ranking.Near | None = None,
        crowd: ranking.Crowd | None = None,
        scores: Weights | None = None,
    ) -> list[tuple[int, float]]:
        """The k best candidates by score (ties: lower docnum first), with their scores.

        With `coordination` (for each word of a loosened query, its passages and its weight), a
        candidate's score is multiplied by (weight of its words / weight of all)^COORDINATION:
        complete matches lead, and a passage with the rare words beats one with the common ones.
        With `after` (the score and docnum of the last hit of a previous page), only the candidates
        ranked after it compete: the next page costs one partition of k, not a ranking of all before it.
        With `near` (a plain query's words), the passages holding them together score up to
        `ranking.PROXIMITY` more (`ranking.top`). With `crowd`, at most `crowd.per_document` passages of
        each document. `scores`: the candidates' scores from `ranking.scored` with the same arguments,
        when already computed (a second ranking of the same matches, longer, costs no scoring).
        """
        return ranking.top(
            self, q, candidates, k, searcher, coordination, deadline, after, near, crowd, scores
        )


def _text(text: object) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def _terms(reader: Any, fieldname: str) -> list[str]:
    return [b.decode("utf-8") for b in reader.lexicon(fieldname)]


def _scored_terms(q: wq.Query, boost: float = 1.0) -> list[ranking.Scored]:
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
        return [(fieldname, text, boost * getattr(q, "boost", 1.0), chain) for fieldname, text, *_ in chain]
    out: list[ranking.Scored] = []
    for sub in q.children():
        out.extend(_scored_terms(sub, boost * getattr(q, "boost", 1.0)))
    if isinstance(q, wq.And):  # Whoosh scores each `NOT x` of an AND as 1.0 where it lets a passage through
        out.extend(ranking.EVERY for sub in q.subqueries if isinstance(sub, wq.Not))
    return out


def _chain(q: wq.Query) -> Chain:
    """A phrase (`archive.phrasing` nests ordered SpanNear(a, Term, slop=most, mindist=least)) as each
    word with the least and most positions it stands after the previous one; Unsupported for other spans."""
    if isinstance(q, wq.Term):
        return ((q.fieldname, _text(q.text), 0, 0),)
    if isinstance(q, SpanNear) and q.ordered and 1 <= q.mindist <= q.slop and isinstance(q.b, wq.Term):
        return (*_chain(q.a), (q.b.fieldname, _text(q.b.text), q.mindist, q.slop))
    raise Unsupported(f"span query {q!r}")
