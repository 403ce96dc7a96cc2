"""An archive home: documents/, index/ and taxonomy.toml, and everything done to them.

`Archive` is the core's public face, shared by the CLI and the web layer: add, remove, reindex, search,
document, check, stats. It delegates: `pipeline` (bytes to a Document), `reindex` (planning from
`fixity`), `intake` (the add transaction and its undo), `checks`, `write` (the lock and the health a write
leaves), and `SearchRequest.validate`. Writers take the archive's write lock; readers never wait for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from . import checks, extract, health, indexer, intake
from .documents import Store, open_regular
from .errors import DocumentNotFound
from .extracted import Survey
from .feed import FEED_ENTRIES, Feed
from .generations import IndexVersion
from .models import Document
from .outcomes import Listener, Outcome, Problem, Report
from .pipeline import Pipeline
from .reindex import reindex
from .request import SearchRequest
from .results import DocumentView, SearchResults, Stats
from .searcher import Export, Searcher
from .settings import Settings
from .taxonomy import Taxonomy
from .wire import Degraded
from .write import Progress, Write, writing


class Archive:
    """An archive home opened for reading and writing: the one object the CLI and the web layer use.

    Reads (search, document, export, stats) go to the live index and never wait; writes (add, upload,
    reindex, remove) take the write lock, one at a time across processes, and leave the archive as it
    was when they fail.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.documents_dir)
        self.taxonomy = Taxonomy.load(settings.taxonomy_path)
        self.pipeline = Pipeline(settings, self.taxonomy)
        self.searcher = Searcher(settings.index_dir, self.taxonomy)

    def close(self) -> None:
        """Close the index; the archive cannot be used afterwards."""
        self.searcher.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def search(self, request: SearchRequest) -> SearchResults:
        """Search passages; raises UsageError for out-of-range parameters, never for query text."""
        return self.searcher.search(request.validate())

    def document(
        self,
        document_id: str,
        search: SearchRequest | str = "",
        page: int = 1,
        position: int | None = None,
        at: int | None = None,
    ) -> DocumentView:
        """One page of a document's passages (the page holding `position` if given, or the passage holding
        character `at` of its text: a permalink's), with the passages `search` (a search, or its query
        text) counts in it marked; UsageError for a bad parameter."""
        request = search.validate() if isinstance(search, SearchRequest) else search
        view = self.searcher.document(document_id, request, page=page, position=position, at=at)
        if view is None:
            raise DocumentNotFound(document_id)
        return view

    def feed(self, request: SearchRequest, limit: int = FEED_ENTRIES) -> Feed:
        """The newest passages a search matches, by document date then indexing time (an Atom feed's)."""
        return self.searcher.feed(request.validate(), limit)

    def export(self, request: SearchRequest, limit: int) -> Export:
        """Every match of a search in ranked order, up to `limit`, from one index generation."""
        return self.searcher.export(request.validate(), limit)

    def original(self, document_id: str) -> tuple[str, BinaryIO, int, str]:
        """The stored file of a document, opened without following links: (file name, open file, size,
        media type). The caller closes the file."""
        path = self.store.path_of(document_id)
        try:
            handle = open_regular(path)
        except OSError:  # gone, or swapped for a link since the lookup
            raise DocumentNotFound(document_id) from None
        fmt = extract.format_of(path.name) or ""
        size = os.fstat(handle.fileno()).st_size
        return path.name, handle, size, extract.MEDIA_TYPES.get(fmt, "application/octet-stream")

    def stats(self) -> Stats:
        """Documents, passages, index size and facet counts of the live index."""
        return self.searcher.stats()

    def version(self) -> IndexVersion | None:
        """The live index's latest commit (changes with every write), cheaply: no search is run."""
        return self.searcher.version()

    def health(self) -> Degraded | None:
        """Why the last write failed (`what`, `code`, `reason`, `since`), or None if it succeeded."""
        return health.read(self.settings.index_dir)

    def check(self) -> list[Problem]:
        """Fixity of every original against the manifest, and the index against the documents."""
        return checks.check(self.store, self.settings.index_dir, self.pipeline, self.searcher)

    def extraction_cache(self) -> Survey:
        """How many entries and bytes the extraction cache holds (`check` verifies them)."""
        return self.pipeline.extracted.survey(verify=False)

    def prepare(self, document_id: str, data: bytes, sidecar: bytes | None = None) -> Document:
        """Extract, split and tag one document; raises RejectedInput."""
        return self.pipeline.prepare(document_id, data, sidecar)

    # ------------------------------------------------------------------ writing

    def reindex(
        self,
        full: bool = False,
        progress: Progress | None = None,
        wait: float = 0.0,
        accept_changes: bool = False,
        listener: Listener | None = None,
    ) -> Report:
        """Bring the index in line with documents/: incrementally, or as a complete new generation.

        Originals that differ from the fixity manifest (altered or missing) stop the reindex with a
        FixityError before anything is written, unless `accept_changes` says the change is intended.
        `listener` hears each document's outcome as it is settled, in the report's order.
        """
        with self._writing("reindex --full" if full else "reindex", wait) as write:
            return reindex(write, full, progress, accept_changes, listener)

    def add(
        self,
        paths: Sequence[Path],
        folder: str | None = None,
        wait: float = 0.0,
        progress: Progress | None = None,
        listener: Listener | None = None,
    ) -> Report:
        """Copy files (or the files under folders) into documents/ and index them; rejected files stay out.

        `listener` hears each file's outcome as it is settled, in the report's order."""
        files = intake.files_under(paths, folder)
        with self._writing("add", wait) as write:
            items, total = intake.from_paths(files), intake.batch_size(files)
            return intake.store_and_index(write, items, total, progress, listener)

    def add_upload(
        self, files: Sequence[tuple[str, bytes]], folder: str | None = None, wait: float = 0.0
    ) -> Report:
        """Store uploaded files (name, bytes) and index them, like `add`."""
        with self._writing("upload", wait) as write:
            return intake.store_and_index(write, intake.from_uploads(files, folder), len(files), None)

    def remove(self, document_id: str, wait: float = 0.0) -> Outcome:
        """Delete a document's file, sidecar, manifest line and passages."""
        with self._writing("remove", wait):
            self.store.delete(document_id)
            manifest = self.store.read_manifest()
            manifest.pop(document_id, None)
            self.store.write_manifest(manifest)
            if indexer.live_generation(self.settings.index_dir) is not None:
                indexer.update(self.settings.index_dir, (), [document_id], self.taxonomy.fingerprint)
            return Outcome(document_id, "removed")

    @contextmanager
    def _writing(self, what: str, wait: float) -> Iterator[Write]:
        """A write of this archive, under its write lock (see `write.writing`)."""
        with writing(Write(self.settings, self.store, self.pipeline, self.searcher), what, wait) as write:
            yield write
