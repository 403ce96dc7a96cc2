"""`format=atom`: a search's newest passages as an Atom 1.0 feed (RFC 4287), so that feed readers alert.

Any `/search` address with `format=atom` answers the FEED_ENTRIES newest passages the search matches, by
document date then indexing time (`Archive.feed`), crowded as its list is. Written with the standard
library's ElementTree: the feed is a dozen elements of one fixed shape, and ElementTree escapes text and
attributes; a feed library (feedgen) would bring two more dependencies for no element we lack. Tests
read the feed with `feedparser`.

Identifiers are `urn:uuid:` names (RFC 4122, version 5) derived from stable strings, so that they are
absolute, as Atom requires, without knowing the site's address: the feed's from its normalised search,
an entry's from its passage's permalink (the document and the offset of its first character, which a
reindex keeps). Links are absolute from `ARCHIVE_BASE_URL`, relative otherwise (a feed reader resolves
them against the feed's own address); never built from the request's `Host` header.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from archive import UNDATED, Archive, Feed, Hit, SearchRequest, permalink, type_label

from .caching import Validators, headers_for
from .rendering import french_date

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold, even escaped (a PDF's form feeds): spaces in the feed's text."""


async def atom_response(
    request: Request, archive: Archive, search: SearchRequest, address: str, found: Validators | None
) -> Response:
    """The Atom feed of `search`, whose query string (without paging and format) is `address`."""
    base_url: str = request.app.state.settings.base_url or ""
    committed = found.modified if found is not None else None
    cache = headers_for(found)

    def build() -> bytes:
        return atom(archive.feed(search), search, archive, base_url + "/search?" + address, committed)

    body = await anyio.to_thread.run_sync(build, limiter=request.app.state.searches)
    return Response(body, media_type=MEDIA_TYPE, headers=cache)


def atom(feed: Feed, search: SearchRequest, archive: Archive, page: str, committed: int | None) -> bytes:
    """The feed's XML: `page` is the search's results page (absolute with ARCHIVE_BASE_URL), `committed`
    the index's last commit (epoch seconds), which dates a feed without entries."""
    results = feed.results
    base_url = page.partition("/search?")[0]
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": "fr"})
    _text(root, "id", _urn(page))
    _text(root, "title", _title(search, archive))
    count = f"{results.total} passage{'s' if results.total > 1 else ''} correspond{'ent' if results.total > 1 else ''}"
    _text(root, "subtitle", f"{count} ; les plus récents d'abord (date du document, puis d'indexation).")
    updated = [_instant(i) for i in feed.indexed if i]
    fallback = _instant(dt.datetime.fromtimestamp(committed or 0, dt.UTC).isoformat())
    _text(root, "updated", max(updated, default=fallback))
    _link(root, "self", page + "&format=atom", "application/atom+xml")
    _link(root, "alternate", page, "text/html")
    ET.SubElement(ET.SubElement(root, "author"), "name").text = "Archive"
    _text(root, "generator", "archive")
    for hit, indexed in zip(results.hits, feed.indexed, strict=True):
        _entry(root, hit, base_url, _instant(indexed) if indexed else fallback)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _entry(root: ET.Element, hit: Hit, base_url: str, updated: str) -> None:
    """One passage: titled by its document and section, its excerpts as summary, the passage as content."""
    entry = ET.SubElement(root, "entry")
    link = permalink(hit.document, hit.start)
    _text(entry, "id", _urn(base_url + link.partition("#")[0]))
    where = f"{hit.section}, § {hit.position}" if hit.section else f"§ {hit.position}"
    _text(entry, "title", f"{hit.title or hit.document} ({where})")
    _text(entry, "updated", updated)
    if hit.date:
        _text(entry, "published", f"{hit.date}T00:00:00Z")
    _link(entry, "alternate", base_url + link, "text/html")
    about = " · ".join(x for x in (hit.source, french_date(hit.date) if hit.date else None) if x)
    summary = " ".join(f"<p>{e}</p>" for e in hit.excerpts) or f"<p>{hit.highlight}</p>"
    _text(entry, "summary", summary, kind="html")
    more = (
        f"<p>{hit.more_in_document} autre passage de ce document correspond.</p>"
        if hit.more_in_document == 1
        else f"<p>{hit.more_in_document} autres passages de ce document correspondent.</p>"
        if hit.more_in_document
        else ""
    )
    content = f"<p>{hit.highlight}</p>" + (f"<p><small>{about}</small></p>" if about else "") + more
    _text(entry, "content", content, kind="html")


def _title(search: SearchRequest, archive: Archive) -> str:
    """« Archive — recherche « mots » », then the filters, labelled."""
    words = f"« {search.query.strip()} »" if search.query.strip() else "de tous les passages"
    filters = [_label(archive, name, v) for name, values in search.filters.items() for v in values]
    filters += [f"depuis le {search.date_from}"] if search.date_from else []
    filters += [f"jusqu'au {search.date_to}"] if search.date_to else []
    return f"Archive — recherche {words}" + (f" ({', '.join(filters)})" if filters else "")


def _label(archive: Archive, facet: str, value: str) -> str:
    if facet in ("agency", "offence"):
        return archive.taxonomy.label(facet, value)
    if facet == "type":
        return type_label(value)
    return "non daté" if facet == "year" and value == UNDATED else value


def _text(parent: ET.Element, tag: str, text: str, kind: str | None = None) -> None:
    element = ET.SubElement(parent, tag, {"type": kind} if kind else {})
    element.text = _NOT_XML.sub(" ", text)


def _link(parent: ET.Element, rel: str, href: str, media_type: str) -> None:
    ET.SubElement(parent, "link", {"rel": rel, "type": media_type, "href": href})


def _urn(name: str) -> str:
    """A stable, absolute identifier for `name` (RFC 4122 name-based UUID, as Atom ids must be IRIs)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def _instant(value: str) -> str:
    """An ISO 8601 time as RFC 3339 wants it in Atom: UTC, to the second, with `Z`."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
