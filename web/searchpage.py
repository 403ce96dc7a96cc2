"""What the results page shows beyond `SearchResults`: labels, links, filter chips and pagination.

Every address comes from links.py; the template (templates/search.html) only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from archive import FACETS, SORTS, Copy, FacetValue, Hit, SearchRequest, SearchResults

from . import histogram
from .citation import Citation, of_hit
from .links import in_document, next_url, search_url

SORT_LABELS = {
    "relevance": "Pertinence",
    "newest": "Date, les plus récents d'abord",
    "oldest": "Date, les plus anciens d'abord",
}
"""The sort control's options. Without words to rank by, `relevance` lists the newest first (the core's
rule): the control then names it so (`SearchPage.sort_options`)."""

PER_PAGE = (10, 20, 50, 100)
"""The page sizes the results page offers (any size from 1 to 100 works in the address)."""

WINDOW = 2
"""Page numbers shown either side of the current page, besides the first and the last."""

MAX_PAGE = 10_000
"""The highest page a search accepts (`SearchRequest.validate`): no link points past it."""

FACET_TITLES = {
    "agency": "Service",
    "offence": "Infraction",
    "year": "Année",
    "type": "Type de document",
    "source": "Source",
}
"""Each facet of FACETS as the sidebar titles it, in the order the sidebar shows them."""

SIDEBAR_ORDER = tuple(FACET_TITLES)


def page_numbers(current: int, last: int) -> list[int | None]:
    """The page numbers a pager shows: the first, WINDOW either side of `current`, the last; None where
    pages are left out (a single left-out page is shown instead: « … » would take as much room)."""
    current = min(max(current, 1), last)
    shown = sorted({1, last, *range(max(1, current - WINDOW), min(last, current + WINDOW) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - (out[-1] or 0) == 2:
            out.append(n - 1)
        elif out and n - (out[-1] or 0) > 2:
            out.append(None)
        out.append(n)
    return out


@dataclass(frozen=True)
class Chip:
    """An active filter, shown with a button that submits the search form without it."""

    facet: str
    value: str
    label: str
    remove: str  # the `remove` parameter that drops it


class SearchPage:
    """What the search template needs beyond `SearchResults`: links and labels."""

    def __init__(self, request: SearchRequest, results: SearchResults, base_url: str = "") -> None:
        self.request = request
        self.results = results
        self.base_url = base_url
        self.labels = {name: {f.value: f.label for f in values} for name, values in results.facets.items()}
        self.facet_titles = FACET_TITLES
        self.last_page = min(results.pages, MAX_PAGE)
        self.grouped = request.group
        shown = len({h.document for h in results.hits}) if request.group else len(results.hits)
        self.first = (results.page - 1) * request.per_page + 1 if results.hits else 0
        self.last = self.first + shown - 1 if results.hits else 0

    def continues(self, index: int) -> bool:
        """Whether hit `index` of the page follows a hit of its own document (then it is shown under it)."""
        hits = self.results.hits
        return self.grouped and index > 0 and hits[index - 1].document == hits[index].document

    def group_url(self, grouped: bool) -> str:
        """This search as a list of documents with their best passages, or as a list of passages."""
        return search_url(self.request, page=None, group="document" if grouped else None)

    def feed_url(self) -> str:
        """This search's Atom feed: its newest matching passages, for a feed reader to follow."""
        return search_url(self.request, page=None, per_page=None, format="atom")

    def citation(self, hit: Hit) -> Citation:
        """The hit's passage cited, with its permalink (« Citer »)."""
        return of_hit(hit, self.base_url)

    def year_bars(self) -> list[histogram.Bar]:
        """The year facet as the bars of a histogram."""
        return histogram.bars(self.results.facets.get("year", ()))

    @property
    def filtered(self) -> bool:
        """Whether a facet or date filter is active."""
        return bool(self.request.filters or self.request.date_from or self.request.date_to)

    @property
    def sidebar(self) -> list[tuple[str, tuple[FacetValue, ...]]]:
        """Each facet with its values, in SIDEBAR_ORDER."""
        return [(name, self.results.facets.get(name, ())) for name in SIDEBAR_ORDER]

    def label(self, facet: str, value: str | None) -> str:
        """What a person reads for a facet value (the value itself when the facets do not list it)."""
        if value is None:
            return ""
        return self.labels.get(facet, {}).get(value, value)

    def page_url(self, page: int) -> str:
        """This search's page `page`."""
        return search_url(self.request, page=None if page == 1 else page)

    def page_numbers(self) -> list[int | None]:
        """The pager's page numbers around this page (see `page_numbers`)."""
        return page_numbers(self.results.page, self.last_page)

    @property
    def sort_options(self) -> list[tuple[str, str, bool]]:
        """The sort control's options: (value, label, selected). Without words, relevance lists the
        newest first, so it is offered under that name (and `newest`, the same order, is not offered
        twice); a query typed later is then ranked by relevance, as the form sends `relevance`."""
        sort = self.request.sort
        if self.request.query.strip():
            return [(v, SORT_LABELS[v], v == sort) for v in SORTS]
        return [
            ("relevance", SORT_LABELS["newest"], sort != "oldest"),
            ("oldest", SORT_LABELS["oldest"], sort == "oldest"),
        ]

    @property
    def per_page_options(self) -> list[int]:
        """The page sizes offered: PER_PAGE, and this page's own when the address asked for another."""
        return sorted({*PER_PAGE, self.request.per_page})

    @property
    def active_filters(self) -> int:
        """How many filters are active (the filter panel's summary says it when the panel is closed)."""
        return len(self.chips())

    def next_url(self) -> str | None:
        """The next page: by cursor when this one was reached by a cursor (it holds still), else by number."""
        if self.request.cursor is not None:
            return next_url(self.request, self.results)
        return self.page_url(self.request.page + 1) if self.request.page < self.last_page else None

    def export_url(self, fmt: str, sep: str | None = None) -> str:
        """Every match of this search in format `fmt` (csv, ndjson), CSV cells separated by `sep`."""
        return search_url(self.request, page=None, format=fmt, sep=sep)

    def suggestion_url(self) -> str:
        """This search with the suggested spelling."""
        return search_url(self.request, q=self.results.suggestion, page=None)

    @property
    def searched(self) -> str:
        """The query whose results the page shows: the corrected one when the search corrected it."""
        return self.results.corrected_query or self.request.query

    def corrected_url(self) -> str:
        """This search with the corrected query, as if it had been typed."""
        return search_url(self.request, q=self.results.corrected_query, page=None, correct=None)

    def verbatim_url(self) -> str:
        """This search of exactly what was typed, without correction."""
        return search_url(self.request, page=None, correct="false")

    def clear_url(self) -> str:
        """This query without any filter."""
        return "/search?" + urlencode({"q": self.request.query})

    def chips(self) -> list[Chip]:
        """The active filters. Each is a few bytes: a link per chip repeating every other filter made
        the page grow with the square of their number."""
        out = [
            Chip(name, value, self.label(name, value), f"{name}:{value}")
            for name in FACETS
            for value in self.request.filters.get(name, ())
        ]
        dates: tuple[tuple[str, str | None, str], ...] = (
            ("from", self.request.date_from, "depuis le"),
            ("to", self.request.date_to, "jusqu'au"),
        )
        out.extend(Chip(name, day, f"{text} {day}", name) for name, day, text in dates if day)
        return out

    def document_url(self, hit: Hit | Copy) -> str:
        """The hit's passage in its document (or a copy's, `Hit.duplicates`, in another document): the
        search's matches marked, counted and stepped through there, and the way back to this page of the
        list (links.py)."""
        return in_document(hit.document, hit.position, self.request, self.results.page)

    @staticmethod
    def cut(hit: Hit) -> bool:
        """Whether the hit's excerpts leave some of its passage out (then the page offers it whole)."""
        return len(hit.excerpts) > 1 or any(e.startswith("… ") or e.endswith(" …") for e in hit.excerpts)

    def plain_url(self) -> str:
        """This search without crowding: every matching passage, in rank order."""
        return search_url(self.request, page=None, crowding="false")

    def more_url(self, hit: Hit) -> str | None:
        """Under the last hit of its document on this page, when crowding left some of the document's
        matching passages out of the list: its page, the search's matches marked, counted and stepped
        through there."""
        if not hit.more_in_document:
            return None
        last = {h.document: h.id for h in self.results.hits}
        if last[hit.document] != hit.id:
            return None
        return in_document(hit.document, None, self.request, self.results.page)

    @property
    def show_interpretation(self) -> bool:
        """Whether the query was understood otherwise than typed, or corrected (then the page says how);
        not when nothing of it was searchable (every word a stop word: a note says so)."""
        typed = " ".join(self.searched.split())
        understood = self.results.interpreted_as.strip()
        return bool(typed) and bool(understood) and understood != typed

    @property
    def past_the_end(self) -> bool:
        """Whether the page asked comes after the last page of a search that has hits."""
        return bool(self.results.total) and not self.results.hits and self.request.page > self.last_page

    @property
    def loosened(self) -> bool:
        """Whether the headline must tell the passages holding every word from the others (relaxation)."""
        return self.results.loosened
