"""Naive Whoosh: what a competent user writes from Whoosh's documentation.

Stock `LanguageAnalyzer('fr')`, stored content, KEYWORD/ID facet fields, one `searcher.search(q, limit=10,
filter=..., groupedby=...)` with every facet (plus one grouped search per filtered facet for multi-select
counts), `len(results)` for the exact total and `hit.highlights("content")`.
"""

from __future__ import annotations

import re
from pathlib import Path

from whoosh import fields, index, sorting
from whoosh import query as wq
from whoosh.analysis import LanguageAnalyzer
from whoosh.qparser import OrGroup, QueryParser

from archive import Document

from ..corpus import FlatPassage
from ..queries import Query
from .base import Response, scopes

MULTI = ("agency", "offence")


def schema() -> fields.Schema:
    """The naive Whoosh schema: stock French analyzer on the text, facets as ID and KEYWORD fields."""
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        doc=fields.ID(stored=True),
        content=fields.TEXT(analyzer=LanguageAnalyzer("fr"), stored=True),
        agency=fields.KEYWORD(commas=True),
        offence=fields.KEYWORD(commas=True),
        year=fields.ID(),
        source=fields.ID(),
        type=fields.ID(),
    )


class WhooshPeer:
    """Stock Whoosh, used as its documentation shows: the baseline our archive is measured against."""

    name = "whoosh"
    description = (
        "naive Whoosh 2.7 (whoosh-reloaded): LanguageAnalyzer('fr'), groupedby facets, hit.highlights"
    )

    def __init__(self, any_word: bool = False) -> None:
        self.any_word = any_word
        if any_word:
            self.name = "whoosh-or"

    def build(self, directory: Path, documents: list[Document], passages: list[FlatPassage]) -> None:
        """Index the passages with Whoosh's own writer."""
        directory.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(directory), schema())
        writer = ix.writer()
        for p in passages:
            writer.add_document(
                id=p.id,
                doc=p.doc,
                content=p.text,
                agency=",".join(p.agency),
                offence=",".join(p.offence),
                year=p.year,
                source=p.source,
                type=p.type,
            )
        writer.commit()

    def open(self, directory: Path) -> None:
        """Open the index built in `directory`."""
        self.ix = index.open_dir(str(directory))
        self.searcher = self.ix.searcher()
        group = OrGroup if self.any_word else None
        self.parser = (
            QueryParser("content", self.ix.schema, group=group)
            if group
            else QueryParser("content", self.ix.schema)
        )

    def search(self, query: Query) -> Response:
        """The full response: Whoosh's search with groupedby facets and hit highlights."""
        q = self.parser.parse(query.text)
        facets: dict[str, dict[str, int]] = {}
        total = 0
        hits: list[tuple[str, str]] = []
        for n, (names, filters) in enumerate(scopes(query)):
            flt = _filter(filters)
            grouped = {f: sorting.FieldFacet(f, allow_overlap=f in MULTI) for f in names}
            results = self.searcher.search(
                q, limit=10 if n == 0 else 1, filter=flt, groupedby=grouped, maptype=sorting.Count
            )
            for f in names:
                facets[f] = {str(k): v for k, v in results.groups(f).items() if k is not None}
            if n == 0:
                total = len(results)
                # with groupedby, Results holds every match as scored: the page is the first ten
                hits = [(hit["id"], hit.highlights("content")) for hit in results[:10]]
        return Response(total, hits, facets)

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages, Whoosh's default parser (AND, or OR grouping)."""
        q = self.parser.parse(" ".join(re.findall(r"[^\W_]+", text)))
        return [hit["doc"] for hit in self.searcher.search(q, limit=limit)]


def _filter(filters: dict[str, str]) -> wq.Query | None:
    terms = [wq.Term(k, v) for k, v in filters.items()]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else wq.And(terms)
