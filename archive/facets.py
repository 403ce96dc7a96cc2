"""Filters and facets: the passages each selected facet value lets through, and the facet counts.

Facets count with multi-select semantics (each facet ignores its own filter, not the others'), list the
MAX_FACET_VALUES most frequent values and always the selected ones; labels come from the taxonomy (agency,
offence) and the document types. The facet names themselves are `models.FACETS`; how many values one
filter may select is checked by `SearchRequest.check_filters`.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import postings
from .columns import UNDATED
from .idsets import Ids, intersect
from .metadata import type_label
from .models import FACETS
from .request import SearchRequest
from .results import FacetValue
from .taxonomy import KINDS, Taxonomy

MAX_FACET_VALUES = 50
"""Facet values returned per facet (the most frequent), besides the selected ones."""

UNDATED_LABEL = "Non daté"
"""What a person reads for the year facet's value of undated documents (`columns.UNDATED`)."""

_NEWEST_FIRST = "year"  # the facet listed by value, newest first, rather than by count


def narrowed(base: Ids, sets: Iterable[Ids]) -> Ids:
    """The passages of `base` that are in every one of `sets` (intersected smallest first)."""
    out = base
    for other in sorted(sets, key=len):
        out = intersect(out, other)
    return out


def selections(arrays: postings.Arrays, request: SearchRequest) -> dict[str, Ids]:
    """For each active filter, the passages it lets through (values of one facet are OR'ed)."""
    out: dict[str, Ids] = {}
    for facet, values in request.filters.items():
        if values:
            out[facet] = arrays.having(facet, values)
    if request.date_from or request.date_to:
        out["date"] = arrays.dated_between(request.date_from, request.date_to)
    return out


def facet_counts(
    arrays: postings.Arrays,
    taxonomy: Taxonomy,
    filters: dict[str, tuple[str, ...]],
    matched: Ids,
    chosen_sets: dict[str, Ids],
) -> dict[str, tuple[FacetValue, ...]]:
    """Counts with multi-select semantics: each facet ignores its own filter, not the others'."""
    out: dict[str, tuple[FacetValue, ...]] = {}
    for facet in FACETS:
        scope = narrowed(matched, [s for name, s in chosen_sets.items() if name != facet])
        chosen = filters.get(facet, ())
        counts = arrays.counts(facet, scope)
        counted = [FacetValue(v, label(taxonomy, facet, v), c, v in chosen) for v, c in counts.items()]
        counted += [
            FacetValue(v, label(taxonomy, facet, v), 0, True)
            for v in dict.fromkeys(chosen)
            if v not in counts
        ]
        if facet == _NEWEST_FIRST:  # the undated last
            counted.sort(key=lambda f: (f.value != UNDATED, f.value), reverse=True)
        else:
            counted.sort(key=lambda f: (-f.count, f.label.casefold()))
        kept = [f for f in counted[MAX_FACET_VALUES:] if f.selected or f.value == UNDATED]  # past 50 years
        out[facet] = tuple(counted[:MAX_FACET_VALUES] + kept)
    return out


def label(taxonomy: Taxonomy, facet: str, value: str) -> str:
    """What a person reads for a facet value: a taxonomy label, a document type's name, or the value."""
    if facet in KINDS:
        return taxonomy.label(facet, value)
    if facet == "type":
        return type_label(value)
    return UNDATED_LABEL if facet == "year" and value == UNDATED else value
