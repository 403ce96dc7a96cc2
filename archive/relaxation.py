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

from . import analysis, query
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
    interpretation, note = _told(parsed, int(strict.size))
    return Relaxed(loosened, weighted, interpretation, note)


def _told(parsed: query.Parsed, complete: int) -> tuple[str, str]:
    """How a loosened query is shown (its interpretation) and the note saying what was done.

    It counts the words typed: one hyphenated word (`450-1`, `crypto-actifs`) is loosened into its parts,
    which are then named, since its interpretation alone would read the same before and after.
    """
    typed = parsed.typed
    if len(typed) == 1:
        word = typed[0]
        loose = " OR ".join(_parts(word))
        essential = f"l'essentiel des parties de « {word} »"
        whole = f"{complete} passage(s) contiennent « {word} » en entier"
    else:
        loose = parsed.interpretation.replace(" AND ", " OR ")
        essential = f"l'essentiel des {len(typed)} mots"
        whole = f"{complete} passage(s) contiennent tous les mots"
    if complete:
        note = (
            f"{whole} ; s'y ajoutent ceux qui en contiennent l'essentiel (les mots rares comptent "
            "davantage), classés après eux sauf mot rare"
        )
        return f"{parsed.interpretation}, puis {loose} ({essential})", note
    nothing = "aucun passage ne contient " + (
        f"« {typed[0]} » en entier" if len(typed) == 1 else "tous les mots"
    )
    note = (
        f"{nothing} : voici ceux qui en contiennent l'essentiel (les mots rares comptent davantage), "
        "les plus complets d'abord"
    )
    return f"{loose} ({essential})", note


def _parts(word: str) -> list[str]:
    """The parts a hyphenated word is searched by (`crypto-actifs`: crypto, cryptoactifs, actifs)."""
    found = list(analysis.tokens(word))
    # one token per position: a compound's join shares its first part's (whatever its hyphen, - or ‑)
    pieces = [t for i, t in enumerate(found) if i == 0 or t.position != found[i - 1].position]
    parts = [t.word for t in pieces if not t.stop]
    joined = "".join(t.word for t in pieces)
    return list(dict.fromkeys([*parts[:1], joined, *parts[1:]] if len(parts) > 1 else parts))
