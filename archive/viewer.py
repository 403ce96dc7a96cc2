"""The document view: one page of a document's passages in order, with the passages a search matches.

Read from one index generation: the document's record (metadata, fixity), its passages sorted by
position, the page asked for (or the page holding a given passage), and the positions of every passage
of the whole document that the view's search matches, found under the search deadline. Those are the
search's own matches (`planning.searched`: the same parse, filters, relaxation and correction), so that
a document counts and steps through exactly the passages the results counted in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import phrasing, planning, query
from .deadline import Deadline, noted
from .errors import UsageError
from .generations import Generation
from .highlighting import NOTHING, Marks, Span, marked, render
from .idsets import Ids, intersect
from .models import Metadata, Passage
from .request import SearchRequest
from .results import DocumentView
from .wire import DOCUMENT_PAGE

MAX_PAGE = 10_000
"""Highest page number a document view accepts."""

_LAST_POSITION = int(np.iinfo(np.int32).max)  # positions are stored as int32


def check_page(page: int, position: int | None, per_page: int, at: int | None = None) -> None:
    """Refuse a page, passage position, offset or page size out of range (UsageError naming the parameter)."""
    if at is not None and at < 0:
        raise UsageError("at must be a character offset, 0 or more", "at")
    if not 1 <= page <= MAX_PAGE:
        raise UsageError(f"page must be between 1 and {MAX_PAGE}", "page")
    if position is not None and position < 1:
        raise UsageError("p must be a passage position, 1 or more", "p")
    if not 1 <= per_page <= 10 * DOCUMENT_PAGE:
        raise UsageError(f"per_page must be between 1 and {10 * DOCUMENT_PAGE}", "per_page")


def view(
    gen: Generation,
    parsers: query.Parsers,
    document_id: str,
    search: SearchRequest,
    paging: tuple[int, int | None, int],
    deadline: Deadline,
    at: int | None = None,
) -> DocumentView | None:
    """One page of a document's passages and the passages `search` matches in it (see `Searcher.document`);
    `paging` is (page, position, per_page); with `at` (a permalink's offset), the page of the passage
    holding that character, which wins over `position`."""
    page, position, per_page = paging
    arrays = gen.arrays
    found = intersect(arrays.term("doc", document_id), arrays.records)
    if not found.size:
        return None
    record = gen.record(int(found[0]))
    docnums = gen.docs(query.in_document(document_id))
    positions = arrays.position[docnums]
    order = np.argsort(positions, kind="stable")
    total = int(docnums.size)
    pages = max(1, -(-total // per_page))
    cited = None if at is None else _holding(gen, docnums[order], at)
    if cited is not None:
        position = int(positions[order][cited])
    if position is not None:
        index = int(np.searchsorted(positions[order], min(position, _LAST_POSITION)))
        page = min(index // per_page + 1, pages)
    passages = _passages(gen, document_id, docnums[order[(page - 1) * per_page : page * per_page]])
    marks, matches, plan = _matches(gen, parsers, search, docnums, deadline)
    spans = [marked(p.text, marks) for p in passages]
    return DocumentView(
        id=document_id,
        sha256=record["sha256"],
        format=record["format"],
        metadata=metadata(record),
        agency=tuple(record.get("agency", ())),
        offence=tuple(record.get("offence", ())),
        passages=passages,
        size=record.get("size", 0),
        highlights=tuple(render(p.text, s) for p, s in zip(passages, spans, strict=True)),
        headed=tuple(
            _headed(p, s) if p.section and (i == 0 or passages[i - 1].section != p.section) else None
            for i, (p, s) in enumerate(zip(passages, spans, strict=True))
        ),
        matches=matches,
        page=page,
        per_page=per_page,
        total_passages=total,
        notes=noted(plan.parsed.notes if plan else [], deadline),
        corrected_query=plan.corrected if plan else None,
        cited=position if cited is not None else None,
    )


def _headed(passage: Passage, spans: list[Span]) -> tuple[str, str]:
    """A passage shown under its section's heading, each as highlighted HTML: the heading, and the text
    going on under it (past its first line when that line is the heading, as a passage's first line is)."""
    first, sep, rest = passage.text.partition("\n")
    if sep and passage.section and first.split() == passage.section.split():
        return render(passage.text, spans, 0, len(first)), render(
            passage.text, spans, len(passage.text) - len(rest.lstrip("\n"))
        )
    return render(passage.section, []), render(passage.text, spans)


def _holding(gen: Generation, docnums: Ids, at: int) -> int | None:
    """The index in `docnums` (a document's passages in order) of the passage holding character `at` of
    its clean text: the first that ends after it (the next passage when `at` falls in the blank between
    two), the last when `at` is past the end. A binary search: a few stored passages read, not all."""
    lo, hi = 0, int(docnums.size)
    if not hi:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if gen.stored(int(docnums[mid]))["data"]["end"] > at:
            hi = mid
        else:
            lo = mid + 1
    return min(lo, int(docnums.size) - 1)


def _passages(gen: Generation, document_id: str, docnums: Ids) -> tuple[Passage, ...]:
    """The passages stored at `docnums`, in that order."""
    out: list[Passage] = []
    for docnum in docnums.tolist():
        data = gen.stored(docnum)["data"]
        out.append(
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
    return tuple(out)


def _matches(
    gen: Generation, parsers: query.Parsers, search: SearchRequest, docnums: Ids, deadline: Deadline
) -> tuple[Marks, tuple[int, ...], planning.Plan | None]:
    """What to mark in the passages, the positions of the document's passages that `search` matches,
    and its plan (None when there is nothing to match: no query and no filter, the plain document)."""
    if not search.query.strip() and not (search.filters or search.date_from or search.date_to):
        return NOTHING, (), None
    plan = planning.searched(gen, parsers, search, deadline)[0]
    hit = intersect(plan.final, docnums)
    return phrasing.marks(plan.scoring), tuple(sorted(int(p) for p in gen.arrays.position[hit])), plan


def metadata(record: dict[str, Any]) -> Metadata:
    """A document's metadata from its index record."""
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
