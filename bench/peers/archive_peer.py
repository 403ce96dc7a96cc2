"""Our archive, driven through its own build and search functions."""

from __future__ import annotations

from pathlib import Path

from archive import Archive, Document, SearchRequest, Settings, Taxonomy, build_index

from ..corpus import FlatPassage
from ..queries import Query
from .base import Response


class ArchivePeer:
    """Our archive, built with `archive.build_index` and searched with `Archive.search`."""

    name = "archive"
    description = "our archive: archive.build_index, Archive.search (top 10, highlights, total, facets)"

    def __init__(self) -> None:
        self.archive: Archive | None = None

    def build(self, directory: Path, documents: list[Document], passages: list[FlatPassage]) -> None:
        """Index the documents with our writer, as `archive reindex` does."""
        build_index(directory / "index", documents, Taxonomy.load().fingerprint)

    def open(self, directory: Path) -> None:
        """Open the archive built in `directory`."""
        self.archive = Archive(Settings(home=directory))

    def search(self, query: Query) -> Response:
        """The full response to one query of the mix (10 per page)."""
        return self.respond(SearchRequest(query.text, filters=query.filters, per_page=10))

    def respond(self, request: SearchRequest) -> Response:
        """The full response to any search request."""
        assert self.archive is not None
        r = self.archive.search(request)
        return Response(
            r.total,
            [(h.id, h.highlight) for h in r.hits],
            {f: {v.value: v.count for v in values} for f, values in r.facets.items()},
        )

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages for free text, in rank order."""
        assert self.archive is not None
        r = self.archive.search(SearchRequest(text, per_page=limit))
        return [h.document for h in r.hits]
