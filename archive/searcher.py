"""Searching the Whoosh index: one searcher per index generation, with its arrays (see postings.py).

Everything returned is the core's own dataclasses; Whoosh objects stay here. A lock serialises access to
the Whoosh searcher (its file reads are not thread-safe); the searcher is reopened only when the live
generation or its Whoosh commit changes, so readers never see a half-written index.
"""

from __future__ import annotations

import contextlib
import html
import math
import queue
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import Searcher as WhooshSearcher

from . import analysis, postings, query
from .cursor import Cursors, State
from .errors import UsageError
from .indexer import live_generation, read_meta
from .metadata import type_label
from .models import (
    DOCUMENT_PAGE,
    FACETS,
    MAX_SELECTED,
    DocumentView,
    FacetValue,
    Hit,
    Metadata,
    Passage,
    SearchRequest,
    SearchResults,
    Stats,
    document_url,
)
from .postings import Deadline, Ids
from .schema import SCHEMA_VERSION
from .taxonomy import Taxonomy
from .vocabulary import Vocabulary

SEARCH_DEADLINE = 3.0
"""Seconds one search, document view or export ranking may spend matching before it answers with what
it found so far (and a note saying so). Phrase verification on our arrays and Whoosh's own evaluation
(spans, ranges) both stop there: a 64-word phrase over 66,000 passages took 57 s without it, and two
20-word phrases held both search threads for 32 s. The rest of the answer (ranking what was found,
facets, highlights) is bounded by the page size and takes milliseconds."""

WHOOSH_BUDGET = SEARCH_DEADLINE
"""The former name of SEARCH_DEADLINE, when only Whoosh's own evaluation had a time limit."""

PARTIAL_NOTE = "recherche arrêtée après {seconds:g} s : résultats partiels"

RELAX_SHARE = 0.3
"""A loosened query keeps the passages holding at least this share of its words' weight (idf)."""

BLEND_BELOW = 20
"""A plain query matched in full by fewer passages than this also lists, after them, those missing a word."""

SEARCHERS = 4
"""Whoosh searchers per generation: requests beyond this many at once wait for one (bounded memory)."""

MAX_FACET_VALUES = 50
"""Facet values returned per facet (the most frequent), besides the selected ones."""


@dataclass
class _Generation:
    """One committed state of the index: Whoosh searchers (one per thread) and caches that live as long.

    Whoosh searchers read files with seek-and-read, so threads never share one; the arrays and caches
    are read-only once built. A generation replaced by a newer one is closed when its last user leaves.
    """

    path: Path
    ix: Any
    primary: WhooshSearcher
    users: int = 0
    retired: bool = False
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[WhooshSearcher] = field(default_factory=list)
    _idle: queue.SimpleQueue[WhooshSearcher] = field(default_factory=queue.SimpleQueue)
    _build_lock: threading.Lock = field(default_factory=threading.Lock)
    _arrays: postings.Arrays | None = None
    _records: dict[str, dict[str, Any]] | None = None
    _record_cache: dict[int, dict[str, Any]] = field(default_factory=dict)
    _vocabulary: Vocabulary | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = Vocabulary.load(self.path)
        return self._vocabulary

    @property
    def state(self) -> State:
        """What this object reads: the generation's name and its Whoosh commit (what cursors are tied to)."""
        return self.path.name, int(self.primary.reader().generation())

    @property
    def searcher(self) -> WhooshSearcher:
        """The Whoosh searcher this thread borrowed (see `borrowed`), else the primary one."""
        mine: WhooshSearcher | None = getattr(self._local, "searcher", None)
        return mine if mine is not None else self.primary

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[None]:
        """Lend this thread one of at most SEARCHERS Whoosh searchers for the duration of a request."""
        if getattr(self._local, "searcher", None) is not None:  # nested use in the same thread
            yield
            return
        try:
            mine = self._idle.get_nowait()
        except queue.Empty:
            with self._build_lock:
                fresh = len(self._opened) < SEARCHERS
                if fresh:
                    mine = self.ix.searcher()
                    self._opened.append(mine)
            if not fresh:
                mine = self._idle.get()  # every searcher is busy: wait for one
        self._local.searcher = mine
        try:
            yield
        finally:
            self._local.searcher = None
            self._idle.put(mine)

    @property
    def arrays(self) -> postings.Arrays:
        if self._arrays is None:
            with self._build_lock:
                if self._arrays is None:
                    self._arrays = postings.Arrays.load(self.primary.reader())
        return self._arrays

    def close(self) -> None:
        for searcher in self._opened:
            searcher.close()
        self.primary.close()
        self.ix.close()

    def docs(self, q: wq.Query, deadline: Deadline | None = None, within: Ids | None = None) -> Ids:
        """The passages matching a query: from the arrays, or from Whoosh, stopped at the deadline.

        With `within`, the answer is exact inside `within` (phrases are verified only there).
        """
        arrays = self.arrays
        try:
            found = arrays.evaluate(q, deadline, within)
        except postings.Unsupported:
            deadline = deadline or Deadline(SEARCH_DEADLINE)
            collector = _timed(self.searcher.collector(limit=None, scored=False), deadline)
            if collector is None:
                return np.empty(0, dtype=np.int64)
            try:
                self.searcher.search_with_collector(q, collector)
            except TimeLimit:
                deadline.cut = True
            found = np.fromiter(collector.results().docs(), dtype=np.int64)
            found.sort()
        return arrays.passages(found)

    def record(self, docnum: int) -> dict[str, Any]:
        """One document record (metadata of a hit's document), unpickled once per generation."""
        found = self._record_cache.get(docnum)  # one read: another thread may clear the cache meanwhile
        if found is None:
            if len(self._record_cache) > 4096:
                self._record_cache.clear()
            found = self._record_cache[docnum] = self.searcher.stored_fields(docnum)["data"]
        return found

    @contextlib.contextmanager
    def lent(self, searcher: WhooshSearcher) -> Iterator[None]:
        """Use `searcher` (a caller's own) as this thread's Whoosh searcher for a while."""
        previous = getattr(self._local, "searcher", None)
        self._local.searcher = searcher
        try:
            yield
        finally:
            self._local.searcher = previous

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """Every indexed document's record (metadata, fingerprint, passage count), by document id."""
        if self._records is None:
            records: dict[str, dict[str, Any]] = {}
            for docnum in self.arrays.records:
                stored = self.searcher.stored_fields(int(docnum))
                records[stored["doc"]] = stored["data"]
            self._records = records
        return self._records


class Searcher:
    """The read side of an archive's index. Thread-safe; cheap to keep open for the life of a process."""

    def __init__(self, index_dir: Path, taxonomy: Taxonomy) -> None:
        self.index_dir = index_dir
        self.taxonomy = taxonomy
        self._lock = threading.RLock()
        self._gen: _Generation | None = None
        self._parser = query.make_parser()
        self._cursors = Cursors(index_dir)
        self.deadline = SEARCH_DEADLINE  # seconds; the time limit of every search, view and export

    def close(self) -> None:
        with self._lock:
            if self._gen:
                self._retire(self._gen)
                self._gen = None

    def _generation(self) -> _Generation | None:
        """The live generation, reopened when another generation or a new Whoosh commit is live."""
        with self._lock:
            path = live_generation(self.index_dir)
            gen = self._gen
            if gen is not None and (gen.path != path or not _up_to_date(gen)):
                self._retire(gen)
                gen = self._gen = None
            if gen is None and path is not None:
                if read_meta(path).get("schema_version") != SCHEMA_VERSION:
                    return None  # never misread an index of another schema: `reindex` rebuilds it
                # plain reads, not mmap: mapped segment files count in the server's memory once per
                # searcher (1.2 GB instead of 0.12 GB at 200,000 passages, for the same speed)
                ix = FileStorage(str(path), supports_mmap=False).open_index()
                gen = self._gen = _Generation(path, ix, ix.searcher())
            return gen

    def _retire(self, gen: _Generation) -> None:
        gen.retired = True
        if gen.users == 0:
            gen.close()

    def _acquire(self) -> _Generation | None:
        """The live generation, kept open for the caller (until `_release`) even if a newer one goes live."""
        with self._lock:
            gen = self._generation()
            if gen is not None:
                gen.users += 1
            return gen

    def _release(self, gen: _Generation) -> None:
        with self._lock:
            gen.users -= 1
            if gen.retired and gen.users == 0:
                gen.close()

    @contextlib.contextmanager
    def _use(self) -> Iterator[_Generation | None]:
        """The live generation with a Whoosh searcher lent to this thread, for one request."""
        gen = self._acquire()
        try:
            if gen is None:
                yield gen
            else:
                with gen.borrowed():
                    yield gen
        finally:
            if gen is not None:
                self._release(gen)

    # ------------------------------------------------------------------ search

    def search(self, request: SearchRequest) -> SearchResults:
        """One page of ranked hits with facet counts; matching stops at SEARCH_DEADLINE (then notes say so)."""
        check_filters(request.filters)
        started = time.perf_counter()
        deadline = Deadline(self.deadline)
        with self._use() as gen:
            if gen is None:
                if request.cursor:  # made on an index that is gone: expired (when it is one of ours)
                    self._cursors.read(request.cursor, ("", -1), request)
                parsed = query.parse(self._parser, request.query)
                parsed.notes.append("l'index n'est pas encore construit : lancez `archive reindex`")
                return _empty(request, parsed, started)
            # a cursor is checked before any work: a broken or expired one costs nothing
            resume = self._cursors.read(request.cursor, gen.state, request) if request.cursor else None
            plan = self._plan(gen, request, deadline)
            by_score = request.sort == "relevance" and plan.scoring is not None
            start = 0 if resume else (request.page - 1) * request.per_page
            after = _sort_key(resume.after, by_score) if resume else None
            # one more than the page: whether a next page exists, without counting what comes after it
            ranked = self._ranked(gen, request, plan, start + request.per_page + 1, deadline, after)
            hits = ranked[start : start + request.per_page]
            offset = resume.offset if resume else start  # hits before this page
            next_cursor = None
            if hits and len(ranked) > start + request.per_page:
                last, score = hits[-1]
                key = (score, last) if by_score else gen.arrays.sort_key(last, request.sort != "oldest")
                next_cursor = self._cursors.make(gen.state, request, key, offset + len(hits))
            facets = self._facets(gen.arrays, request, plan.matched, plan.selections)
            parsed = plan.parsed
            # optional work: a search already out of time answers without a suggestion
            suggestion = None if deadline.expired() else self._suggest(gen, parsed.text, parsed.words, deadline)
            keys = query.highlight_keys(plan.scoring)
            return SearchResults(
                query=request.query,
                interpreted_as=plan.interpretation,
                total=int(plan.final.size),
                documents=gen.arrays.distinct_documents(plan.final),
                page=offset // request.per_page + 1,
                per_page=request.per_page,
                hits=tuple(self._hit(gen, docnum, score, keys) for docnum, score in hits),
                facets=facets,
                suggestion=suggestion,
                relaxed=plan.relaxed,
                took_ms=(time.perf_counter() - started) * 1000,
                notes=_notes(parsed.notes, deadline),
                next_cursor=next_cursor,
            )

    def export(self, request: SearchRequest, limit: int) -> Export:
        """Every match of a search in ranked order, up to `limit`, ranked once on one index generation.

        The generation stays open until the export is closed, however long its reader takes: rows are
        read in chunks (`Export.hits`), each from the same generation, so an export never mixes two
        states of the index. Matching stops at SEARCH_DEADLINE like a search's; `page` and `per_page`
        are ignored.
        """
        check_filters(request.filters)
        deadline = Deadline(self.deadline)
        gen = self._acquire()
        if gen is None:
            return Export(0, (), False, [], self, None)
        try:
            with gen.borrowed():
                plan = self._plan(gen, request, deadline)
                ranked = self._ranked(gen, request, plan, limit, deadline) if limit > 0 else []
        except BaseException:
            self._release(gen)
            raise
        notes = _notes(plan.parsed.notes, deadline)
        return Export(int(plan.final.size), notes, deadline.cut, ranked, self, gen)

    def _plan(self, gen: _Generation, request: SearchRequest, deadline: Deadline) -> _Plan:
        """What a search matches and how it ranks it: shared by a page of results and an export."""
        arrays = gen.arrays
        parsed = query.parse(self._parser, request.query)
        q = parsed.query
        ranking: wq.Query | None = None
        if q is not None:
            q = query.expand(q, gen.vocabulary, parsed.notes, deadline.expired)
            ranking = (
                query.expand(parsed.scoring, gen.vocabulary, [], deadline.expired)
                if parsed.scoring is not None
                else q
            )
        matched = arrays.live_passages if q is None else gen.docs(q, deadline)
        selections = self._selections(arrays, request)
        final = _intersect(matched, selections.values())
        plan = _Plan(parsed, matched, selections, final, ranking, None, parsed.interpretation, False)
        if parsed.relaxable and final.size < BLEND_BELOW:
            loosened, parts, interpretation, note = self._relax(
                gen, parsed, final, selections.values(), deadline
            )
            if loosened.size > final.size:
                plan.relaxed = True
                plan.final = plan.matched = loosened
                plan.coordination = parts
                plan.scoring = wq.Or(parsed.scoring_parts)
                plan.interpretation = interpretation
                parsed.notes.insert(0, note)
        return plan

    def _selections(self, arrays: postings.Arrays, request: SearchRequest) -> dict[str, Ids]:
        """For each active filter, the passages it lets through (values of one facet are OR'ed)."""
        out: dict[str, Ids] = {}
        for facet, values in request.filters.items():
            if values:
                out[facet] = arrays.having(facet, values)
        if request.date_from or request.date_to:
            out["date"] = arrays.dated_between(request.date_from, request.date_to)
        return out

    def _relax(
        self,
        gen: _Generation,
        parsed: query.Parsed,
        strict: Ids,
        selections: Iterable[Ids],
        deadline: Deadline,
    ) -> tuple[Ids, list[tuple[Ids, float]], str, str]:
        """The passages that miss some words of a plain query, for when few or none have them all.

        A researcher's question often uses a word the best passage does not. Each word weighs its
        rarity (idf): the passages holding at least half of the query's weight join the complete
        matches, and ranking multiplies their score by the share they hold, so complete matches lead
        and rare words count more than common ones. Returns the passages, each word's passages and
        weight (for ranking), the interpretation and a note saying what was done.
        """
        parts = parsed.relaxable
        n = len(parts)
        allowed = _intersect(gen.arrays.live_passages, selections)
        found = [postings.intersect(gen.docs(part, deadline), allowed) for part in parts]
        everything = max(int(gen.arrays.live_passages.size), 1)
        weighted = [(ids, math.log(everything / (ids.size + 1)) + 1) for ids in found]
        if not any(f.size for f in found):
            return strict, weighted, parsed.interpretation, ""
        size = gen.arrays.doc_count
        ids = postings.union(found, size)
        loosened = postings.union([strict, ids[postings.coverage(ids, weighted) >= RELAX_SHARE]], size)
        loose = parsed.interpretation.replace(" AND ", " OR ")
        if strict.size:
            note = (
                f"{strict.size} passage(s) contiennent tous les mots ; s'y ajoutent ceux qui en contiennent "
                "l'essentiel (les mots rares comptent davantage), classés après eux sauf mot rare"
            )
            interpretation = f"{parsed.interpretation}, puis {loose} (l'essentiel des {n} mots)"
        else:
            note = (
                "aucun passage ne contient tous les mots : voici ceux qui en contiennent l'essentiel "
                "(les mots rares comptent davantage), les plus complets d'abord"
            )
            interpretation = f"{loose} (l'essentiel des {n} mots)"
        return loosened, weighted, interpretation, note

    def _ranked(
        self,
        gen: _Generation,
        request: SearchRequest,
        plan: _Plan,
        needed: int,
        deadline: Deadline,
        after: tuple[float, int] | tuple[int, int, int] | None = None,
    ) -> list[tuple[int, float]]:
        """The first `needed` (docnum, score) pairs of the plan's matches, in the request's order; with
        `after` (the sort key of a previous page's last hit, see `_sort_key`), the first that follow it.

        Scores are exact here (a cursor compares them); hits round them for display.
        """
        arrays = gen.arrays
        candidates = plan.final
        if request.sort != "relevance" or plan.scoring is None:
            dated = after if after is None or len(after) == 3 else None
            return [(d, 0.0) for d in arrays.sorted_page(candidates, needed, request.sort != "oldest", dated)]
        scored = after if after is None or len(after) == 2 else None
        try:
            out = arrays.top(plan.scoring, candidates, needed, gen.searcher, plan.coordination, deadline, scored)
        except postings.Unsupported:  # spans Whoosh scores itself, in the time left
            limit = needed if scored is None else None  # resuming: every score, to keep those after it
            collector = _timed(gen.searcher.collector(limit=limit, filter=set(candidates.tolist())), deadline)
            if collector is None:  # no time left to rank: the matches in index order
                rest = candidates if scored is None else candidates[candidates > scored[1]]
                return [(d, 0.0) for d in rest[:needed].tolist()]
            try:
                gen.searcher.search_with_collector(plan.scoring, collector)
            except TimeLimit:  # the best hits found so far
                deadline.cut = True
            out = [(hit.docnum, _score(hit.score)) for hit in collector.results()]
            if scored is not None:  # Whoosh orders as `top` does: score descending, then docnum
                score, docnum = scored
                out = [(d, s) for d, s in out if s < score or (s == score and d > docnum)]
        return out[:needed]

    def _facets(
        self, arrays: postings.Arrays, request: SearchRequest, matched: Ids, selections: dict[str, Ids]
    ) -> dict[str, tuple[FacetValue, ...]]:
        """Counts with multi-select semantics: each facet ignores its own filter, not the others'."""
        out: dict[str, tuple[FacetValue, ...]] = {}
        for facet in FACETS:
            scope = _intersect(matched, [s for name, s in selections.items() if name != facet])
            chosen = request.filters.get(facet, ())
            counts = arrays.counts(facet, scope)
            counted = [FacetValue(v, self._label(facet, v), c, v in chosen) for v, c in counts.items()]
            counted += [
                FacetValue(v, self._label(facet, v), 0, True)
                for v in dict.fromkeys(chosen)
                if v not in counts
            ]
            if facet == "year":
                counted.sort(key=lambda f: f.value, reverse=True)
            else:
                counted.sort(key=lambda f: (-f.count, f.label.casefold()))
            out[facet] = tuple(
                counted[:MAX_FACET_VALUES] + [f for f in counted[MAX_FACET_VALUES:] if f.selected]
            )
        return out

    def _label(self, facet: str, value: str) -> str:
        if facet in ("agency", "offence"):
            return self.taxonomy.label(facet, value)
        if facet == "type":
            return type_label(value)
        return value

    def _suggest(self, gen: _Generation, text: str, words: list[str], deadline: Deadline) -> str | None:
        """A corrected query when some word of it is unknown to the archive (and a close word is known).

        Each unknown word costs a fuzzy search of the vocabulary: 64 of them took 18 s; the words left
        when the deadline passes get no suggestion."""
        reader = gen.searcher.reader()
        replacements: dict[str, str] = {}
        for word in words:
            if deadline.expired():
                break
            keys = analysis.keys(word)
            if not keys or any(reader.doc_frequency("content", k) for k in keys):
                continue
            if not word.isalpha() or len(word) < 4:
                continue
            for candidate in gen.vocabulary.similar(analysis.fold(word), limit=8):
                if reader.doc_frequency("content", analysis.key(candidate)):
                    replacements[word] = gen.vocabulary.form(candidate)
                    break
        if not replacements:
            return None
        out = text
        for word, better in replacements.items():
            out = out.replace(word, better)
        return out if out != text else None

    def _hit(self, gen: _Generation, docnum: int, score: float, keys: set[str] | None) -> Hit:
        """A hit from its stored fields; `keys` None: no highlighting (the text escaped, for exports)."""
        stored = gen.searcher.stored_fields(docnum)
        data = stored["data"]
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
            highlight=(
                html.escape(data["text"], quote=False) if keys is None else analysis.highlight(data["text"], keys)
            ),
            agency=tuple(data["agency"]),
            offence=tuple(data["offence"]),
            score=round(score, 4),
            url=document_url(stored["doc"], data["position"]),
        )

    # ------------------------------------------------------------------ documents

    def records(self) -> dict[str, dict[str, Any]]:
        """Every indexed document's record: what `reindex` compares with the files and `check` verifies."""
        with self._use() as gen:
            return dict(gen.records) if gen else {}

    def passage_counts(self) -> dict[str, int]:
        """How many passages the index really holds for each document."""
        with self._use() as gen:
            if gen is None:
                return {}
            arrays = gen.arrays
            ordinals = np.bincount(arrays.document_of[arrays.live_passages], minlength=arrays.records.size)
            names = [gen.searcher.stored_fields(int(d))["doc"] for d in arrays.records]
            return {names[i]: int(c) for i, c in enumerate(ordinals) if c}

    def document(
        self,
        document_id: str,
        text: str = "",
        page: int = 1,
        position: int | None = None,
        per_page: int = DOCUMENT_PAGE,
    ) -> DocumentView | None:
        """One page of a document's passages in order, and the passages matching `text` marked.

        `position` picks the page that holds that passage (and wins over `page`); a page past the last
        one has no passages. `matches` lists the matching positions of the whole document; matching
        stops at SEARCH_DEADLINE like a search's (then `notes` says so).
        """
        if not 1 <= page <= 10_000:
            raise UsageError("page must be between 1 and 10000", "page")
        if position is not None and position < 1:
            raise UsageError("p must be a passage position, 1 or more", "p")
        if not 1 <= per_page <= 10 * DOCUMENT_PAGE:
            raise UsageError(f"per_page must be between 1 and {10 * DOCUMENT_PAGE}", "per_page")
        deadline = Deadline(self.deadline)
        with self._use() as gen:
            if gen is None:
                return None
            arrays = gen.arrays
            found = postings.intersect(arrays.term("doc", document_id), arrays.records)
            if not found.size:
                return None
            record = gen.record(int(found[0]))
            docnums = gen.docs(wq.Term("doc", document_id))
            positions = arrays.position[docnums]
            order = np.argsort(positions, kind="stable")
            total = int(docnums.size)
            pages = max(1, -(-total // per_page))
            if position is not None:
                index = int(np.searchsorted(positions[order], min(position, _LAST_POSITION)))
                page = min(index // per_page + 1, pages)
            shown = order[(page - 1) * per_page : page * per_page]
            passages: list[Passage] = []
            for docnum in docnums[shown].tolist():
                data = gen.searcher.stored_fields(docnum)["data"]
                passages.append(
                    Passage(
                        document_id,
                        data["position"],
                        data["section"],
                        data["start"],
                        data["end"],
                        data["text"],
                        tuple(data["agency"]),
                        tuple(data["offence"]),
                    )
                )
            keys: set[str] = set()
            matches: tuple[int, ...] = ()
            parsed = query.parse(self._parser, text)
            if parsed.query is not None and parsed.query is not wq.NullQuery:
                q = query.expand(parsed.query, gen.vocabulary, parsed.notes, deadline.expired)
                scoring = wq.Or(parsed.relaxable) if parsed.relaxable else q
                keys = query.highlight_keys(scoring)
                hit = postings.intersect(gen.docs(scoring, deadline, within=docnums), docnums)
                matches = tuple(sorted(int(p) for p in arrays.position[hit]))
            return DocumentView(
                id=document_id,
                sha256=record["sha256"],
                format=record["format"],
                metadata=_metadata(record),
                agency=tuple(record.get("agency", ())),
                offence=tuple(record.get("offence", ())),
                passages=tuple(passages),
                size=record.get("size", 0),
                highlights=tuple(analysis.highlight(p.text, keys) for p in passages),
                matches=matches,
                page=page,
                per_page=per_page,
                total_passages=total,
                notes=_notes(parsed.notes, deadline),
            )

    def stats(self) -> Stats:
        with self._use() as gen:
            if gen is None:
                return Stats(0, 0, None, SCHEMA_VERSION, 0, None, {})
            size = sum(f.stat().st_size for f in gen.path.iterdir() if f.is_file())
            facets = self._facets(gen.arrays, SearchRequest(), gen.arrays.live_passages, {})
            return Stats(
                int(gen.arrays.records.size),
                int(gen.arrays.live_passages.size),
                read_meta(gen.path).get("built_at"),
                SCHEMA_VERSION,
                size,
                gen.path.name,
                facets,
            )

    def version(self) -> IndexVersion | None:
        """The live index's latest commit, without searching; None when there is no readable index.

        Changes with every commit: a full rebuild swaps in another generation, an incremental one adds
        a Whoosh commit (a new table of contents) to the same generation. Never older than what a
        search started afterwards reads, since the live state only moves forward.
        """
        for _ in range(3):
            with self._lock:
                gen = self._generation()
                if gen is None:
                    return None
                try:
                    number = gen.ix.latest_generation()
                    committed = gen.ix.last_modified()
                except OSError:  # a newer commit removed that table of contents meanwhile: look again
                    continue
                return IndexVersion(f"{gen.path.name}.{number}", committed)
        return None


@dataclass(frozen=True)
class IndexVersion:
    """One committed state of the index: `tag` names it, `committed` is when it was committed (epoch s)."""

    tag: str
    committed: float


def _timed(collector: Any, deadline: Deadline) -> Any:
    """A Whoosh collector stopped at the deadline (TimeLimit), or None when no time is left (noted)."""
    budget = deadline.remaining()
    if budget is None:
        return collector
    if budget <= 0:
        deadline.cut = True
        return None
    return TimeLimitCollector(collector, budget, use_alarm=False)


def _score(value: object) -> float:
    """A hit's relevance score; sorted searches carry sort keys instead, and score 0."""
    return float(value) if isinstance(value, int | float) else 0.0


def _sort_key(after: tuple[float, ...], by_score: bool) -> tuple[float, int] | tuple[int, int, int]:
    """A cursor's position as the order of its search reads it: (score, docnum) for a relevance
    ranking, (date rank, position, docnum) for a date order (`Arrays.sort_key`); UsageError otherwise."""
    if by_score and len(after) == 2 and isinstance(after[1], int):
        return float(after[0]), after[1]
    if not by_score and len(after) == 3 and all(isinstance(v, int) for v in after):
        return int(after[0]), int(after[1]), int(after[2])
    raise UsageError("cursor does not fit this search's order: use the next_cursor of a response", "cursor")


def _up_to_date(gen: _Generation) -> bool:
    try:
        return bool(gen.primary.up_to_date())
    except OSError:
        return False


def _intersect(base: Ids, sets: Iterable[Ids]) -> Ids:
    out = base
    for other in sorted(sets, key=len):
        out = postings.intersect(out, other)
    return out


def _metadata(record: dict[str, Any]) -> Metadata:
    return Metadata(
        title=record.get("title") or "",
        date=record.get("date"),
        source=record.get("source"),
        type=record.get("type"),
        language=record.get("language") or "fr",
        description=record.get("description"),
        agency=tuple(record.get("explicit_agency", ())),
        offence=tuple(record.get("explicit_offence", ())),
        url=record.get("url"),
    )


_LAST_POSITION = int(np.iinfo(np.int32).max)  # positions are stored as int32


def check_filters(filters: dict[str, tuple[str, ...]]) -> None:
    """Refuse more than MAX_SELECTED values of one facet (UsageError naming the facet)."""
    for name, values in filters.items():
        if len(values) > MAX_SELECTED:
            raise UsageError(
                f"{name}: at most {MAX_SELECTED} values can be selected at once, not {len(values)}", name
            )


def _notes(notes: list[str], deadline: Deadline) -> tuple[str, ...]:
    """The parser's notes, and the deadline's when matching stopped early."""
    if deadline.cut:
        return (*notes, PARTIAL_NOTE.format(seconds=deadline.seconds or 0))
    return tuple(notes)


@dataclass
class _Plan:
    """A search's matches and ranking, before a page of it is read."""

    parsed: query.Parsed
    matched: Ids  # what the query matches, before filters (facet counts start from it)
    selections: dict[str, Ids]
    final: Ids  # what the query and filters match
    scoring: wq.Query | None
    coordination: list[tuple[Ids, float]] | None
    interpretation: str
    relaxed: bool


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
        searcher: Searcher,
        gen: _Generation | None,
    ) -> None:
        self.total = total  # every match, past the limit too
        self.notes = notes
        self.partial = partial  # matching stopped at the deadline
        self._ranked = ranked
        self._searcher = searcher
        self._gen = gen
        # Its own Whoosh searcher, opened now: its open files outlive the generation's directory, which
        # a later full reindex may delete while a slow client is still reading the export.
        self._own = gen.ix.searcher() if gen is not None else None
        self._release = (
            weakref.finalize(self, _close_export, searcher, gen, self._own) if gen is not None else None
        )

    @property
    def rows(self) -> int:
        """How many hits the export holds (the total, or the limit when there were more)."""
        return len(self._ranked)

    def hits(self, start: int, stop: int) -> list[Hit]:
        """Hits `start` to `stop` of the ranking (text not highlighted), read from the export's generation."""
        gen, own = self._gen, self._own
        if gen is None or own is None or self._release is None or not self._release.alive:
            return []
        with gen.lent(own):
            return [self._searcher._hit(gen, d, s, None) for d, s in self._ranked[start:stop]]

    def close(self) -> None:
        if self._release is not None:
            self._release()

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_export(searcher: Searcher, gen: _Generation, own: WhooshSearcher | None) -> None:
    if own is not None:
        own.close()
    searcher._release(gen)


def _empty(request: SearchRequest, parsed: query.Parsed, started: float) -> SearchResults:
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
