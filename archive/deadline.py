"""The time limit of a search, a document view or an export ranking: the moment its evaluation must stop,
what it had found when it stopped, and the note an answer cut short carries."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .idsets import Ids
    from .phrases import Chain


SEARCH_DEADLINE = 3.0
"""Seconds one search, document view or export ranking may spend matching before it answers with what
it found so far (and a note saying so). Phrase verification on our arrays and Whoosh's own evaluation
(spans, ranges) both stop there: a 64-word phrase over 66,000 passages took 57 s without it, and two
20-word phrases held both search threads for 32 s. The rest of the answer (ranking what was found,
facets, highlights) is bounded by the page size and takes milliseconds."""

PARTIAL_NOTE = "recherche arrêtée après {seconds:g} s : résultats partiels"
"""The note an answer carries when matching stopped at the deadline."""


class Deadline:
    """The moment one request's evaluation must stop, and whether it did stop early.

    Work that can stop with a part of its answer (verifying phrase candidates, Whoosh's own collectors)
    looks at it as it goes; what it stopped sets `cut`, so the caller says the results are partial.
    Partial phrase matches are kept here for the rest of the request (ranking asks for them again),
    never in the generation's caches.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds
        self.cut = False
        self.partial: dict[Chain, Ids] = {}

    def expired(self) -> bool:
        """Whether the moment has passed (never, without a limit)."""
        return self._end is not None and time.monotonic() >= self._end

    def remaining(self) -> float | None:
        """Seconds left (0 when expired), or None without a limit."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    def stopped(self, chain: Chain, found: Ids, keep: bool) -> Ids:
        """Note that a phrase's verification stopped with `found`, kept for the request when `keep`."""
        self.cut = True
        if keep:
            self.partial[chain] = found
        return found


def noted(notes: list[str], deadline: Deadline) -> tuple[str, ...]:
    """The parser's notes, and the deadline's when matching stopped early."""
    if deadline.cut:
        return (*notes, PARTIAL_NOTE.format(seconds=deadline.seconds or 0))
    return tuple(notes)
