"""Relaxation: a plain query that few passages match in full also finds the passages missing a word.

A researcher's question often uses a word the best passage does not. When fewer than BLEND_BELOW
passages hold every word of a plain query (bare words, implicitly AND'ed), the passages holding at least
RELAX_SHARE (30 %) of the query's weight join them. Each word weighs its rarity (idf), so a passage with
the rare words counts more than one with the common ones; ranking then multiplies a passage's score by
the share it holds (to the power COORDINATION, 1 today: see `Arrays.top`), so complete matches lead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from . import query
from .deadline import Deadline
from .facets import narrowed
from .generations import Generation
from .idsets import Ids, coverage, intersect, union

RELAX_SHARE = 0.3
"""A loosened query keeps the passages holding at least this share (30 %) of its words' weight (idf)."""

BLEND_BELOW = 20
"""A plain query matched in full by fewer passages than this also lists, after them, those missing a word."""


@dataclass(frozen=True)
class Relaxed:
    """A loosened query's matches, each word's passages and weight (for ranking), and what to tell."""

    passages: Ids
    weights: list[tuple[Ids, float]]
    interpretation: str
    note: str


def applies(parsed: query.Parsed, matches: Ids) -> bool:
    """Whether a query may be loosened: plain words, matched in full by fewer than BLEND_BELOW passages."""
    return bool(parsed.relaxable) and matches.size < BLEND_BELOW


def relax(
    gen: Generation, parsed: query.Parsed, strict: Ids, selections: Iterable[Ids], deadline: Deadline
) -> Relaxed:
    """The complete matches `strict` and the passages holding at least RELAX_SHARE of the query's weight.

    Only passages the filters (`selections`) let through count. When no passage has any of the words,
    `strict` comes back unchanged with no note.
    """
    parts = parsed.relaxable
    allowed = narrowed(gen.arrays.live_passages, selections)
    found = [intersect(gen.docs(part, deadline), allowed) for part in parts]
    everything = max(int(gen.arrays.live_passages.size), 1)
    weighted = [(ids, math.log(everything / (ids.size + 1)) + 1) for ids in found]
    if not any(f.size for f in found):
        return Relaxed(strict, weighted, parsed.interpretation, "")
    size = gen.arrays.doc_count
    ids = union(found, size)
    loosened = union([strict, ids[coverage(ids, weighted) >= RELAX_SHARE]], size)
    interpretation, note = _told(parsed.interpretation, len(parts), int(strict.size))
    return Relaxed(loosened, weighted, interpretation, note)


def _told(interpretation: str, words: int, complete: int) -> tuple[str, str]:
    """How a loosened query is shown (its interpretation) and the note saying what was done."""
    loose = interpretation.replace(" AND ", " OR ")
    if complete:
        note = (
            f"{complete} passage(s) contiennent tous les mots ; s'y ajoutent ceux qui en contiennent "
            "l'essentiel (les mots rares comptent davantage), classés après eux sauf mot rare"
        )
        return f"{interpretation}, puis {loose} (l'essentiel des {words} mots)", note
    note = (
        "aucun passage ne contient tous les mots : voici ceux qui en contiennent l'essentiel "
        "(les mots rares comptent davantage), les plus complets d'abord"
    )
    return f"{loose} (l'essentiel des {words} mots)", note
