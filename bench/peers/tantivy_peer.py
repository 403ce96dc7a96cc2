"""Tantivy (Rust, `tantivy` from PyPI) as the speed ceiling.

Content is analysed by simple tokenizer -> remove_long(40) -> lowercase -> Snowball French stemmer
(`TextAnalyzerBuilder`, registered as `fr_stem`), the shape of Tantivy's built-in `en_stem`. Facets are
raw-tokenized fast text fields counted with a `terms` aggregation; snippets from `SnippetGenerator`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Filter, Occur, Tokenizer

from archive import Document

from ..corpus import FlatPassage
from ..queries import FACETS, Query
from .base import Response, scopes

ANALYZER = "fr_stem"
_WORD = re.compile(r"[^\W_]+")


def _analyzer() -> Any:
    return (
        tantivy.TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(40))
        .filter(Filter.lowercase())
        .filter(Filter.stemmer("french"))
        .build()
    )


def _schema() -> Any:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw")
    b.add_text_field("doc", stored=True, tokenizer_name="raw")
    b.add_text_field("content", stored=True, tokenizer_name=ANALYZER, index_option="position")
    for f in FACETS:
        b.add_text_field(f, stored=False, tokenizer_name="raw", fast=True)
    return b.build()


class TantivyPeer:
    """Tantivy with a French Snowball stemmer, facets as terms aggregations."""

    name = "tantivy"
    description = (
        f"Tantivy (tantivy-py {getattr(tantivy, '__version__', '?')}), French Snowball stemmer, "
        "terms aggregations"
    )

    def _index(self, directory: Path, create: bool) -> Any:
        index = tantivy.Index(_schema(), path=str(directory), reuse=not create)
        index.register_tokenizer(ANALYZER, _analyzer())
        return index

    def build(self, directory: Path, documents: list[Document], passages: list[FlatPassage]) -> None:
        """Index the passages with Tantivy's writer."""
        directory.mkdir(parents=True, exist_ok=True)
        index = self._index(directory, create=True)
        writer = index.writer(heap_size=256_000_000)
        for p in passages:
            d = tantivy.Document()
            d.add_text("id", p.id)
            d.add_text("doc", p.doc)
            d.add_text("content", p.text)
            for v in p.agency:
                d.add_text("agency", v)
            for v in p.offence:
                d.add_text("offence", v)
            d.add_text("year", p.year)
            d.add_text("source", p.source)
            d.add_text("type", p.type)
            writer.add_document(d)
        writer.commit()
        writer.wait_merging_threads()

    def open(self, directory: Path) -> None:
        """Open the index built in `directory`."""
        self.index = self._index(directory, create=False)
        self.index.reload()
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def _query(self, query: Query) -> Any:
        if query.kind == "prefix":
            return tantivy.Query.regex_query(self.schema, "content", re.escape(query.words[0]) + ".*")
        if query.kind == "phrase":
            return self.index.parse_query('"' + " ".join(query.words) + '"', ["content"])
        return self.index.parse_query(" ".join(f"+{w}" for w in query.words), ["content"])

    def _filtered(self, q: Any, filters: dict[str, str]) -> Any:
        if not filters:
            return q
        parts = [(Occur.Must, q)] + [
            (Occur.Must, tantivy.Query.term_query(self.schema, k, v)) for k, v in filters.items()
        ]
        return tantivy.Query.boolean_query(parts)

    def search(self, query: Query) -> Response:
        """The full response: top 10 with snippets, total, and terms aggregations per scope."""
        base = self._query(query)
        facets: dict[str, dict[str, int]] = {}
        total = 0
        hits: list[tuple[str, str]] = []
        for n, (names, filters) in enumerate(scopes(query)):
            q = self._filtered(base, filters)
            if n == 0:
                result = self.searcher.search(q, 10, count=True)
                total = result.count
                snippets = tantivy.SnippetGenerator.create(self.searcher, q, self.schema, "content")
                for _score, address in result.hits:
                    doc = self.searcher.doc(address)
                    hits.append((doc["id"][0], snippets.snippet_from_doc(doc).to_html()))
            aggs = {f: {"terms": {"field": f, "size": 100}} for f in names}
            answer = self.searcher.aggregate(q, aggs)
            for f in names:
                facets[f] = {b["key"]: b["doc_count"] for b in answer[f]["buckets"]}
        return Response(total, hits, facets)

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages, Tantivy's query parser (OR)."""
        words = _WORD.findall(text)
        if not words:
            return []
        q = self.index.parse_query(" ".join(words), ["content"])
        return [self.searcher.doc(a)["doc"][0] for _s, a in self.searcher.search(q, limit).hits]
