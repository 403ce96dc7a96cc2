"""Our archive, driven through its own build and search functions."""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path

from archive import Archive, Document, SearchRequest, Settings, Taxonomy, build_index

from ..corpus import FlatPassage
from ..queries import Query
from .base import Response

OFF = "BENCH_ARCHIVE_OFF"
"""An environment variable naming issue 14's work to leave out of the response, comma-separated:
`crowding` (the plain passage ranking, `crowding=False`) and `excerpts` (hits without them). For
`bench.revisions`, which measures their cost on the same code; unset, the response is the full one."""


def switched_off() -> set[str]:
    """What BENCH_ARCHIVE_OFF leaves out; ValueError for a name it does not know."""
    off = {name for name in os.environ.get(OFF, "").split(",") if name}
    if off - {"crowding", "excerpts"}:
        raise ValueError(f"{OFF}: unknown {sorted(off - {'crowding', 'excerpts'})}")
    return off


def _no_excerpts() -> None:
    """Hits without excerpts: the core's excerpting answers nothing (its cost is what is left out).

    A measuring hook, deliberately past the public API: no client may switch excerpts off."""
    searcher = importlib.import_module("archive.searcher")
    if hasattr(searcher, "excerpts"):
        searcher.excerpts = lambda *_args, **_kw: ()  # type: ignore[attr-defined]


class ArchivePeer:
    """Our archive, built with `archive.build_index` and searched with `Archive.search`."""

    name = "archive"
    description = (
        "our archive: archive.build_index, Archive.search and the JSON body (top 10, highlights, excerpts, "
        "crowding, total, facets)"
    )

    def __init__(self) -> None:
        self.archive: Archive | None = None
        self.off = switched_off()
        # a core older than issue 14 has no crowding to switch off (nor excerpts)
        self.crowding = "crowding" in {f.name for f in dataclasses.fields(SearchRequest)}
        if "excerpts" in self.off:
            _no_excerpts()

    def build(self, directory: Path, documents: list[Document], passages: list[FlatPassage]) -> None:
        """Index the documents with our writer, as `archive reindex` does."""
        build_index(directory / "index", documents, Taxonomy.load().fingerprint)

    def open(self, directory: Path) -> None:
        """Open the archive built in `directory`."""
        self.archive = Archive(Settings(home=directory))

    def search(self, query: Query) -> Response:
        """The full response to one query of the mix (10 per page), as `/search` answers it in JSON."""
        request = SearchRequest(query.text, filters=query.filters, per_page=10)
        if self.crowding and "crowding" in self.off:
            request = dataclasses.replace(request, crowding=False)
        return self.respond(request)

    def respond(self, request: SearchRequest) -> Response:
        """The full response to any search request: the results and their JSON body."""
        assert self.archive is not None
        r = self.archive.search(request)
        body = r.to_json()  # what the JSON endpoint serialises (hits' urls, permalinks...)
        return Response(
            r.total,
            [(h.id, h.highlight) for h in r.hits],
            {f: {v.value: v.count for v in values} for f, values in r.facets.items()},
            [tuple(hit.get("excerpts", ())) for hit in body["hits"]],
        )

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages for free text, in rank order."""
        assert self.archive is not None
        r = self.archive.search(SearchRequest(text, per_page=limit))
        return [h.document for h in r.hits]
