"""A search's plan and ranking: what a query and its filters match, and those matches in order.

Shared by a page of results and an export. The plan parses and expands the query, applies the filters
and loosens a plain query that few passages match in full (relaxation.py); the ranking reads the first
hits of the plan in the request's order, by relevance on our arrays (Whoosh scores the spans it alone
can), or by date, from where a cursor left off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from . import postings, query, ranking, relaxation
from .deadline import Deadline
from .errors import UsageError
from .facets import narrowed, selections
from .generations import Generation
from .idsets import Ids
from .ranking import Crowd
from .request import SearchRequest
from .suggestions import suggest

PER_DOCUMENT = 2
"""Passages of one document a results list shows at most (host crowding, as web search does): page 1 of
10 hits then holds five documents at least, and each of its hits says how many more passages of its
document match (`Hit.more_in_document`), linking to them. Two, not three: a passage of up to 200 words
already shows whether a document is worth opening, and at three a single long report still held a third
of page 1 on the sample archive. `SearchRequest.crowding=False` gives the plain passage ranking."""

SortKey = tuple[float, int] | tuple[int, int, int]
"""Where a page starts: (score, docnum) after a relevance ranking, (date rank, position, docnum) by date."""


@dataclass
class Plan:
    """A search's matches and ranking, before a page of it is read."""

    parsed: query.Parsed
    matched: Ids  # what the query matches, before filters (facet counts start from it)
    selections: dict[str, Ids]
    final: Ids  # what the query and filters match
    scoring: query.Query | None
    coordination: list[tuple[Ids, float]] | None
    interpretation: str
    relaxed: bool
    complete: int = 0  # passages matching the query in full (with the filters), before any loosening
    corrected: str | None = None  # the query searched instead of the request's, which found nothing
    scored: ranking.Scores | None = field(default=None, init=False, repr=False, compare=False)
    """The ranking scores of `final`, once computed: a list that needs a longer ranking (copies left out of
    a page) costs no second scoring. Not an argument: a copy of the plan narrowed to other passages
    (`dataclasses.replace`) starts without them."""

    def scores(self, gen: Generation, scoring: query.Query, deadline: Deadline) -> ranking.Scores:
        """The ranking scores of `final` for `scoring` (the plan's, `ranking.scored`), computed once."""
        if self.scored is None:
            self.scored = ranking.scored(
                gen.arrays, scoring, self.final, gen.searcher, self.coordination, deadline, self.parsed.near
            )
        return self.scored


def plan(gen: Generation, parsers: query.Parsers, request: SearchRequest, deadline: Deadline) -> Plan:
    """What a search matches and how it ranks it: shared by a page of results and an export."""
    arrays = gen.arrays
    parsed = query.parse(parsers, request.query)
    q = parsed.query
    ranking: query.Query | None = None
    if q is not None:
        q = query.expand(q, gen.vocabulary, parsed.notes, deadline.expired)
        ranking = (
            query.expand(parsed.scoring, gen.vocabulary, [], deadline.expired)
            if parsed.scoring is not None
            else q
        )
    matched = arrays.live_passages if q is None else gen.docs(q, deadline)
    chosen = selections(arrays, request)
    final = narrowed(matched, chosen.values())
    out = Plan(parsed, matched, chosen, final, ranking, None, parsed.interpretation, False, int(final.size))
    if relaxation.applies(parsed, final):
        relaxed = relaxation.relax(gen, parsed, final, chosen.values(), deadline)
        if relaxed.passages.size > final.size:
            out.relaxed = True
            out.final = out.matched = relaxed.passages
            out.coordination = relaxed.weights
            out.scoring = query.any_of(parsed.scoring_parts)
            out.interpretation = relaxed.interpretation
            parsed.notes.insert(0, relaxed.note)
    return out


def corrected(
    gen: Generation,
    parsers: query.Parsers,
    request: SearchRequest,
    found: Plan,
    suggestion: str | None,
    deadline: Deadline,
) -> Plan:
    """`found`, or the plan of the `suggestion` (a spelling correction of the request's query) when the
    query matches no passage in full and the suggestion does, and the request allows it (`correct`)."""
    if not suggestion or not request.correct or found.complete or deadline.expired():
        return found
    other = plan(gen, parsers, replace(request, query=suggestion), deadline)
    if not other.complete:
        return found
    other.corrected = suggestion
    return other


def searched(
    gen: Generation, parsers: query.Parsers, request: SearchRequest, deadline: Deadline
) -> tuple[Plan, str | None, bool]:
    """The plan a search answers with: its own, or its spelling suggestion's when the query matches no
    passage in full and the suggestion does (`corrected`); the suggestion left to offer (None once used),
    and whether it was looked for (only a query matching nothing needs it before its ranking).

    One definition for a page of results, an export and a document's matches, so that they agree."""
    found = plan(gen, parsers, request, deadline)
    if not request.correct or found.complete:
        return found, None, False
    offered = suggestion(gen, found.parsed, deadline)
    found = corrected(gen, parsers, request, found, offered, deadline)
    return found, None if found.corrected else offered, True


def suggestion(gen: Generation, parsed: query.Parsed, deadline: Deadline) -> str | None:
    """A spelling suggestion for the query, unless the search is already out of time."""
    return None if deadline.expired() else suggest(gen, parsed.text, parsed.words, deadline)


def ranked(
    gen: Generation,
    request: SearchRequest,
    plan: Plan,
    needed: int,
    deadline: Deadline,
    after: SortKey | None = None,
    crowd: Crowd | None = None,
) -> list[tuple[int, float]]:
    """The first `needed` (docnum, score) pairs of the plan's matches, in the request's order; with
    `after` (the sort key of a previous page's last hit, see `sort_key`), the first that follow it;
    with `crowd`, at most `crowd.per_document` passages of each document (its best by relevance, its
    first by date).

    Scores are exact here (a cursor compares them); hits round them for display.
    """
    candidates = plan.final
    if request.sort != "relevance" or plan.scoring is None:
        dated = after if after is None or len(after) == 3 else None
        listed = crowd.first(candidates) if crowd is not None else candidates
        return [(d, 0.0) for d in gen.arrays.sorted_page(listed, needed, request.sort != "oldest", dated)]
    scored = after if after is None or len(after) == 2 else None
    if not candidates.size:
        return []
    try:
        scores = plan.scores(gen, plan.scoring, deadline)
        out = gen.arrays.top(
            plan.scoring, candidates, needed, gen.searcher, after=scored, crowd=crowd, scores=scores
        )
    except postings.Unsupported:  # spans Whoosh scores itself, in the time left
        out = gen.ranked(plan.scoring, candidates, needed, deadline, scored)
        if crowd is not None:  # its best few per document among what it ranked
            ranks = crowd.ranks(np.array([d for d, _ in out], dtype=np.int64))
            out = [hit for hit, rank in zip(out, ranks, strict=True) if rank < crowd.per_document]
    return out[:needed]


def by_document(
    gen: Generation, request: SearchRequest, plan: Plan, first: int, count: int, deadline: Deadline
) -> list[tuple[int, float]]:
    """Documents `first` to `first + count` of the list grouped by document (ranked by their best passage,
    or their first by date), each followed by its next best passages: PER_DOCUMENT of each at most, the
    passages of one document together."""
    if plan.final.size == 0:
        return []
    document_of = gen.arrays.document_of
    leads = ranked(gen, request, plan, first + count, deadline, crowd=Crowd(1, document_of))[first:]
    if not leads:
        return []
    documents = document_of[np.array([d for d, _ in leads], dtype=np.int64)]
    theirs = replace(plan, final=plan.final[np.isin(document_of[plan.final], documents)])
    each = ranked(
        gen, request, theirs, len(leads) * PER_DOCUMENT, deadline, crowd=Crowd(PER_DOCUMENT, document_of)
    )
    order = {int(d): i for i, d in enumerate(documents)}
    return sorted(each, key=lambda hit: order[int(document_of[hit[0]])])  # stable: rank order within


def crowding(gen: Generation, request: SearchRequest) -> Crowd | None:
    """How the request's list is crowded: PER_DOCUMENT passages of a document at most, unless it asks
    for the plain passage ranking (`crowding=False`)."""
    return Crowd(PER_DOCUMENT, gen.arrays.document_of) if request.crowding else None


def listed(plan: Plan, crowd: Crowd | None) -> tuple[int, Callable[[int], int]]:
    """How many passages the crowded list holds in all, and for a passage of the list how many matching
    passages of its document the list leaves out (0 without crowding)."""
    final = plan.final
    if crowd is None or not final.size:
        return int(final.size), lambda _docnum: 0
    # sorted docnums: a document's passages are consecutive (see Columns.distinct_documents)
    owners = crowd.document_of[final]
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    runs = np.diff(np.r_[starts, final.size])
    shown = np.minimum(runs, crowd.per_document)

    def left(docnum: int) -> int:
        run = int(np.searchsorted(starts, np.searchsorted(final, docnum), "right")) - 1
        return int(runs[run] - shown[run])

    return int(shown.sum()), left


def sort_key(after: tuple[float, ...], by_score: bool) -> SortKey:
    """A cursor's position as the order of its search reads it: (score, docnum) for a relevance
    ranking, (date rank, position, docnum) for a date order (`Arrays.sort_key`); UsageError otherwise."""
    if by_score and len(after) == 2 and isinstance(after[1], int):
        return float(after[0]), after[1]
    if not by_score and len(after) == 3 and all(isinstance(v, int) for v in after):
        return int(after[0]), int(after[1]), int(after[2])
    raise UsageError("cursor does not fit this search's order: use the next_cursor of a response", "cursor")
