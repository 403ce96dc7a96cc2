"""A page of search results as `archive search` prints it for a person (`--json` prints the API's body).

The first line counts what was found and how the query was understood. A loosened query (relaxation.py)
counts the passages holding every word apart from those holding only the essential of it, since that is
the number a researcher reports; a corrected query says that the correction was searched, and how to
search what was typed.
"""

from __future__ import annotations

import html
import os
import sys
from typing import TextIO

from .results import Hit, SearchResults


def headline(results: SearchResults) -> str:
    """The first line: how many passages in how many documents, and how the query was understood."""
    found = f"{results.total} passages in {results.documents} documents"
    complete = results.complete_total
    if results.loosened:
        found = (
            f"{complete} passages hold every word; {found} hold the essential of it"
            if complete
            else f"no passage holds every word; {found} hold the essential of it"
        )
    understood = results.interpreted_as or (
        "(nothing: every word is too common)" if results.query.strip() else "(everything)"
    )
    return f"{found} ({results.took_ms:.0f} ms) — understood as: {understood}"


def write(results: SearchResults, out: TextIO | None = None) -> None:
    """The headline, the notes, the correction or the suggestion, then each hit."""
    out = out or sys.stdout
    print(headline(results), file=out)
    if results.corrected_query is not None:
        print(
            f"  corrected: {results.query!r} matches no passage; searched {results.corrected_query!r} instead"
            " (--no-correct searches exactly what was typed)",
            file=out,
        )
    for note in results.notes:
        print(f"  note: {note}", file=out)
    if results.suggestion:
        print(f"  did you mean: {results.suggestion}", file=out)
    for hit in results.hits:
        _hit(hit, out)


def _hit(hit: Hit, out: TextIO) -> None:
    print(file=out)
    when = f"{hit.date or 'undated'}, {hit.source or 'unknown source'}"
    print(f"{hit.id}  [{hit.score:g}]  {hit.title} ({when})", file=out)
    if hit.section:
        print(f"  § {hit.section}", file=out)
    print("  " + terminal(hit.highlight, out), file=out)
    if hit.more_in_document:
        print(f"  + {hit.more_in_document} more matching passage(s) in this document", file=out)
    if hit.duplicates:  # near-duplicates left out of the list (issue 14)
        others = ", ".join(c.document for c in hit.duplicates)
        print(f"  = also in {len(hit.duplicates)} other document(s): {others}", file=out)


def terminal(highlight: str, out: TextIO) -> str:
    """A hit's highlight as plain text: matched words bold on a terminal (unless NO_COLOR), else [bracketed]."""
    bold = out.isatty() and not os.environ.get("NO_COLOR")
    text = highlight.replace("<mark>", "\x1b[1;33m" if bold else "[").replace(
        "</mark>", "\x1b[0m" if bold else "]"
    )
    return html.unescape(" ".join(text.split()))
