"""The time limit of a search, a document view or an export ranking, and what is said when it is reached.

`SEARCH_DEADLINE` is how long matching may take (a `Deadline`, from deadline.py, counts it down; Whoosh's
own collectors stop there too, see generations.py); an answer cut short carries `PARTIAL_NOTE` (`noted`).
"""

from __future__ import annotations

from .deadline import Deadline

SEARCH_DEADLINE = 3.0
"""Seconds one search, document view or export ranking may spend matching before it answers with what
it found so far (and a note saying so). Phrase verification on our arrays and Whoosh's own evaluation
(spans, ranges) both stop there: a 64-word phrase over 66,000 passages took 57 s without it, and two
20-word phrases held both search threads for 32 s. The rest of the answer (ranking what was found,
facets, highlights) is bounded by the page size and takes milliseconds."""

WHOOSH_BUDGET = SEARCH_DEADLINE
"""The former name of SEARCH_DEADLINE, when only Whoosh's own evaluation had a time limit."""

PARTIAL_NOTE = "recherche arrêtée après {seconds:g} s : résultats partiels"
"""The note an answer carries when matching stopped at the deadline."""


def noted(notes: list[str], deadline: Deadline) -> tuple[str, ...]:
    """The parser's notes, and the deadline's when matching stopped early."""
    if deadline.cut:
        return (*notes, PARTIAL_NOTE.format(seconds=deadline.seconds or 0))
    return tuple(notes)
