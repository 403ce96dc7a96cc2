"""The archive's core: French documents in, passages indexed, searched and counted.

This is the public API, what `web/` and `bench/` (and any other front end) may use; everything else in
the package is internal and may change. Names load on first use (PEP 562), so importing the package
stays light: the reader worker processes import `archive` before their own module, and must not pull
Whoosh or numpy in.

    from archive import Archive, SearchRequest, Settings

    with Archive(Settings.from_env()) as archive:
        results = archive.search(SearchRequest(query="blanchiment aggravé").validate())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module that defines it (the attribute of the same name there)
_HOMES: dict[str, str] = {
    # the facade and its settings
    "Archive": "home",
    "Settings": "settings",
    "DEFAULT_SEARCH_THREADS": "settings",
    "main": "cli",
    # what goes in: documents and their parts
    "Document": "models",
    "Block": "models",
    "Metadata": "models",
    "Passage": "models",
    "split": "passages",
    "type_label": "metadata",
    "Taxonomy": "taxonomy",
    "budget": "isolation",
    "read_in_process": "extract",
    "build_index": "indexer",
    # what comes out: requests, results, reports
    "SearchRequest": "request",
    "SearchResults": "results",
    "Hit": "results",
    "Copy": "results",
    "FacetValue": "results",
    "DocumentView": "results",
    "Report": "outcomes",
    "Export": "searcher",
    "FACETS": "models",
    "SORTS": "request",
    "MAX_SELECTED": "request",
    "DOCUMENT_PAGE": "wire",
    "SEARCH_DEADLINE": "deadline",
    "PARTIAL_NOTE": "deadline",
    "document_path": "wire",
    "permalink": "wire",
    "UNDATED": "columns",
    "Feed": "feed",
    "FEED_ENTRIES": "feed",
    # errors: the data a front end turns into a status and a message
    "ArchiveError": "errors",
    "ArchiveBusy": "errors",
    "ClusterMismatch": "errors",
    "CursorExpired": "errors",
    "DocumentNotFound": "errors",
    "FixityError": "errors",
    "IndexMissing": "errors",
    "ReaderFailed": "errors",
    "ReaderUnavailable": "errors",
    "RejectedInput": "errors",
    "SchedulerUnreachable": "errors",
    "SettingsError": "errors",
    "StorageError": "errors",
    "TaxonomyError": "errors",
    "UsageError": "errors",
}

# Whole modules that are public as namespaces: the French analyzer (its doctests are its specification)
# and the JSON bodies' types (the API's wire format).
_MODULES = ("analysis", "wire")

# where a public name is not the defining module's own name for it
_RENAMED = {"build_index": "build"}

# spelled out for type checkers; tests/test_layering.py checks it names exactly _HOMES and _MODULES
__all__ = [
    "DEFAULT_SEARCH_THREADS",
    "DOCUMENT_PAGE",
    "FACETS",
    "FEED_ENTRIES",
    "MAX_SELECTED",
    "PARTIAL_NOTE",
    "SEARCH_DEADLINE",
    "SORTS",
    "UNDATED",
    "Archive",
    "ArchiveBusy",
    "ArchiveError",
    "Block",
    "ClusterMismatch",
    "Copy",
    "CursorExpired",
    "Document",
    "DocumentNotFound",
    "DocumentView",
    "Export",
    "FacetValue",
    "Feed",
    "FixityError",
    "Hit",
    "IndexMissing",
    "Metadata",
    "Passage",
    "ReaderFailed",
    "ReaderUnavailable",
    "RejectedInput",
    "Report",
    "SchedulerUnreachable",
    "SearchRequest",
    "SearchResults",
    "Settings",
    "SettingsError",
    "StorageError",
    "Taxonomy",
    "TaxonomyError",
    "UsageError",
    "analysis",
    "budget",
    "build_index",
    "document_path",
    "main",
    "permalink",
    "read_in_process",
    "split",
    "type_label",
    "wire",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), _RENAMED.get(name, name))
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ above
    from . import analysis as analysis
    from . import wire as wire
    from .cli import main as main
    from .columns import UNDATED as UNDATED
    from .deadline import PARTIAL_NOTE as PARTIAL_NOTE
    from .deadline import SEARCH_DEADLINE as SEARCH_DEADLINE
    from .errors import (
        ArchiveBusy as ArchiveBusy,
    )
    from .errors import (
        ArchiveError as ArchiveError,
    )
    from .errors import (
        ClusterMismatch as ClusterMismatch,
    )
    from .errors import (
        CursorExpired as CursorExpired,
    )
    from .errors import (
        DocumentNotFound as DocumentNotFound,
    )
    from .errors import (
        FixityError as FixityError,
    )
    from .errors import (
        IndexMissing as IndexMissing,
    )
    from .errors import (
        ReaderFailed as ReaderFailed,
    )
    from .errors import (
        ReaderUnavailable as ReaderUnavailable,
    )
    from .errors import (
        RejectedInput as RejectedInput,
    )
    from .errors import (
        SchedulerUnreachable as SchedulerUnreachable,
    )
    from .errors import (
        SettingsError as SettingsError,
    )
    from .errors import (
        StorageError as StorageError,
    )
    from .errors import (
        TaxonomyError as TaxonomyError,
    )
    from .errors import (
        UsageError as UsageError,
    )
    from .extract import read_in_process as read_in_process
    from .feed import FEED_ENTRIES as FEED_ENTRIES
    from .feed import Feed as Feed
    from .home import Archive as Archive
    from .indexer import build as build_index
    from .isolation import budget as budget
    from .metadata import type_label as type_label
    from .models import (
        FACETS as FACETS,
    )
    from .models import (
        Block as Block,
    )
    from .models import (
        Document as Document,
    )
    from .models import (
        Metadata as Metadata,
    )
    from .models import (
        Passage as Passage,
    )
    from .outcomes import Report as Report
    from .passages import split as split
    from .request import (
        MAX_SELECTED as MAX_SELECTED,
    )
    from .request import (
        SORTS as SORTS,
    )
    from .request import (
        SearchRequest as SearchRequest,
    )
    from .results import (
        Copy as Copy,
    )
    from .results import (
        DocumentView as DocumentView,
    )
    from .results import (
        FacetValue as FacetValue,
    )
    from .results import (
        Hit as Hit,
    )
    from .results import (
        SearchResults as SearchResults,
    )
    from .searcher import Export as Export
    from .settings import DEFAULT_SEARCH_THREADS as DEFAULT_SEARCH_THREADS
    from .settings import Settings as Settings
    from .taxonomy import Taxonomy as Taxonomy
    from .wire import DOCUMENT_PAGE as DOCUMENT_PAGE
    from .wire import document_path as document_path
    from .wire import permalink as permalink
