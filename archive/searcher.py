"""The read side of an archive's index: `Searcher` answers searches, exports, document views and stats.

It coordinates the modules that do the work, each on one index generation (generations.py: opening,
borrowing, retiring): planning.py (what a query and its filters match, ranked), relaxation.py (loosening
a plain query), facets.py (filters and facet counts), suggestions.py (spelling), viewer.py (the document
view) and stats.py (what the index holds). Everything returned is the core's own dataclasses.
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import Any

from . import phrasing, planning, query, stats, viewer
from .cursor import Cursors, Position
from .deadline import SEARCH_DEADLINE, Deadline, noted
from .duplicates import Copies, distinct
from .excerpts import excerpts
from .facets import facet_counts
from .feed import FEED_ENTRIES, Feed, indexed_at, newest
from .generations import Generation, Generations, IndexVersion
from .highlighting import NOTHING, Marks, marked_words, render
from .models import FACETS
from .ranking import Crowd
from .request import SearchRequest
from .results import Copy, DocumentView, Hit, SearchResults, Stats
from .taxonomy import Taxonomy
from .wire import DOCUMENT_PAGE


class Searcher:
    """The read side of an archive's index. Thread-safe; cheap to keep open for the life of a process."""

    def __init__(self, index_dir: Path, taxonomy: Taxonomy) -> None:
        self.index_dir = index_dir
        self.taxonomy = taxonomy
        self.generations = Generations(index_dir)
        self._parser = query.make_parser()
        self._cursors = Cursors(index_dir)
        self.deadline = SEARCH_DEADLINE  # seconds; the time limit of every search, view and export

    def close(self) -> None:
        """Retire the open generation: closed now, or when the last request or export using it ends."""
        self.generations.close()

    def search(self, request: SearchRequest) -> SearchResults:
        """One page of ranked hits with facet counts; matching stops at SEARCH_DEADLINE (then notes say so)."""
        SearchRequest.check_filters(request.filters)
        started = time.perf_counter()
        deadline = Deadline(self.deadline)
        with self.generations.use() as gen:
            if gen is None:
                if request.cursor:  # made on an index that is gone: expired (when it is one of ours)
                    self._cursors.read(request.cursor, ("", -1), request)
                parsed = query.parse(self._parser, request.query)
                parsed.notes.append(
                    "l'index a été construit par une version précédente : lancez `archive reindex` pour le reconstruire"
                    if self.generations.outdated()
                    else "l'index n'est pas encore construit : lancez `archive reindex`"
                )
                return _empty(request, parsed, started)
            # a cursor is checked before any work: a broken or expired one costs nothing
            resume = self._cursors.read(request.cursor, gen.state, request) if request.cursor else None
            plan, suggestion, looked = planning.searched(gen, self._parser, request, deadline)
            crowd = planning.crowding(gen, request)
            copies = Copies(gen)
            if request.group:  # one entry per document: its passages are listed, copies or not
                start = (request.page - 1) * request.per_page
                hits = planning.by_document(gen, request, plan, start, request.per_page, deadline)
                offset, next_cursor, whole = start, None, None
            else:
                merge = copies if crowd is not None else None  # crowding=false: the plain passage ranking
                hits, offset, next_cursor, whole = self._page(
                    gen, request, plan, resume, crowd, merge, deadline
                )
            facets = facet_counts(gen.arrays, self.taxonomy, request.filters, plan.matched, plan.selections)
            parsed = plan.parsed
            if not looked:  # optional work, after the page's: a search out of time offers no suggestion
                suggestion = planning.suggestion(gen, parsed, deadline)
            marks = phrasing.marks(plan.scoring)
            listed, left = planning.listed(plan, crowd)
            if request.group:
                listed = gen.arrays.distinct_documents(plan.final)
            elif whole is not None:  # the end of the list was read: its copies merged, it is counted exactly
                listed = whole
            return SearchResults(
                query=request.query,
                interpreted_as=plan.interpretation,
                total=int(plan.final.size),
                documents=gen.arrays.distinct_documents(plan.final),
                page=offset // request.per_page + 1,
                per_page=request.per_page,
                hits=tuple(_hit(gen, d, score, marks, left(d), copies) for d, score in hits),
                facets=facets,
                suggestion=suggestion,
                relaxed=plan.relaxed,
                took_ms=(time.perf_counter() - started) * 1000,
                notes=noted(parsed.notes, deadline),
                next_cursor=next_cursor,
                corrected_query=plan.corrected,
                listed=listed,
                complete=plan.complete,
            )

    def _page(
        self,
        gen: Generation,
        request: SearchRequest,
        plan: planning.Plan,
        resume: Position | None,
        crowd: Crowd | None,
        merge: Copies | None,
        deadline: Deadline,
    ) -> tuple[list[tuple[int, float]], int, str | None, int | None]:
        """A page of the list: its (docnum, score) pairs, the hits before it, the next page's cursor, and
        how many passages the list holds when this page reached its end with copies merged (else None).

        With `merge`, the passages that are copies of one listed higher are left out (`duplicates.distinct`;
        after a cursor, of one higher on the same page)."""
        by_score = request.sort == "relevance" and plan.scoring is not None
        start = 0 if resume else (request.page - 1) * request.per_page
        after = planning.sort_key(resume.after, by_score) if resume else None
        # one more than the page: whether a next page exists, without counting what comes after it
        needed = start + request.per_page + 1

        def rank(n: int) -> list[tuple[int, float]]:
            return planning.ranked(gen, request, plan, n, deadline, after, crowd)

        ranked = rank(needed) if merge is None else distinct(rank, needed, merge)
        hits = ranked[start : start + request.per_page]
        offset = resume.offset if resume else start  # hits before this page
        if not hits or len(ranked) <= start + request.per_page:
            return hits, offset, None, len(ranked) if merge is not None and resume is None else None
        last, score = hits[-1]
        key = (score, last) if by_score else gen.arrays.sort_key(last, request.sort != "oldest")
        return hits, offset, self._cursors.make(gen.state, request, key, offset + len(hits)), None

    def export(self, request: SearchRequest, limit: int) -> Export:
        """Every match of a search in ranked order, up to `limit`, ranked once on one index generation.

        The generation stays open until the export is closed, however long its reader takes: rows are
        read in chunks (`Export.hits`), each from the same generation, so an export never mixes two
        states of the index. Matching stops at SEARCH_DEADLINE like a search's; `page` and `per_page`
        are ignored.
        """
        SearchRequest.check_filters(request.filters)
        deadline = Deadline(self.deadline)
        gen = self.generations.acquire()
        if gen is None:
            return Export(0, (), False, [], self.generations, None, NOTHING)
        try:
            with gen.borrowed():
                # corrected as its search is
                plan = planning.searched(gen, self._parser, request, deadline)[0]
                ranked = _export_order(gen, request, plan, limit, deadline)
        except BaseException:
            self.generations.release(gen)
            raise
        notes = noted(plan.parsed.notes, deadline)
        marks = phrasing.marks(plan.scoring)
        return Export(int(plan.final.size), notes, deadline.cut, ranked, self.generations, gen, marks)

    def feed(self, request: SearchRequest, limit: int = FEED_ENTRIES) -> Feed:
        """The newest `limit` passages a search matches (`feed.newest`: by date, then by indexing time),
        crowded as its list is, with its total and notes; `sort`, `page` and `per_page` are ignored."""
        SearchRequest.check_filters(request.filters)
        started = time.perf_counter()
        deadline = Deadline(self.deadline)
        with self.generations.use() as gen:
            if gen is None:
                return Feed(_empty(request, query.parse(self._parser, request.query), started), ())
            plan = planning.searched(gen, self._parser, request, deadline)[0]  # corrected as its search is
            crowd = planning.crowding(gen, request)
            docnums = newest(gen, crowd.first(plan.final) if crowd else plan.final, limit)
            listed, left = planning.listed(plan, crowd)
            marks = phrasing.marks(plan.scoring)
            results = SearchResults(
                query=request.query,
                interpreted_as=plan.interpretation,
                total=int(plan.final.size),
                documents=gen.arrays.distinct_documents(plan.final),
                page=1,
                per_page=max(limit, 1),
                hits=tuple(_hit(gen, d, 0.0, marks, left(d)) for d in docnums),
                facets={},
                suggestion=None,
                relaxed=plan.relaxed,
                took_ms=(time.perf_counter() - started) * 1000,
                notes=noted(plan.parsed.notes, deadline),
                corrected_query=plan.corrected,
                listed=listed,
                complete=plan.complete,
            )
            return Feed(results, tuple(indexed_at(gen, d) for d in docnums))

    def document(
        self,
        document_id: str,
        search: SearchRequest | str = "",
        page: int = 1,
        position: int | None = None,
        per_page: int = DOCUMENT_PAGE,
        at: int | None = None,
    ) -> DocumentView | None:
        """One page of a document's passages in order, and the passages `search` matches there marked.

        `search` is a search (or its query text): the document's matches are exactly the passages that
        search counts in this document, found by the same plan (filters, relaxation, correction), and
        marked as its hits are. `position` picks the page that holds that passage (and wins over `page`);
        `at`, a character offset of the clean text (a permalink's), the page of the passage holding it
        (`cited`), and wins over both. A page past the last one has no passages. `matches` lists the
        matching positions of the whole document; matching stops at SEARCH_DEADLINE like a search's.
        """
        viewer.check_page(page, position, per_page, at)
        request = SearchRequest(query=search) if isinstance(search, str) else search
        SearchRequest.check_filters(request.filters)
        deadline = Deadline(self.deadline)
        with self.generations.use() as gen:
            if gen is None:
                return None
            paging = (page, position, per_page)
            return viewer.view(gen, self._parser, document_id, request, paging, deadline, at)

    def records(self) -> dict[str, dict[str, Any]]:
        """Every indexed document's record: what `reindex` compares with the files and `check` verifies."""
        with self.generations.use() as gen:
            return stats.records(gen)

    def passage_counts(self) -> dict[str, int]:
        """How many passages the index really holds for each document."""
        with self.generations.use() as gen:
            return stats.passage_counts(gen)

    def stats(self) -> Stats:
        """Documents, passages, build time, size and facet counts of the live index."""
        with self.generations.use() as gen:
            return stats.stats(gen, self.taxonomy)

    def version(self) -> IndexVersion | None:
        """The live index's latest commit, without searching; None when there is no readable index."""
        return self.generations.version()


class Export:
    """A search's matches in ranked order, read in chunks from the one generation they were ranked on.

    Close it (or use it as a context manager) when done: the generation stays open until then, and
    until the export is garbage-collected at the latest.
    """

    def __init__(
        self,
        total: int,
        notes: tuple[str, ...],
        partial: bool,
        ranked: list[tuple[int, float]],
        generations: Generations,
        gen: Generation | None,
        marks: Marks,
    ) -> None:
        self.total = total  # every match, past the limit too
        self.notes = notes
        self.partial = partial  # matching stopped at the deadline
        self._ranked = ranked
        self._gen = gen
        self._marks = marks
        # The generation stays open (acquired) until the export is closed: the files of its reader, open
        # since it was, outlive its directory, which a later full reindex may delete while a slow client
        # is still reading the export. Hits are read with positional reads (`Generation.stored`).
        self._release = weakref.finalize(self, generations.release, gen) if gen is not None else None

    @property
    def rows(self) -> int:
        """How many hits the export holds (the total, or the limit when there were more)."""
        return len(self._ranked)

    def hits(self, start: int, stop: int) -> list[Hit]:
        """Hits `start` to `stop` of the ranking, highlighted, read from the export's generation."""
        gen = self._gen
        if gen is None or self._release is None or not self._release.alive:
            return []
        return [_hit(gen, d, s, self._marks) for d, s in self._ranked[start:stop]]

    def close(self) -> None:
        """Give the generation back (once; garbage collection does it otherwise)."""
        if self._release is not None:
            self._release()

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _export_order(
    gen: Generation, request: SearchRequest, plan: planning.Plan, limit: int, deadline: Deadline
) -> list[tuple[int, float]]:
    """Every match up to `limit`, in the order of the search's list (crowded, copies merged) then the
    passages the list left out, in ranked order: an export holds every match, the list's first."""
    if limit <= 0:
        return []
    crowd = planning.crowding(gen, request)
    first = planning.ranked(gen, request, plan, limit, deadline, crowd=crowd)
    if crowd is None:
        return first
    first = Copies(gen).merged(first)  # the copies left out, as the list does
    if len(first) >= limit or len(first) >= plan.final.size:
        return first
    listed = {d for d, _ in first}
    rest = planning.ranked(gen, request, plan, limit + len(first), deadline)
    return first + [hit for hit in rest if hit[0] not in listed][: limit - len(first)]


def _hit(
    gen: Generation, docnum: int, score: float, marks: Marks, more: int = 0, copies: Copies | None = None
) -> Hit:
    """A hit from its stored fields, its text highlighted with `marks`, and excerpted around them; with
    `copies`, the other documents holding its text."""
    stored = copies.stored(docnum) if copies is not None else gen.stored(docnum)
    data = stored["data"]
    spans, words = marked_words(data["text"], marks)
    record = gen.record(gen.arrays.record_of(docnum))
    return Hit(
        id=stored["id"],
        document=stored["doc"],
        position=data["position"],
        section=data["section"],
        title=record.get("title") or stored["doc"],
        date=record.get("date"),
        source=record.get("source"),
        type=record.get("type"),
        text=data["text"],
        highlight=render(data["text"], spans),
        agency=tuple(data["agency"]),
        offence=tuple(data["offence"]),
        score=round(score, 4),
        start=data["start"],
        more_in_document=more,
        excerpts=excerpts(data["text"], spans, words),
        duplicates=None if copies is None else tuple(Copy(*c) for c in copies.documents(docnum)),
    )


def _empty(request: SearchRequest, parsed: query.Parsed, started: float) -> SearchResults:
    """The answer of an archive without a readable index: no hits, every facet empty, a note."""
    return SearchResults(
        query=request.query,
        interpreted_as=parsed.interpretation,
        total=0,
        documents=0,
        page=request.page,
        per_page=request.per_page,
        hits=(),
        facets={f: () for f in FACETS},
        suggestion=None,
        relaxed=False,
        took_ms=(time.perf_counter() - started) * 1000,
        notes=tuple(parsed.notes),
    )
