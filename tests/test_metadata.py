"""Metadata found by the researcher of issue 13: titles with French typography, and who published a page.

A `.txt` guide whose first line has a no-break space before `?` or `:` keeps that line as its title; an
HTML page's source is its publisher (`og:site_name`, JSON-LD `publisher`, `<meta name=publisher>`,
`application-name`), before a `<title>` suffix or a domain name, and never the page's own title.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import extract, metadata
from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings
from archive.taxonomy import Taxonomy

from .conftest import write_documents

BIG = 10 * 1024 * 1024
NBSP, NNBSP = "\u00a0", "\u202f"

GUIDE = (
    "Casier judiciaire{sp}: comment obtenir un extrait{sp}?\n"
    "\n"
    "Le bulletin n° 3 du casier judiciaire est délivré à la personne qu'il concerne. Il peut être demandé\n"
    "en ligne, par courrier ou sur place au service du casier judiciaire national, à Nantes.\n"
    "\n"
    "La demande est gratuite{sp}; le bulletin arrive en général sous quinze jours.\n"
)


@pytest.mark.parametrize("space", [NBSP, NNBSP, " "], ids=["nbsp", "narrow-nbsp", "space"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_txt_title_keeps_french_typography(space: str, encoding: str) -> None:
    found = extract.extract("casier.txt", GUIDE.format(sp=space).encode(encoding), BIG)
    assert found.metadata["title"] == "Casier judiciaire : comment obtenir un extrait ?"
    assert found.blocks[0].heading


@pytest.mark.parametrize(
    "first",
    [
        f"Porter plainte{NNBSP}!",
        f"Aide juridictionnelle{NBSP}: qui peut en bénéficier{NBSP}?",
        f"Victime d'une escroquerie{NNBSP}; que faire{NNBSP}?",
        f"Garde à vue{NBSP}: quels sont vos droits{NBSP}?",
    ],
)
def test_txt_first_lines_of_service_public_guides_are_titles(first: str) -> None:
    text = f"{first}\n\nVous pouvez vous faire aider par un avocat dès le début de la procédure.\n"
    assert extract.extract("guide.txt", text.encode(), BIG).metadata["title"] == " ".join(first.split())


def test_txt_guide_title_through_search(tmp_path: Path) -> None:
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, {"guides/casier-judiciaire.txt": GUIDE.format(sp=NNBSP)})
    with Archive(Settings(home=tmp_path)) as archive:
        archive.reindex()
        hits = archive.search(SearchRequest("bulletin gratuite")).hits
    assert [h.title for h in hits] == ["Casier judiciaire : comment obtenir un extrait ?"]


# ---------------------------------------------------------------- the source of a web page

BODY = (
    f"<article><h1>Violences conjugales{NBSP}: que faire{NBSP}?</h1>"
    "<p>Si vous êtes victime de violences au sein du couple, vous pouvez appeler le 3919, numéro "
    "d'écoute gratuit et anonyme, ou porter plainte auprès d'un commissariat ou d'une brigade de "
    "gendarmerie. L'association vous accompagne dans vos démarches.</p>"
    "<p>Une ordonnance de protection peut être demandée au juge aux affaires familiales, même sans "
    "plainte préalable.</p></article>"
)


def _ld(value: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(value, ensure_ascii=False)}</script>'


def _page(head: str) -> bytes:
    html = (
        f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>{head}</head><body>{BODY}</body></html>"
    )
    return html.encode()


TITLE = "<title>Violences conjugales : que faire ? - coco-asso.fr</title>"


@pytest.mark.parametrize(
    "head, source",
    [
        (TITLE + "<meta property='og:site_name' content='Association Coco'>", "Association Coco"),
        (
            TITLE
            + _ld({"@context": "https://schema.org", "@type": "Article", "headline": "Violences conjugales"})
            + _ld({"@type": "WebPage", "publisher": {"@type": "Organization", "name": "Association Coco"}}),
            "Association Coco",
        ),
        (
            TITLE
            + _ld(
                {
                    "@context": "https://schema.org",
                    "@graph": [
                        {
                            "@type": "WebPage",
                            "name": "Violences conjugales : que faire ?",
                            "publisher": {"@id": "#o"},
                        },
                        {"@type": "Organization", "@id": "#o", "name": "Association Coco"},
                    ],
                }
            ),
            "Association Coco",
        ),
        (TITLE + "<meta name='publisher' content='Association Coco'>", "Association Coco"),
        (TITLE + "<meta name='application-name' content='Coco'>", "Coco"),
        (TITLE + _ld({"@type": "WebSite", "name": "Le site de Coco"}), "Le site de Coco"),
        (TITLE, "coco-asso.fr"),  # nothing better than the title's suffix: a domain name
    ],
    ids=["og", "json-ld", "json-ld-graph", "publisher", "application-name", "website", "title-suffix"],
)
def test_html_source_is_the_publisher(head: str, source: str) -> None:
    found = extract.extract("coco.html", _page(head), BIG)
    assert found.metadata["source"] == source


@pytest.mark.parametrize(
    "head",
    [
        # the page's own name in JSON-LD, which trafilatura takes for a site name
        "<title>Violences conjugales : que faire ?</title>"
        + _ld(
            {
                "@context": "https://schema.org",
                "@type": "WebPage",
                "name": "Violences conjugales : que faire ?",
            }
        ),
        "<title>Violences conjugales : que faire ?</title>"
        + _ld({"@graph": [{"@type": "WebPage", "name": "Violences conjugales : que faire ?"}]}),
        # a site name that is only the page's title again
        "<title>Violences conjugales : que faire ?</title>"
        "<meta property='og:site_name' content='Violences conjugales : que faire ?'>",
    ],
    ids=["json-ld-webpage", "json-ld-graph-webpage", "og-is-title"],
)
def test_html_source_is_never_the_page_title(head: str) -> None:
    found = extract.extract("coco.html", _page(head), BIG)
    assert "source" not in found.metadata


def test_publisher_wins_over_title_suffix_and_domain() -> None:
    page = (
        "<html><head><title>Porter plainte - justice.fr</title>"
        "<meta name='application-name' content='Justice.fr'>"
        "<meta name='publisher' content='Ministère de la Justice'>"
        + _ld({"publisher": "Ministère de la Justice (DICOM)"})
        + "</head><body><p>x</p></body></html>"
    ).encode()
    assert metadata.html_source(page, "justice.fr", ["Porter plainte"]) == "Ministère de la Justice (DICOM)"
    assert metadata.html_source(page, None, ["Ministère de la Justice (DICOM)"]) == "Ministère de la Justice"


def test_broken_json_ld_is_ignored() -> None:
    page = (
        "<html><head><title>Page</title><script type='application/ld+json'>{pas du json</script>"
        + _ld([[[{"publisher": [{"@id": "#absent"}, 3, None]}]]])
        + "</head><body><p>x</p></body></html>"
    ).encode()
    assert metadata.html_source(page, "exemple.fr", ["Page"]) == "exemple.fr"


def test_html_source_through_search(tmp_path: Path) -> None:
    """Coco's page: its source facet names the association, never the page's own title."""
    (tmp_path / "documents").mkdir()
    head = "<title>Violences conjugales : que faire ? | coco-asso.fr</title>" + _ld(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "name": "Violences conjugales : que faire ?"},
                {"@type": "WebSite", "name": "Coco, écoute et accompagnement", "publisher": {"@id": "#coco"}},
                {"@type": "Organization", "@id": "#coco", "name": "Association Coco"},
            ],
        }
    )
    write_documents(tmp_path, {"coco.html": _page(head)})
    with Archive(Settings(home=tmp_path)) as archive:
        archive.reindex()
        results = archive.search(SearchRequest("ordonnance protection"))
    assert [h.source for h in results.hits] == ["Association Coco"]
    assert [f.value for f in results.facets["source"]] == ["Association Coco"]


def test_metadata_build_keeps_the_source_the_page_gave(tmp_path: Path) -> None:
    found = extract.extract("coco.html", _page(TITLE + "<meta property='og:site_name' content='Coco'>"), BIG)
    meta = metadata.build("coco.html", found.metadata, {}, Taxonomy.load())
    assert (meta.title, meta.source) == ("Violences conjugales : que faire ?", "Coco")
