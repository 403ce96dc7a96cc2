"""Ranking matches: BM25F scores computed as Whoosh computes them, coordination, and the top k.

Whoosh scores a match by summing, over the query's positive terms, BM25F of the term's weight in the
document (`searcher.idf`, `searcher.avg_field_length` and the stored field length, with Whoosh's default
`B` and `K1`, kept in the codec), times the term's boost; a phrase's words count only where the phrase
is. Here the same sum is taken over all candidates at once. `tests/test_postings.py` compares scores
and order with Whoosh's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .codec.reader import BM25_B, BM25_K1
from .idsets import Ids

if TYPE_CHECKING:
    from .deadline import Deadline
    from .phrases import Chain
    from .postings import Arrays

COORDINATION = 1.0
"""The power of a loosened query's coverage that multiplies a candidate's score (`postings.Arrays.top`)."""

Scored = tuple[str, str, float, "Chain | None"]
"""A positive term of a query: field, text, boost, and the phrase it must form to score, if any."""

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
            idf = searcher.idf(fieldname, text)
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
