"""« Citer »: a passage's French citation, with its permalink, as the search and document pages show it.

The citation names the passage by its permalink (`archive.permalink`: the offset of its first character
in the document's text), which survives a reindex with other passage sizes; its `§ N` is the passage's
position today, said for the reader's convenience. The address is absolute when `ARCHIVE_BASE_URL` is
set, relative otherwise (never built from the request's `Host` header): the page's script then writes
the browser's own origin in front of it. The consultation date is the server's day, which is why the
pages' `ETag` changes at midnight (see caching.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from archive import Hit, permalink

from .rendering import french_date

_NBSP = "\u00a0"  # French typography: «, », § and : never stand alone at the end or start of a line


@dataclass(frozen=True)
class Citation:
    """A passage's citation: the text up to its address, the address (its permalink), and the day."""

    text: str  # « Titre », Source, 27 juin 2024, section « … », § 3. En ligne :
    href: str  # the permalink: relative, or absolute with ARCHIVE_BASE_URL
    consulted: str  # (consulté le 30 novembre 2026).

    @property
    def full(self) -> str:
        """The whole citation as plain text."""
        return f"{self.text} {self.href} {self.consulted}"


def cite(
    *,
    document: str,
    start: int,
    title: str,
    source: str | None,
    date: str | None,
    section: str,
    position: int,
    base_url: str,
    today: dt.date | None = None,
) -> Citation:
    """The French citation of the passage of `document` that starts at character `start`.

    « Titre », Source, 27 juin 2024, section « Section », § 3. En ligne : <adresse> (consulté le …), with
    no-break spaces inside the guillemets and after §.
    An undated document reads « s. d. » (sans date), as French bibliographies write it.
    """
    href = base_url + permalink(document, start)
    parts = [f"«{_NBSP}{title or document}{_NBSP}»"]
    if source:
        parts.append(source)
    parts.append(french_date(date) if date else "s. d.")
    if section:
        parts.append(f"section «{_NBSP}{section}{_NBSP}»")
    parts.append(f"§{_NBSP}{position}")
    day = french_date((today or dt.date.today()).isoformat())
    return Citation(", ".join(parts) + f". En ligne{_NBSP}:", href, f"(consulté le {day}).")


def of_hit(hit: Hit, base_url: str) -> Citation:
    """A search hit's passage cited."""
    return cite(
        document=hit.document,
        start=hit.start,
        title=hit.title,
        source=hit.source,
        date=hit.date,
        section=hit.section,
        position=hit.position,
        base_url=base_url,
    )
