"""A document's metadata: read from the file (front matter, HTML meta, PDF info) and its sidecar, normalised.

The sidecar `NAME.meta.toml` (or `STEM.meta.toml`) next to a document wins over what the file says.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .analysis import fold
from .errors import RejectedInput
from .models import Metadata

if TYPE_CHECKING:  # the HTML reader's worker imports this module: it needs no taxonomy
    from .taxonomy import Taxonomy

SIDECAR_SUFFIX = ".meta.toml"

TYPE_LABELS: dict[str, str] = {
    "article": "Article",
    "communique": "Communiqué",
    "decision": "Décision",
    "rapport": "Rapport",
    "jugement": "Jugement",
    "arret": "Arrêt",
    "circulaire": "Circulaire",
    "note": "Note",
    "document": "Document",
}
"""Known document types (slug -> French label); other types are kept as their slug."""

_TYPE_SYNONYMS = {
    "communique-de-presse": "communique",
    "press-release": "communique",
    "report": "rapport",
    "decision-de-justice": "decision",
    "news": "article",
    "depeche": "article",
}
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "janvier",
            "fevrier",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "aout",
            "septembre",
            "octobre",
            "novembre",
            "decembre",
        ],
        start=1,
    )
}
_WEEKDAY = re.compile(r"^(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+")
_FRENCH_DATE = re.compile(r"^(\d{1,2})(?:er)?\s+([a-z]+)\s+(\d{4})")


def sidecar_for(path: Path) -> Path | None:
    """The sidecar of a document file, if it has one."""
    for candidate in (path.with_name(path.name + SIDECAR_SUFFIX), path.with_name(path.stem + SIDECAR_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


MAX_SIDECAR_BYTES = 1_000_000
"""Largest metadata sidecar read: a few fields of TOML, never megabytes."""


def parse_sidecar(name: str, data: bytes) -> dict[str, Any]:
    """The fields of a sidecar's TOML; RejectedInput (bad_metadata) when it is not valid TOML."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RejectedInput(name, "bad_metadata", f"sidecar is not valid TOML: {e}") from None
    except RecursionError:  # `title = [[[[...` 5,000 deep: tomllib recurses once per level
        raise RejectedInput(name, "bad_metadata", "sidecar nested too deeply to be metadata") from None


def parse_date(value: object) -> str | None:
    """An ISO day from a date, a datetime, an ISO string, `27/06/2024` or `27 juin 2024`; None if unreadable."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str | int):
        return None
    text = str(value).strip()
    try:
        if re.match(r"^\d{4}$", text):
            return f"{text}-01-01"
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    try:
        m = _DAY_FIRST.match(text)
        if m:
            return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        m = _FRENCH_DATE.match(_WEEKDAY.sub("", fold(text)))
        if m and m[2] in _MONTHS:
            return dt.date(int(m[3]), _MONTHS[m[2]], int(m[1])).isoformat()
    except ValueError:
        return None
    return None


def type_slug(value: str) -> str:
    """A document type as a slug (`Communiqué de presse` -> `communique`), synonyms merged."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(value)).strip("-")
    return _TYPE_SYNONYMS.get(slug, slug)


def type_label(slug: str) -> str:
    """The French label of a type slug (`communique` -> `Communiqué`)."""
    return TYPE_LABELS.get(slug, slug.replace("-", " ").capitalize())


def build(document_id: str, found: dict[str, Any], sidecar: dict[str, Any], taxonomy: Taxonomy) -> Metadata:
    """Merge the file's own metadata with its sidecar's (which wins) into a normalised `Metadata`."""
    merged = {**{k.lower(): v for k, v in found.items()}, **{k.lower(): v for k, v in sidecar.items()}}
    title = _text(merged.get("title")) or PurePosixPath(document_id).stem.replace("-", " ").replace("_", " ")
    kind = _text(merged.get("type"))
    return Metadata(
        title=title,
        date=parse_date(merged.get("date")),
        source=_text(merged.get("source")),
        type=type_slug(kind) if kind else None,
        language=(_text(merged.get("language") or merged.get("lang")) or "fr").lower()[:8],
        description=_text(merged.get("description")),
        agency=_ids(taxonomy, "agency", merged.get("agency")),
        offence=_ids(taxonomy, "offence", merged.get("offence")),
        url=_text(merged.get("url")),
    )


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = " ".join(str(value).split())
    return text or None


def _ids(taxonomy: Taxonomy, kind: str, value: object) -> tuple[str, ...]:
    """Taxonomy ids named by a metadata value (a list or a comma-separated string); unknown names are slugged."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    out: dict[str, None] = {}
    for item in items:
        text = _text(item)
        if not text:
            continue
        entry_id = taxonomy.resolve(kind, text)
        if entry_id:
            out.update(dict.fromkeys(taxonomy.lineage(kind, entry_id)))
        else:
            out[re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")] = None
    return tuple(out)


# ---------------------------------------------------------------- the publisher of a web page

_PUBLISHER_META = (
    ("property", "og:site_name"),
    ("name", "og:site_name"),
    ("name", "publisher"),
    ("name", "application-name"),
)
"""The `<meta>` tags naming who publishes a page, by precedence (JSON-LD `publisher` comes second)."""


def html_source(data: bytes, guessed: str | None, titles: Iterable[str | None]) -> str | None:
    """Who published a page (its `source`): `og:site_name`, JSON-LD `publisher.name`, `<meta name=publisher>`,
    `application-name`, a JSON-LD `WebSite` name, and only then `guessed` (a `<title>` suffix or a domain
    name); never one of the page's own `titles`, nor its `<title>` or JSON-LD headline or page name."""
    html = _parse(data)
    nodes = list(_json_ld(html))
    own = {_same(t) for t in (*titles, html.findtext(".//title"), *_page_names(nodes)) if t}
    candidates = [
        *_meta(html, _PUBLISHER_META[:2]),
        *_publishers(nodes),
        *_meta(html, _PUBLISHER_META[2:]),
        *(n.get("name") for n in nodes if n.get("@type") == "WebSite"),
        guessed,
    ]
    for candidate in candidates:
        text = _text(candidate)
        if text and _same(text) not in own:
            return text
    return None


def _parse(data: bytes) -> Any:
    """The page as an lxml tree: UTF-8 when it decodes as such, else as the page declares (or Latin-1)."""
    import lxml.etree  # type: ignore[import-untyped]
    import lxml.html  # type: ignore[import-untyped]

    try:
        text: str | bytes = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data
    for source in (text, data):
        try:
            return lxml.html.fromstring(source)
        except (ValueError, lxml.etree.ParserError):  # an XML encoding declaration in a str; no content
            continue
    return lxml.html.fromstring("<html></html>")


def _same(text: str) -> str:
    """A name compared with another: case, accents and spacing ignored."""
    return " ".join(fold(text).split())


def _meta(html: Any, keys: Iterable[tuple[str, str]]) -> Iterator[str]:
    for attribute, value in keys:
        for element in html.iterfind(f".//meta[@{attribute}='{value}']"):
            yield element.get("content") or ""


def _json_ld(html: Any) -> Iterator[dict[str, Any]]:
    """Every object of the page's JSON-LD blocks, `@graph` members and nested objects included."""
    for script in html.iterfind(".//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(v for v in item.values() if isinstance(v, dict | list))


def _page_names(nodes: list[dict[str, Any]]) -> Iterator[str]:
    """The names a page's JSON-LD gives the page itself (its headline, a `WebPage`'s name)."""
    for node in nodes:
        if isinstance(node.get("headline"), str):
            yield node["headline"]
        if node.get("@type") in ("WebPage", "Article", "NewsArticle") and isinstance(node.get("name"), str):
            yield node["name"]


def _publishers(nodes: list[dict[str, Any]]) -> Iterator[str]:
    """The names of the JSON-LD `publisher`s, references (`{"@id": ...}`) resolved within the page."""
    by_id = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and "name" in n}  # not references
    for node in nodes:
        publisher = node.get("publisher")
        for item in publisher if isinstance(publisher, list) else [publisher]:
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict):
                found = item if "name" in item else by_id.get(str(item.get("@id")), {})
                if isinstance(found.get("name"), str):
                    yield found["name"]
