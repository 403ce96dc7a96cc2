"""What an index generation holds: its statistics, every document's record and passage count.

`stats` is what `archive stats` and `/health` report; `records` and `passage_counts` are what `reindex`
compares with the files and `check` verifies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .facets import facet_counts
from .generations import Generation
from .indexer import read_meta
from .results import Stats
from .schema import SCHEMA_VERSION
from .taxonomy import Taxonomy


def stats(gen: Generation | None, taxonomy: Taxonomy) -> Stats:
    """Documents, passages, build time, size on disk and facet counts of a generation (zero without one)."""
    if gen is None:
        return Stats(0, 0, None, SCHEMA_VERSION, 0, None, {})
    arrays = gen.arrays
    size = sum(f.stat().st_size for f in gen.path.iterdir() if f.is_file())
    facets = facet_counts(arrays, taxonomy, {}, arrays.live_passages, {})
    return Stats(
        int(arrays.records.size),
        int(arrays.live_passages.size),
        read_meta(gen.path).get("built_at"),
        SCHEMA_VERSION,
        size,
        gen.path.name,
        facets,
    )


def records(gen: Generation | None) -> dict[str, dict[str, Any]]:
    """Every indexed document's record, by document id (a copy: the generation's own stays cached)."""
    return dict(gen.records) if gen else {}


def passage_counts(gen: Generation | None) -> dict[str, int]:
    """How many passages the index really holds for each document."""
    if gen is None:
        return {}
    arrays = gen.arrays
    ordinals = np.bincount(arrays.document_of[arrays.live_passages], minlength=arrays.records.size)
    names = [gen.stored(int(d))["doc"] for d in arrays.records]
    return {names[i]: int(c) for i, c in enumerate(ordinals) if c}
