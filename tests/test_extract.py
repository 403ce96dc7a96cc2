"""Ingestion: every format read into clean text and metadata, every rejection with its stable code.

Also `archive.metadata`: dates, type slugs, and the sidecar winning over what the file says.
"""

from __future__ import annotations

import codecs
import datetime as dt
import random
from pathlib import Path

import pytest

from archive import extract, metadata
from archive.errors import RejectedInput
from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings
from archive.taxonomy import Taxonomy

from .conftest import FIXTURES, write_documents

BIG = 10 * 1024 * 1024

FRENCH = "L’œuvre « chère » coûte 5 € à l’État.\n\nDeuxième paragraphe : Œdipe et Ève à l’hôtel."


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _rejection(name: str, data: bytes, max_bytes: int = BIG) -> RejectedInput:
    with pytest.raises(RejectedInput) as info:
        extract.extract(name, data, max_bytes)
    return info.value


# ---------------------------------------------------------------- plain text in every common encoding


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        pytest.param(FRENCH.encode("utf-8"), "utf-8", id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + FRENCH.encode("utf-8"), "utf-8-sig", id="utf-8-bom"),
        pytest.param(FRENCH.encode("cp1252"), "cp1252", id="cp1252"),
        pytest.param(FRENCH.encode("utf-16"), "utf-16", id="utf-16-bom"),
        pytest.param(FRENCH.replace("\n", "\r\n").encode("cp1252"), "cp1252", id="cp1252-crlf"),
    ],
)
def test_txt_decodes_french_in_any_common_encoding(data: bytes, encoding: str) -> None:
    found = extract.extract("note.txt", data, BIG)
    assert found.format == "txt"
    assert found.encoding == encoding
    assert found.text == FRENCH
    assert "\ufeff" not in found.text


def test_txt_iso_8859_15_keeps_euro_and_oe() -> None:
    # ISO-8859-15 has € and œ where Latin-1 has ¤ and ½: a wrong guess shows as those characters.
    text = "Le cœur du dossier : 40 000 € saisis chez l’un des œnologues.\n\nLa sœur du prévenu a témoigné."
    latin9 = text.replace("’", "'")
    found = extract.extract("note.txt", latin9.encode("iso8859_15"), BIG)
    assert found.encoding == "iso8859_15"
    assert found.text == latin9
    assert "¤" not in found.text and "½" not in found.text


def test_txt_cp1252_apostrophes_and_guillemets_survive() -> None:
    text = "« Il n’y a pas d’œuvre sans ouvrier », a déclaré le procureur.\n\nLe prévenu l’a reconnu."
    found = extract.extract("note.txt", text.encode("cp1252"), BIG)
    assert "n’y" in found.text and "d’œuvre" in found.text
    assert "«" in found.text and "»" in found.text


def test_txt_first_short_line_is_the_title_and_wrapped_lines_are_joined() -> None:
    text = "Saisie record au Havre\n\nLes douaniers ont découvert\nquatre tonnes de cigarettes.\n\nFin."
    found = extract.extract("havre.txt", text.encode(), BIG)
    assert found.metadata["title"] == "Saisie record au Havre"
    assert found.blocks[0].heading
    assert found.blocks[1].text == "Les douaniers ont découvert quatre tonnes de cigarettes."
    assert not found.blocks[1].heading


LONG_HEADING = (
    "Code de procédure pénale — Dispositions relatives à l'exécution, sur le territoire des autres États "
    "membres de l'Union européenne, des condamnations prononcées par les juridictions françaises. — "
    "Paragraphe 4 : Exécution de la peine."
)


@pytest.mark.parametrize(
    "heading",
    [
        "Code pénal — Du vol. — Section 1 : Du vol simple et des vols aggravés.",
        "Section 1 : Du blanchiment simple et du blanchiment aggravé.",
        LONG_HEADING,
    ],
)
def test_txt_legal_headings_are_titles_even_long_or_with_a_full_stop(heading: str) -> None:
    body = (
        "Article 324-1\n\n"
        + "Le blanchiment est le fait de faciliter, par tout moyen, la justification " * 10
    )
    found = extract.extract("code.txt", f"{heading}\n\n{body}".encode(), BIG)
    assert found.metadata["title"] == heading and found.blocks[0].heading


@pytest.mark.parametrize(
    "first",
    [
        "Les pièces suivantes sont exigées :",  # introduces what follows
        "Le prévenu a été relaxé par le tribunal correctionnel après une longue audience.",  # longer than next
        "x" * 321,  # past any heading's length
    ],
)
def test_txt_first_lines_that_are_not_titles(first: str) -> None:
    found = extract.extract("note.txt", f"{first}\n\nFin de la note.".encode(), BIG)
    assert "title" not in found.metadata and not found.blocks[0].heading


# ---------------------------------------------------------------- markdown


MARKDOWN = (
    "---\ntitle: Titre de la front matter\ndate: 2023-05-12\nsource: Le Journal fictif\ntype: Communiqué\n"
    "agency: [eurojust]\n---\n\n"
    "# Grand titre\n\nUn paragraphe avec un [lien](https://example.org) et du **gras**.\n\n"
    "## Les suites judiciaires\n\nSecond paragraphe.\n"
)


def test_md_front_matter_becomes_metadata_and_not_text() -> None:
    found = extract.extract("a.md", MARKDOWN.encode(), BIG)
    assert found.format == "md"
    assert found.metadata["title"] == "Titre de la front matter"
    assert found.metadata["source"] == "Le Journal fictif"
    assert metadata.parse_date(found.metadata["date"]) == "2023-05-12"
    assert "---" not in found.text and "Le Journal fictif" not in found.text


def test_md_headings_are_blocks_and_markup_is_removed() -> None:
    found = extract.extract("a.md", MARKDOWN.encode(), BIG)
    assert [(b.text, b.heading) for b in found.blocks] == [
        ("Grand titre", True),
        ("Un paragraphe avec un lien et du gras.", False),
        ("Les suites judiciaires", True),
        ("Second paragraphe.", False),
    ]


def test_md_without_front_matter_takes_its_title_from_the_first_heading() -> None:
    found = extract.extract("a.md", "## Titre markdown\n\nTexte du communiqué.".encode(), BIG)
    assert found.metadata["title"] == "Titre markdown"


# ---------------------------------------------------------------- html

JUNK = [
    "var tracker",
    "Nous utilisons des cookies",
    "Accepter",
    "Accueil",
    "Économie",
    "Recherches associées",
    "casino en ligne",
    "avocat pas cher",
    "crédit rapide",
    "Mentions légales",
    "color:",
]


def test_html_fixture_page_is_read_as_a_reader_sees_it() -> None:
    found = extract.extract("page.html", (FIXTURES / "page.html").read_bytes(), BIG)
    text = found.text
    assert found.format == "html"
    assert "Douze personnes ont été interpellées mardi en France" in text
    assert "réinvestis dans l'immobilier" in text
    assert "criminalité organisée." in text
    for junk in JUNK:
        assert junk not in text, junk
    headings = [b.text for b in found.blocks if b.heading]
    assert "Un réseau de sociétés écrans" in headings
    assert "Des saisies importantes" in headings


def test_html_fixture_metadata_comes_from_the_page_meta() -> None:
    found = extract.extract("page.html", (FIXTURES / "page.html").read_bytes(), BIG)
    meta = metadata.build("page.html", found.metadata, {}, _taxonomy())
    assert (
        meta.title == "Coup de filet européen contre le blanchiment"
    )  # og:title, not the <title> with the site
    assert meta.date == "2024-06-27"
    assert meta.source == "Le Journal fictif"
    assert meta.language == "fr"
    assert meta.description is not None and meta.description.startswith(
        "Une opération coordonnée par Eurojust"
    )


BODY = (
    "<p>Les enquêteurs de l'office central ont interpellé quatre suspects soupçonnés de blanchiment d'argent "
    "issu du trafic de stupéfiants, au terme d'une enquête de dix-huit mois menée avec Europol.</p>"
    "<p>Le parquet a requis leur placement en détention provisoire ; ils encourent dix ans d'emprisonnement "
    "et une amende de 750 000 euros pour blanchiment aggravé en bande organisée.</p>"
)


def _page(head: str = "", before: str = "", after: str = "", body: str = BODY) -> bytes:
    return (
        f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>{head}</head><body>{before}"
        f"<article>{body}</article>{after}</body></html>".encode()
    )


@pytest.mark.parametrize(
    ("page", "junk"),
    [
        pytest.param(
            _page(
                before="<nav><ul><li><a href='/'>Accueil</a></li><li><a href='/j'>Rubrique Justice"
                "</a></li></ul></nav>"
            ),
            ["Accueil", "Rubrique Justice"],
            id="nav",
        ),
        pytest.param(
            _page(before="<header><div class='logo'>Le Quotidien fictif</div></header>"),
            ["Le Quotidien fictif"],
            id="header",
        ),
        pytest.param(
            _page(
                before="<div id='cookie-banner' class='cookie-consent'><p>Nous utilisons des cookies "
                "pour mesurer l'audience.</p><button>Accepter</button></div>"
            ),
            ["cookies", "Accepter"],
            id="cookie-banner",
        ),
        pytest.param(
            _page(
                after="<aside><h3>Recherches associées</h3><ul><li><a href='/x'>casino en ligne</a></li>"
                "<li><a href='/y'>avocat pas cher</a></li></ul></aside>"
            ),
            ["Recherches associées", "casino", "avocat pas cher"],
            id="aside-related-searches",
        ),
        pytest.param(
            _page(after="<footer><p>Mentions légales – Le Journal fictif</p></footer>"),
            ["Mentions légales"],
            id="footer",
        ),
        pytest.param(
            _page(
                head="<style>body { color: red; } .zzstyle { margin: 0 }</style>",
                after="<script>var tracker = 'zzscript';</script>",
            ),
            ["zzstyle", "zzscript", "tracker", "color"],
            id="script-style",
        ),
        pytest.param(
            _page(body=BODY + "<script>document.write('zzinline')</script>"),
            ["zzinline"],
            id="script-inside-article",
        ),
    ],
)
def test_html_boilerplate_never_becomes_text(page: bytes, junk: list[str]) -> None:
    text = extract.extract("page.html", page, BIG).text
    assert "interpellé quatre suspects" in text
    assert "blanchiment aggravé en bande organisée" in text
    for word in junk:
        assert word not in text, word


def test_html_page_with_only_boilerplate_is_rejected_not_indexed_as_its_menu() -> None:
    page = (
        b"<html><body><nav><a href='/'>Accueil</a> | <a href='/c'>Contact</a></nav>"
        b"<div class='cookie'>Nous utilisons des cookies. Accepter</div>"
        b"<footer>Mentions l\xc3\xa9gales</footer></body></html>"
    )
    assert _rejection("menu.html", page).reason_code == "empty"


def test_html_meta_title_date_site_name_and_language() -> None:
    page = _page(
        head="<title>Titre de l'onglet – Site</title><meta property='og:title' content='Le vrai titre'>"
        "<meta property='og:site_name' content='La Gazette fictive'>"
        "<meta property='article:published_time' content='2023-03-14T18:30:00+01:00'>"
        "<meta name='description' content='Résumé du fait divers.'>"
    )
    found = extract.extract("p.html", page, BIG)
    meta = metadata.build("p.html", found.metadata, {}, _taxonomy())
    assert (meta.title, meta.date, meta.source, meta.description, meta.language) == (
        "Le vrai titre",
        "2023-03-14",
        "La Gazette fictive",
        "Résumé du fait divers.",
        "fr",
    )


def test_html_without_date_metadata_gets_no_invented_date() -> None:
    # A copyright year in the footer is not a publication date: a guessed 1 January would mislead filters.
    page = _page(after="<footer><p>© 2024 Le Journal fictif</p></footer>")
    found = extract.extract("p.html", page, BIG)
    assert metadata.parse_date(found.metadata.get("date")) is None


def test_html_in_cp1252_declared_by_meta_charset() -> None:
    page = (
        "<html><head><meta charset='windows-1252'></head><body><article>"
        + BODY.replace("l'office central", "l’œuvre du service")
        + "</article></body></html>"
    ).encode("cp1252")
    text = extract.extract("p.htm", page, BIG).text
    assert "l’œuvre du service" in text and "soupçonnés" in text


# ---------------------------------------------------------------- pdf


def test_pdf_text_layer_and_info_dictionary() -> None:
    found = extract.extract("texte.pdf", (FIXTURES / "texte.pdf").read_bytes(), BIG)
    assert found.format == "pdf"
    texts = [_squeeze(b.text) for b in found.blocks]
    assert "La gendarmerie a démantelé un réseau de proxénétisme à Lyon." in texts
    second = [t for t in texts if t.startswith("Les enquêteurs")]
    assert second == [
        "Les enquêteurs de la section de recherches ont interpellé six personnes, saisi 48 000 euros en espèces "
        "et identifié onze victimes, prises en charge par une association spécialisée dans l'accompagnement "
        "des victimes de traite."
    ]
    assert found.metadata["title"] == "Démantèlement d'un réseau de proxénétisme à Lyon"
    assert found.metadata["date"] == "2024-05-02"


# ---------------------------------------------------------------- rejections

_RANDOM = random.Random(20240627).randbytes(4096)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        pytest.param("vide.txt", b"", "empty", id="empty-txt"),
        pytest.param("vide.pdf", b"", "empty", id="empty-pdf"),
        pytest.param("blanc.txt", b"   \n\t\r\n  \n", "empty", id="whitespace-only"),
        pytest.param("blanc.md", " \u00a0\u2003\n\n\u202f".encode(), "empty", id="unicode-spaces-only"),
        pytest.param("vide.md", b"---\ntitle: Seulement un titre\n---\n", "empty", id="front-matter-only"),
        pytest.param("nul.txt", b"Le parquet\x00\x00\x00\x01\x02 de Paris\x00", "binary", id="nul-bytes"),
        pytest.param("bruit.txt", _RANDOM, "binary", id="random-bytes-txt"),
        pytest.param(
            "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary", id="png-as-txt"
        ),
        pytest.param("bruit.md", _RANDOM, "binary", id="random-bytes-md"),
        pytest.param("controle.txt", bytes(range(1, 32)) * 20, "binary", id="control-chars"),
        pytest.param(
            "rapport.docx", b"PK\x03\x04\x14\x00\x06\x00 word/document.xml", "unsupported_format", id="docx"
        ),
        pytest.param("LISEZMOI", b"Texte sans extension.", "unsupported_format", id="no-extension"),
        pytest.param("archive.tar.gz", b"\x1f\x8b\x08\x00", "unsupported_format", id="tar-gz"),
        pytest.param(
            "bom16.txt", codecs.BOM_UTF16_LE + b"\x00\xd8A\x00", "undecodable", id="utf16-lone-surrogate"
        ),
        pytest.param(
            "bom8.txt",
            codecs.BOM_UTF8 + "café crème".encode("latin-1"),
            "undecodable",
            id="utf8-bom-then-latin1",
        ),
        pytest.param("faux.pdf", b"Bonjour, ceci n'est pas un PDF.", "unreadable", id="not-a-pdf"),
        pytest.param("faux2.pdf", b"%PDF-1.4\n garbage garbage garbage", "unreadable", id="pdf-header-only"),
        pytest.param(
            "mauvais.md",
            b"---\ntitle: [pas ferme\n---\n\nTexte du document.",
            "bad_metadata",
            id="yaml-unclosed",
        ),
        pytest.param(
            "mauvais2.md",
            b"---\ntitle: a: b: c\n---\n\nTexte du document.",
            "bad_metadata",
            id="yaml-mapping",
        ),
    ],
)
def test_rejections_have_a_stable_code(name: str, data: bytes, code: str) -> None:
    rejected = _rejection(name, data)
    assert rejected.reason_code == code
    assert rejected.reason  # a sentence for people
    assert rejected.path == name


@pytest.mark.parametrize(
    ("fixture", "code", "words"),
    [
        ("scan.pdf", "no_text_layer", "no text layer"),
        ("chiffre.pdf", "encrypted", "encrypted"),
    ],
)
def test_pdf_fixture_rejections(fixture: str, code: str, words: str) -> None:
    rejected = _rejection(fixture, (FIXTURES / fixture).read_bytes())
    assert rejected.reason_code == code
    assert words in rejected.reason


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.98])
def test_truncated_pdf_is_rejected_as_unreadable(fraction: float) -> None:
    data = (FIXTURES / "texte.pdf").read_bytes()
    assert _rejection("coupe.pdf", data[: int(len(data) * fraction)]).reason_code == "unreadable"


@pytest.mark.parametrize("name", ["gros.txt", "gros.md", "gros.html", "gros.pdf"])
def test_too_large_is_rejected_before_reading(name: str) -> None:
    if name.endswith(".pdf"):
        data = (FIXTURES / "texte.pdf").read_bytes()
    elif name.endswith(".html"):
        data = _page()
    else:
        data = ("Le prévenu a été condamné. " * 100).encode()
    rejected = _rejection(name, data, max_bytes=len(data) - 1)
    assert rejected.reason_code == "too_large"
    assert extract.extract(name, data, max_bytes=len(data)).text  # the limit itself is allowed


def test_format_is_decided_by_extension_case_insensitively() -> None:
    assert extract.format_of("RAPPORT.PDF") == "pdf"
    assert extract.format_of("page.HTM") == "html"
    assert extract.format_of("notes.Markdown") == "md"
    assert extract.format_of("a.txt.docx") is None
    assert extract.format_of("txt") is None


# ---------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("27 juin 2024", "2024-06-27"),
        ("1er mars 2023", "2023-03-01"),
        ("27 Août 2024", "2024-08-27"),
        ("27 aout 2024", "2024-08-27"),
        ("3 décembre 2021", "2021-12-03"),
        ("2024-06-27", "2024-06-27"),
        ("  2024-06-27  ", "2024-06-27"),
        ("2024-06-27T09:00:00+01:00", "2024-06-27"),
        ("2024-06-27T23:30:00-05:00", "2024-06-27"),  # the day as the document wrote it
        ("27/06/2024", "2024-06-27"),
        ("27.06.2024", "2024-06-27"),
        ("2024", "2024-01-01"),
        (2024, "2024-01-01"),
        (dt.date(2024, 6, 27), "2024-06-27"),
        (dt.datetime(2024, 6, 27, 23, 59), "2024-06-27"),
        ("31/02/2024", None),
        ("2024-13-01", None),
        ("32 juin 2024", None),
        ("27 juillu 2024", None),
        ("n'importe quoi", None),
        ("", None),
        (None, None),
        (3.5, None),
        (["2024-06-27"], None),
    ],
)
def test_parse_date(value: object, expected: str | None) -> None:
    assert metadata.parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("communiqué", "communique"),
        ("Communiqué", "communique"),
        ("Communiqué de presse", "communique"),
        ("press release", "communique"),
        ("Décision", "decision"),
        ("décision de justice", "decision"),
        ("Arrêt", "arret"),
        ("RAPPORT", "rapport"),
        ("report", "rapport"),
        ("article", "article"),
        ("Note d'analyse", "note-d-analyse"),
    ],
)
def test_type_slug(value: str, slug: str) -> None:
    assert metadata.type_slug(value) == slug


def test_type_label_of_known_and_unknown_slugs() -> None:
    assert metadata.type_label("communique") == "Communiqué"
    assert metadata.type_label("decision") == "Décision"
    assert metadata.type_label("note-d-analyse") == "Note d analyse"


def _taxonomy() -> Taxonomy:
    return Taxonomy.load()


SIDECAR = """\
title = "Le titre du sidecar"
date = 2022-01-02
source = "Parquet de Paris"
type = "communiqué"
agency = ["eurojust"]
""".encode()


def test_sidecar_wins_over_front_matter_in_prepare(tmp_path: Path) -> None:
    archive = Archive(Settings(home=tmp_path))
    try:
        document = archive.prepare("2023/a.md", MARKDOWN.encode(), SIDECAR)
        without = archive.prepare("2023/a.md", MARKDOWN.encode())
    finally:
        archive.close()
    meta = document.metadata
    assert (meta.title, meta.date, meta.source, meta.type) == (
        "Le titre du sidecar",
        "2022-01-02",
        "Parquet de Paris",
        "communique",
    )
    assert "eurojust" in meta.agency
    assert (without.metadata.title, without.metadata.date) == ("Titre de la front matter", "2023-05-12")
    assert document.fingerprint != without.fingerprint  # a sidecar edit must reindex the document


def test_sidecar_partial_keeps_the_rest_of_the_file_metadata(tmp_path: Path) -> None:
    archive = Archive(Settings(home=tmp_path))
    try:
        meta = archive.prepare("a.md", MARKDOWN.encode(), b'source = "Autre source"\n').metadata
    finally:
        archive.close()
    assert meta.source == "Autre source"
    assert meta.title == "Titre de la front matter"
    assert meta.date == "2023-05-12"
    assert meta.type == "communique"


def test_invalid_sidecar_is_a_bad_metadata_rejection(tmp_path: Path) -> None:
    archive = Archive(Settings(home=tmp_path))
    try:
        with pytest.raises(RejectedInput) as info:
            archive.prepare("a.md", MARKDOWN.encode(), b"title = \n")
    finally:
        archive.close()
    assert info.value.reason_code == "bad_metadata"


@pytest.mark.parametrize("sidecar_name", ["page.html.meta.toml", "page.meta.toml"])
def test_sidecar_wins_over_html_meta_through_reindex(tmp_path: Path, sidecar_name: str) -> None:
    (tmp_path / "documents").mkdir()
    write_documents(
        tmp_path,
        {
            "page.html": (FIXTURES / "page.html").read_bytes(),
            sidecar_name: 'title = "Titre imposé par l\'archiviste"\ndate = "3 mars 2020"\ntype = "Décision"\n',
        },
    )
    archive = Archive(Settings(home=tmp_path))
    try:
        report = archive.reindex()
        assert [(o.path, o.status) for o in report.outcomes] == [("page.html", "added")]
        results = archive.search(SearchRequest("sociétés écrans"))
    finally:
        archive.close()
    assert results.total >= 1
    hit = results.hits[0]
    assert (hit.document, hit.title, hit.date, hit.type) == (
        "page.html",
        "Titre imposé par l'archiviste",
        "2020-03-03",
        "decision",
    )
    assert hit.source == "Le Journal fictif"  # not in the sidecar: the page's own meta still counts
