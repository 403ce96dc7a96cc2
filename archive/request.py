"""What a search asks: `SearchRequest`, the one question every front end (CLI, HTTP, exports) puts.

`validate` checks its parameters before any search or export runs; the core answers with results.py's
types.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

from .errors import UsageError
from .models import FACETS

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")

MAX_SELECTED = 20
"""Values one facet filter may select at once. A researcher ticks a handful (the archive's years span a
few decades); each selected value costs a posting-list union and a line of the page, so 1,700 of them
were a way to freeze the service. More is refused with a clear error, never silently dropped."""


@dataclass(frozen=True)
class SearchRequest:
    """Everything a front end can ask of a search; `validate` checks it before any search or export runs."""

    query: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet name -> OR'ed values
    date_from: str | None = None  # ISO day, inclusive
    date_to: str | None = None
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 10
    cursor: str | None = None  # a previous page's `next_cursor`: the page after it (instead of `page`)
    correct: bool = True  # a query matching nothing is searched as its spelling suggestion, when that finds
    crowding: bool = True  # at most `planning.PER_DOCUMENT` passages of one document in the list
    group: bool = False  # a list of documents, each with its best passages (pages count documents)

    def validate(self) -> SearchRequest:
        """This request, once its parameters are in range; UsageError names the parameter at fault."""
        self._check_paging()
        if self.sort not in SORTS:
            raise UsageError(f"sort must be one of {', '.join(SORTS)}", "sort")
        for name, value in (("from", self.date_from), ("to", self.date_to)):
            if value is not None and not self._iso_day(value):
                raise UsageError(f"{name} must be an ISO date like 2024-06-27", name)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UsageError("from must not be after to", "from")
        for name in self.filters:
            if name not in FACETS:
                raise UsageError(f"unknown facet {name!r}: use {', '.join(FACETS)}", name)
        self.check_filters(self.filters)
        wrong = [v for v in self.filters.get("year", ()) if not self.is_year(v)]
        if wrong:  # `20x9` would select nothing, silently
            raise UsageError(f"year must be four digits (2024) or sans-date, not {wrong[0][:40]!r}", "year")
        return self

    def _check_paging(self) -> None:
        """UsageError for a page, cursor or page size out of range."""
        if self.page < 1:
            raise UsageError("page must be 1 or more", "page")
        if self.page > 10_000:
            raise UsageError("page must be at most 10000", "page")
        if self.cursor is not None and self.page != 1:
            raise UsageError(
                "cursor cannot be combined with page: the cursor says where the page starts", "cursor"
            )
        if not 1 <= self.per_page <= 100:
            raise UsageError("per_page must be between 1 and 100", "per_page")
        if self.group and (self.cursor is not None or not self.crowding):
            raise UsageError("group=document is paged by number, without cursor nor crowding=false", "group")

    @staticmethod
    def check_filters(filters: dict[str, tuple[str, ...]]) -> None:
        """Refuse more than MAX_SELECTED values of one facet (UsageError naming the facet)."""
        for name, values in filters.items():
            if len(values) > MAX_SELECTED:
                raise UsageError(
                    f"{name}: at most {MAX_SELECTED} values can be selected at once, not {len(values)}", name
                )

    @staticmethod
    def is_year(value: str) -> bool:
        """Whether `value` is a `year` filter's value: four digits (2024), or UNDATED for undated documents."""
        from .columns import UNDATED  # here: columns imports numpy, which `archive --help` need not load

        return value == UNDATED or (len(value) == 4 and value.isascii() and value.isdigit())

    @staticmethod
    def _iso_day(value: str) -> bool:
        """Whether `value` is a real calendar day written as ISO's YYYY-MM-DD, and nothing else."""
        try:
            return datetime.date.fromisoformat(value).isoformat() == value
        except ValueError:
            return False
