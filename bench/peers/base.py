"""What every peer does: build an index of the same passages, answer the full response, rank for quality."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from archive import Document

from ..corpus import FlatPassage
from ..queries import FACETS, Query


@dataclass
class Response:
    """The full response: exact total, top hits with highlights, multi-select counts for the five facets."""

    total: int
    hits: list[tuple[str, str]]  # (passage id, highlighted text)
    facets: dict[str, dict[str, int]]
    excerpts: list[tuple[str, ...]] = field(default_factory=list)  # each hit's, where the peer makes them


class Peer(Protocol):
    """An engine under comparison: builds an index of the passages, answers the mix, ranks for quality."""

    name: str
    description: str

    def build(self, directory: Path, documents: list[Document], passages: list[FlatPassage]) -> None:
        """Index the passages (what the benchmark times)."""

    def open(self, directory: Path) -> None:
        """Open the built index for searching (one searcher for the whole run)."""

    def search(self, query: Query) -> Response:
        """The full response to one query of the mix."""

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages for free text, in rank order (quality runs)."""


def scopes(query: Query) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Multi-select: the facets counted under all filters, then each filtered facet under the others only.

    Returns (facets to count, filters to apply) pairs; the first pair also gives the hits and the total.
    """
    filters = dict([query.filter]) if query.filter else {}
    unfiltered = tuple(f for f in FACETS if f not in filters)
    out: list[tuple[tuple[str, ...], dict[str, str]]] = [(unfiltered, filters)]
    for facet in filters:
        out.append(((facet,), {k: v for k, v in filters.items() if k != facet}))
    return out


def first_documents(doc_ids: list[str], limit: int = 10) -> list[str]:
    """Document-level ranking: passages in rank order, each document at its first occurrence."""
    seen: dict[str, None] = {}
    for d in doc_ids:
        seen.setdefault(d, None)
        if len(seen) >= limit:
            break
    return list(seen)
