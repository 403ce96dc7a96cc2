"""Ranking matches: BM25F scores computed as Whoosh computes them, coordination, proximity, and the top k.

Whoosh scores a match by summing, over the query's positive terms, BM25F of the term's weight in the
document (its idf, `searcher.avg_field_length` and the stored field length, with Whoosh's default
`B` and `K1`, kept in the codec), times the term's boost; a phrase's words count only where the phrase
is. Here the same sum is taken over all candidates at once. `tests/test_postings.py` compares scores
and order with Whoosh's own.

On top of Whoosh's score, a plain query of several words rewards the passages where its words stand
together (`proximity`), as Lucene-based engines add an implicit sloppy phrase to a query of words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .codec.reader import BM25_B, BM25_K1
from .idsets import Ids, coverage
from .phrases import Word

if TYPE_CHECKING:
    from .deadline import Deadline
    from .phrases import Chain
    from .postings import Arrays

COORDINATION = 1.0
"""The power of a loosened query's coverage that multiplies a candidate's score (`postings.Arrays.top`)."""

PROXIMITY = 0.3
"""How much more a passage scores where a plain query's words stand together, at most (x 1.3): the score
is multiplied by 1 + PROXIMITY x `proximity`. Measured with `make bench-quality`'s measures (issue 13), the
weight flipped on one index in one run: known-item MRR@10 0.399 -> 0.498 and judged nDCG@10 0.615 ->
0.617 with the analyzer of issue 12 (0.433 -> 0.530 and 0.610 -> 0.612 with a lighter stemmer); 0.1 to
1.0 all kept nDCG within 0.002 while MRR rose with the weight. Adding BM25F of the phrase frequency
instead (Lucene's way) raised MRR as much but cost nDCG (0.612): it rewards passages that repeat a
common phrase (lists, headings), and a pair-by-pair version rewarded common pairs (0.590)."""

PROXIMITY_SLOP = 3
"""The words count as together up to this many positions off their distances in the query, in all."""

PROXIMITY_WINDOW = 200
"""Proximity is read for the candidates of the best BM25F scores only, this many (the rest keep their
score and stay behind them, since the factor is at least 1): a top 10 does not read the positions of
100,000 passages. Fixed, not derived from the page asked for, so that every page ranks the same way."""

Near = list[tuple[str, int]]
"""A plain query's words: each index key with its position in the query (stop words counted)."""

Scored = tuple[str, str, float, "Chain | None"]
"""A positive term of a query: field, text, boost, and the phrase it must form to score, if any."""

EVERY: Scored = ("", "", 1.0, None)
"""A constant 1.0 for every candidate: what Whoosh's `InverseMatcher` scores for a `NOT` inside an AND."""

Scores = npt.NDArray[np.float64]


def bm25f(weights: Scores, lengths: Scores, idf: float, average_length: float) -> Scores:
    """Whoosh's `BM25FScorer` for a term's weights in documents of the given field lengths."""
    return idf * (
        (weights * (BM25_K1 + 1)) / (weights + BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / average_length))
    )


def term_scores(
    arrays: Arrays, terms: list[Scored], candidates: Ids, searcher: Any, deadline: Deadline | None = None
) -> Scores:
    """The sum, for each candidate, of the BM25F scores of the `terms` it holds (Whoosh's `searcher`
    gives the term statistics). Past the `deadline`, the candidates are ranked on the terms scored in
    time, and a phrase's words score only where the phrase was verified in time."""
    total = np.zeros(candidates.size, dtype=np.float64)
    for fieldname, text, boost, chain in terms:
        if deadline is not None and deadline.expired():
            deadline.cut = True
            break
        if not fieldname:  # EVERY
            total += boost
            continue
        ids, weights = arrays.postings(fieldname, text)
        if not ids.size:
            continue
        where = np.searchsorted(ids, candidates)
        where[where >= ids.size] = 0
        present = ids[where] == candidates
        if chain is not None:  # a phrase's words score where the phrase is, as in Whoosh
            present &= np.isin(candidates, arrays.phrase(chain, deadline), assume_unique=True)
        if not present.any():
            continue
        w = weights[where[present]]
        if searcher.schema[fieldname].scorable:
            idf = arrays.idf(fieldname, text)
            average = searcher.avg_field_length(fieldname) or 1
            s = bm25f(w, arrays.lengths(fieldname)[candidates[present]], idf, average)
        else:
            s = w
        total[present] += s * boost
    return total


def best(
    candidates: Ids, scores: Scores, k: int, after: tuple[float, int] | None = None
) -> list[tuple[int, float]]:
    """The k best candidates by score (ties: lower docnum first), with their scores; with `after`
    (the score and docnum of a previous page's last hit), only the candidates ranked after it."""
    if after is not None:
        later = _later(candidates, scores, after)
        candidates, scores = candidates[later], scores[later]
        if not candidates.size:
            return []
    order = _best_indices(candidates, scores, k)
    return [(int(candidates[i]), float(scores[i])) for i in order]


def _later(candidates: Ids, scores: Scores, after: tuple[float, int]) -> npt.NDArray[np.bool_]:
    """Which candidates a ranking puts after (score, docnum) `after`."""
    last_score, last_docnum = after
    later: npt.NDArray[np.bool_] = (scores < last_score) | (
        (scores == last_score) & (candidates > last_docnum)
    )
    return later


def _best_indices(candidates: Ids, scores: Scores, k: int) -> npt.NDArray[np.intp]:
    """Indices of the k best candidates, in ranked order (score down, then docnum up)."""
    if candidates.size > k:
        cut = np.argpartition(-scores, k - 1)[:k]
        threshold = scores[cut].min()
        keep = np.nonzero(scores >= threshold)[0]  # every tie at the threshold, to order by docnum
    else:
        keep = np.arange(candidates.size)
    return keep[np.lexsort((candidates[keep], -scores[keep]))[:k]]


def best_crowded(
    candidates: Ids, scores: Scores, k: int, crowd: Crowd, after: tuple[float, int] | None = None
) -> list[tuple[int, float]]:
    """`best`, keeping only the `crowd.per_document` best passages of each document (host crowding).

    Exact without ranking every candidate: whether a passage is among its document's best depends only
    on the passages ranked above it, which are all among the m best whenever it is; so the m best are
    crowded, m growing until they give k (after `after`, whose earlier passages count too)."""
    m = min(candidates.size, max(4 * k, 64))
    while True:
        ranked = _best_indices(candidates, scores, m)
        kept = ranked[crowd.ranks(candidates[ranked]) < crowd.per_document]
        if after is not None:
            kept = kept[_later(candidates[kept], scores[kept], after)]
        if kept.size >= k or m >= candidates.size:
            return [(int(candidates[i]), float(scores[i])) for i in kept[:k]]
        m = min(candidates.size, m * 4)


@dataclass(frozen=True)
class Crowd:
    """How many passages of one document a results list shows, and each passage's document."""

    per_document: int
    document_of: npt.NDArray[np.int64]  # by docnum

    def ranks(self, docnums: Ids) -> npt.NDArray[np.int64]:
        """For passages in a list's order, how many passages of the same document come before each."""
        return occurrences(self.document_of[docnums])

    def first(self, candidates: Ids) -> Ids:
        """The sorted `candidates` that are among the first `per_document` of their document, by position
        (a document's passages have consecutive docnums, in the order of their positions)."""
        return candidates[self.ranks(candidates) < self.per_document]


def occurrences(groups: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each item of a sequence, how many items of the same group come before it."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    out = np.empty(groups.size, dtype=np.int64)
    out[order] = np.arange(groups.size) - run_start
    return out


def top(
    arrays: Arrays,
    q: Any,
    candidates: Ids,
    k: int,
    searcher: Any,
    coordination: list[tuple[Ids, float]] | None = None,
    deadline: Deadline | None = None,
    after: tuple[float, int] | None = None,
    near: Near | None = None,
    crowd: Crowd | None = None,
    scores: Scores | None = None,
) -> list[tuple[int, float]]:
    """The k best candidates for `q` (see `postings.Arrays.top`) by their `scored` scores, or by `scores`
    when given (the same, computed earlier for the same candidates); with `crowd`, at most
    `crowd.per_document` of each document (`best_crowded`)."""
    if not candidates.size or k <= 0:
        return []
    if scores is None:
        scores = scored(arrays, q, candidates, searcher, coordination, deadline, near)
    if crowd is not None:
        return best_crowded(candidates, scores, k, crowd, after)
    return best(candidates, scores, k, after)


def scored(
    arrays: Arrays,
    q: Any,
    candidates: Ids,
    searcher: Any,
    coordination: list[tuple[Ids, float]] | None = None,
    deadline: Deadline | None = None,
    near: Near | None = None,
) -> Scores:
    """The ranking score of each candidate for `q`: BM25F (`Arrays.scores`), raised by up to PROXIMITY
    where the words of `near` (a plain query's) stand together (`proximity`), and times the coverage of
    a loosened query's words (`coordination`)."""
    scores = arrays.scores(q, candidates, searcher, deadline)
    if near and len(near) > 1 and PROXIMITY and not (deadline is not None and deadline.expired()):
        scores = scores * (1 + PROXIMITY * proximity(arrays, near, candidates, scores))
    if coordination:
        scores = scores * coverage(candidates, coordination) ** COORDINATION
    return scores


def proximity(arrays: Arrays, near: Near, candidates: Ids, scores: Scores) -> Scores:
    """How closely each candidate's passage holds a plain query's words together, from 0 (never all
    within reach) to 1: the sloppy frequency of the words as a phrase, capped at 1. An occurrence is the
    words in the query's order, each near its distance to the previous one in the query (stop words
    counted), PROXIMITY_SLOP positions off at most in all; it counts 1 / (1 + the positions it is off by),
    so an exact occurrence counts 1. Lucene's implicit sloppy phrase, as a factor rather than a score of
    its own. Only the PROXIMITY_WINDOW best `scores` are read."""
    out = np.zeros(candidates.size, dtype=np.float64)
    window = np.sort(np.lexsort((candidates, -scores))[:PROXIMITY_WINDOW])  # indices, in docnum order
    held, together = _together(arrays, near, candidates[window])
    out[window[held]] = together
    return out


PROXIMITY_FIELD = "content"
"""Proximity is read in the passage's text (headings and titles are too short to say much)."""


def _together(arrays: Arrays, near: Near, chosen: Ids) -> tuple[Ids, Scores]:
    """Which of `chosen` hold every word of `near` (their indices), and how closely each holds them
    together (see `proximity`)."""
    ids = [arrays.term(PROXIMITY_FIELD, key) for key, _ in near]
    held = np.nonzero(np.logical_and.reduce([_member(chosen, i) for i in ids]))[0]
    if not held.size:
        return held, np.zeros(0)
    both = chosen[held]

    def keys(n: int) -> Ids:  # word n's positions in each of `both`, as `index << 32 | position`
        return Word.of(arrays.positions(PROXIMITY_FIELD, near[n][0]), ids[n], both, 0).starts(0, both.size)

    ends = keys(0)
    cost = np.zeros(ends.size)
    for n in range(1, len(near)):
        gap = near[n][1] - near[n - 1][1]
        current = keys(n)
        best = np.full(current.size, np.inf)
        for distance in range(max(1, gap - PROXIMITY_SLOP), gap + PROXIMITY_SLOP + 1):  # in order only
            where = np.minimum(np.searchsorted(ends, current - distance), max(ends.size - 1, 0))
            found = ends[where] == current - distance if ends.size else np.zeros(current.size, dtype=bool)
            np.minimum(best, np.where(found, cost[where] + abs(distance - gap), np.inf), out=best)
        kept = best <= PROXIMITY_SLOP
        ends, cost = current[kept], best[kept]
        if not ends.size:
            break
    frequency = np.bincount((ends >> 32).astype(np.int64), weights=1 / (1 + cost), minlength=both.size)
    return held, np.minimum(frequency, 1.0)


def _member(values: Ids, sorted_ids: Ids) -> npt.NDArray[np.bool_]:
    """Whether each of `values` is in `sorted_ids`."""
    if not sorted_ids.size:
        return np.zeros(values.size, dtype=np.bool_)
    where = np.searchsorted(sorted_ids, values)
    where[where >= sorted_ids.size] = 0
    return np.asarray(sorted_ids[where] == values)
