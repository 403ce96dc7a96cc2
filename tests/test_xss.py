"""XSS: hostile titles, metadata, text and file names come back escaped on every page and in HTML-holding JSON.

Each HTML page is parsed (html.parser): no element or attribute may come from a payload, no URL attribute
may start with `javascript:`; `highlight` fields may hold no markup but <mark>.
`test_web_search.py`/`test_web_documents.py` check one hostile document by string search; this module
parses every page a hostile archive produces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from web.app import create_app

from .conftest import web_build_home, web_settings

HTML = {"Accept": "text/html"}
TOKEN = "secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
P = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
    "</textarea><iframe src=javascript:alert(4)>",
    "<a href='javascript:alert(5)'>lien</a>",
    "<img src=x onerror=alert(6)",
    "' onmouseover='alert(7)",
]
PAYLOAD = " ".join(P)
WORDS = "contrebande de cigarettes saisie par les douaniers au port du Havre"
DOCUMENTS = {
    "2024/piege-front-matter.md": "---\n"
    f"title: {json.dumps(PAYLOAD)}\ndate: 2024-03-01\nsource: {json.dumps(P[2])}\ntype: {json.dumps(P[1])}\n"
    f"agency: [{json.dumps(P[0])}, {json.dumps(P[2])}]\noffence: [{json.dumps(P[3])}]\n"
    f"description: {json.dumps(P[4])}\n---\n\n"
    f"## {P[0]} section\n\n{WORDS} {PAYLOAD}.\n\nSecond paragraphe : {WORDS} {P[5]} {P[6]}.\n",
    "2024/piege.txt": f"{WORDS} {PAYLOAD} fin.\n",
    "2024/piege.txt.meta.toml": "\n".join(
        [
            f"title = '''{PAYLOAD}'''",
            "date = 2024-01-05",
            f"source = '''{P[3]}'''",
            f"type = '''{P[6]}'''",
            f"agency = ['''{P[1]}''']",
            f"offence = ['''{P[4]}''']",
        ]
    )
    + "\n",
    "2024/<img src=x onerror=alert(8)>.md": f"# Titre\n\n{WORDS} dans un fichier au nom piégé.\n",
    '2024/"><svg onload=alert(9)>.txt': f"{WORDS} encore un nom piégé.\n",
    "2024/piege.html": f"<html><head><title>{PAYLOAD}</title><meta name='description' content='{P[2]}'>"
    f"<meta property='og:site_name' content=\"{P[4]}\"></head><body><article><p>{WORDS} {PAYLOAD} "
    f"et la suite du texte de l'article sur la contrebande.</p></article></body></html>",
}

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background"}
ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "link",
    "script",
    "body",
    "a",
    "header",
    "span",
    "form",
    "div",
    "label",
    "input",
    "button",
    "aside",
    "h1",
    "h2",
    "h3",
    "fieldset",
    "legend",
    "ul",
    "li",
    "main",
    "p",
    "strong",
    "select",
    "option",
    "nav",
    "ol",
    "article",
    "time",
    "mark",
    "code",
    "dl",
    "dt",
    "dd",
    "footer",
    "section",
    "details",  # « Citer », « Passage entier », the filter panel, the query syntax: disclosure, no script
    "summary",
    "kbd",
}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.ends: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)


def assert_no_injected_markup(page: str, where: str) -> None:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    problems = []
    for tag, attrs in parser.found:
        if tag not in ALLOWED_TAGS:
            problems.append(f"element <{tag}> {attrs}")
        if tag == "script" and not (dict(attrs).get("src") or "").startswith("/static/"):
            problems.append(f"inline script {attrs}")
        for name, value in attrs:
            if name.startswith("on") or name not in _KNOWN_ATTRIBUTES:
                problems.append(f"attribute {name}={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().replace("\t", "").startswith(
                "javascript:"
            ):
                problems.append(f"javascript: URL in {name} of <{tag}>")
    problems += [f"end tag </{t}>" for t in parser.ends if t not in ALLOWED_TAGS]
    assert not problems, f"{where}: {problems}"


_KNOWN_ATTRIBUTES = {
    "lang",
    "charset",
    "name",
    "content",
    "rel",
    "href",
    "src",
    "defer",
    "class",
    "id",
    "method",
    "action",
    "role",
    "aria-label",
    "aria-labelledby",
    "aria-hidden",
    "for",
    "type",
    "value",
    "placeholder",
    "autocomplete",
    "checked",
    "selected",
    "start",
    "datetime",
    "download",
    "hidden",
    "title",  # plain text: the name of the search's Atom feed (<link rel="alternate">)
    "autofocus",  # a boolean: where the focus starts
    "aria-current",  # the current page of the pager
}


def assert_only_mark(fragment: str, where: str) -> None:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    others = [t for t, _ in parser.found if t != "mark"] + [t for t in parser.ends if t != "mark"]
    assert not others, f"{where}: markup other than <mark>: {others} in {fragment[:200]!r}"
    assert all(not attrs for _, attrs in parser.found), f"{where}: attributes on <mark>"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = web_build_home(tmp_path_factory.mktemp("xss-home"), DOCUMENTS)
    with TestClient(create_app(web_settings(home, TOKEN)), raise_server_exceptions=False) as c:
        yield c


def _hostile_ids(client: TestClient) -> list[str]:
    body = client.get("/search", params={"q": "contrebande", "per_page": 100}).json()
    return sorted({h["document"] for h in body["hits"]})


def test_every_hostile_document_was_indexed(client: TestClient) -> None:
    assert len(_hostile_ids(client)) == len([d for d in DOCUMENTS if not d.endswith(".toml")])


@pytest.mark.parametrize(
    "params",
    [
        {"q": "contrebande"},
        {"q": "contrebande", "per_page": "100"},
        {"q": ""},
        {"q": PAYLOAD},
        {"q": "cigarettes " + P[2]},
        {"q": "contrebande", "source": P[2], "agency": P[0], "type": P[1], "offence": P[3]},
        {"q": "contrebande", "year": P[6], "source": P[3]},
        {"q": "contrebande", "from": "2024-01-01", "to": "2024-12-31", "sort": "newest"},
        {"q": "contrebande", "page": "2", "per_page": "1"},
        {"q": "contrebande", "page": "999"},
        {"q": "contrebande", "page": P[0]},  # error page
        {"q": P[2], "per_page": "0"},  # error page keeping the query
        {"q": "contrebande", "from": P[1]},  # error page
        {"q": "contrebande", "sort": P[2]},  # error page
    ],
)
def test_search_pages_escape_everything(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/search", params=params, headers=HTML)
    assert r.headers["content-type"].startswith("text/html"), r.status_code
    assert_no_injected_markup(r.text, f"/search {params}")


def test_document_pages_escape_everything(client: TestClient) -> None:
    for doc in _hostile_ids(client):
        for q in ("", "contrebande", PAYLOAD):
            r = client.get(f"/documents/{quote(doc)}", params={"q": q} if q else {}, headers=HTML)
            assert r.status_code == 200, (doc, r.status_code)
            assert_no_injected_markup(r.text, f"document {doc} q={q!r}")


@pytest.mark.parametrize("path", [f"/documents/{quote(p)}" for p in P] + [f"/nulle-part/{quote(P[2])}"])
def test_error_pages_escape_the_path(client: TestClient, path: str) -> None:
    r = client.get(path, headers=HTML)
    assert r.status_code == 404
    assert_no_injected_markup(r.text, path)


def test_highlight_json_holds_only_mark(client: TestClient) -> None:
    for q in ("contrebande", "alert", "script onerror", "svg onload"):
        body = client.get("/search", params={"q": q, "per_page": 100}).json()
        for hit in body["hits"]:
            assert_only_mark(hit["highlight"], f"search {q}: {hit['id']}")
    for doc in _hostile_ids(client):
        body = client.get(f"/documents/{quote(doc)}", params={"q": "contrebande alert"}).json()
        for passage in body["passages"]:
            assert_only_mark(passage["highlight"], f"document {doc}: {passage['id']}")


def test_upload_answer_with_hostile_names_is_json_and_pages_stay_escaped(client: TestClient) -> None:
    files = [
        ("file", (f"{P[0]}.txt", f"{WORDS} téléversé {P[1]}.\n".encode())),
        ("file", (f"{P[2]}.md", f"# {P[0]}\n\n{WORDS} téléversé aussi.\n".encode())),
        ("file", (f"{P[1]}.exe", b"MZ")),
    ]
    r = client.post("/documents", headers=AUTH, data={"folder": "2025"}, files=files)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    page = client.get("/search", params={"q": "téléversé"}, headers=HTML)
    assert_no_injected_markup(page.text, "search after upload")
    for outcome in r.json()["outcomes"]:
        if outcome["url"]:
            doc = client.get(outcome["url"], headers=HTML)
            assert doc.status_code == 200, outcome
            assert_no_injected_markup(doc.text, outcome["url"])
