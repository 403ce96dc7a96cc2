"""Requests that freeze the server: a big document's page.

The page of a 65,000-passage document was one answer of 115 MB of JSON or 243 MB of HTML, every
passage read and highlighted. A document is now served DOCUMENT_PAGE passages at a time (`page`), and
links to a passage (search hits, match navigation, JSON `url`s) carry `p=<position>` when the passage is
past the first page, so the `#p<position>` anchor, which never reaches the server, still lands on it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from archive.wire import DOCUMENT_PAGE
from web.app import create_app

from .conftest import web_build_home, web_settings

PASSAGES = 2 * DOCUMENT_PAGE + 50
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def marker(n: int) -> str:
    """A made-up word found only in paragraph n (letters only, so the analyzer keeps it whole)."""
    letters = ""
    while True:
        n, digit = divmod(n, 26)
        letters = chr(ord("a") + digit) + letters
        if not n:
            break
    return "zq" + letters + "xw"


def register() -> str:
    paragraphs = [
        f"Paragraphe {n} du registre : le greffe consigne la pièce {marker(n)} versée au dossier."
        for n in range(1, PASSAGES + 1)
    ]
    return "---\ntitle: Registre des scellés\ndate: 2024-05-02\ntype: rapport\n---\n\n" + "\n\n".join(
        paragraphs
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = web_build_home(tmp_path_factory.mktemp("big-document"), {"registre.md": register()})
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as client:
        yield client


def test_a_big_document_is_served_a_page_at_a_time(client: TestClient) -> None:
    """Attack: `GET /documents/<a 65,000-passage document>`, in HTML and JSON.
    Before: every passage in one answer (115 MB of JSON, 243 MB of HTML). Now: DOCUMENT_PAGE passages.
    """
    first = client.get("/documents/registre.md", headers=JSON).json()
    assert first["total_passages"] == PASSAGES and first["pages"] == 3
    assert first["page"] == 1 and first["per_page"] == DOCUMENT_PAGE
    assert [p["position"] for p in first["passages"]] == list(range(1, DOCUMENT_PAGE + 1))
    last = client.get("/documents/registre.md?page=3", headers=JSON).json()
    assert [p["position"] for p in last["passages"]] == list(range(2 * DOCUMENT_PAGE + 1, PASSAGES + 1))
    beyond = client.get("/documents/registre.md?page=4", headers=JSON).json()
    assert beyond["passages"] == [] and beyond["total_passages"] == PASSAGES
    page = client.get("/documents/registre.md", headers=HTML).text
    assert 'id="p1"' in page and f'id="p{DOCUMENT_PAGE}"' in page and f'id="p{DOCUMENT_PAGE + 1}"' not in page
    assert 'href="/documents/registre.md?page=2" rel="next"' in page
    assert "page 1 sur 3" in page
    second = client.get("/documents/registre.md?page=2", headers=HTML).text
    assert f'<ol class="passages" start="{DOCUMENT_PAGE + 1}">' in second
    assert 'href="/documents/registre.md" rel="first"' in second


def test_an_anchor_lands_on_the_page_that_holds_it(client: TestClient) -> None:
    """`p=<position>` opens the page holding that passage (the fragment `#p250` never reaches us)."""
    page = client.get("/documents/registre.md?p=250", headers=HTML).text
    assert 'id="p250"' in page and "page 2 sur 3" in page
    assert client.get("/documents/registre.md?p=250&page=1", headers=JSON).json()["page"] == 2  # p wins
    assert client.get("/documents/registre.md?p=99999", headers=JSON).json()["page"] == 3
    for bad in ("p=0", "p=x", "page=0", "page=10001"):
        r = client.get(f"/documents/registre.md?{bad}", headers=JSON)
        assert r.status_code == 400 and r.json()["parameter"] == bad.split("=")[0], bad
    html = client.get("/documents/registre.md?p=0", headers=HTML)
    assert html.status_code == 400 and "numéro" in html.text


def test_links_to_a_passage_open_its_page(client: TestClient) -> None:
    """Search hits, the JSON `url`s and the CSV export link past the first page with `p=`."""
    body = client.get("/search", params={"q": marker(250)}, headers=JSON).json()
    assert [h["url"] for h in body["hits"]] == ["/documents/registre.md?p=250#p250"]
    early = client.get("/search", params={"q": marker(3)}, headers=JSON).json()
    assert [h["url"] for h in early["hits"]] == ["/documents/registre.md#p3"]
    page = client.get("/search", params={"q": marker(250)}, headers=HTML).text
    assert f'href="/documents/registre.md?p=250&amp;q={marker(250)}#p250"' in page
    target, _, anchor = body["hits"][0]["url"].partition("#")
    assert f'id="{anchor}"' in client.get(target, headers=HTML).text
    passages = client.get("/documents/registre.md?page=2", headers=JSON).json()["passages"]
    assert passages[0]["url"] == f"/documents/registre.md?p={DOCUMENT_PAGE + 1}#p{DOCUMENT_PAGE + 1}"
    export = client.get("/search", params={"q": marker(250), "format": "csv"}).content.decode("utf-8-sig")
    assert next(csv.DictReader(io.StringIO(export)))["url"] == "/documents/registre.md?p=250#p250"


def test_match_navigation_crosses_pages(client: TestClient) -> None:
    """Matches on other pages are linked with the page that holds them; those on this page by anchor."""
    q = f"{marker(10)} OR {marker(12)} OR {marker(300)}"
    qs = quote(q).replace("%20", "+")
    first = client.get("/documents/registre.md", params={"q": q}, headers=HTML).text
    assert "3 passages correspondent" in first and 'href="#p10">aller au premier' in first
    assert '<a href="#p12">↓ correspondance suivante</a>' in first
    assert f'<a href="/documents/registre.md?p=300&amp;q={qs}#p300">↓ correspondance suivante</a>' in first
    second = client.get("/documents/registre.md", params={"q": q, "p": "300"}, headers=HTML).text
    assert '<li id="p300" class="passage match">' in second
    assert f'<a href="/documents/registre.md?q={qs}#p12">↑ correspondance précédente</a>' in second
    assert f'href="/documents/registre.md?q={qs}#p10">aller au premier' in second
    body = client.get("/documents/registre.md", params={"q": q, "page": "2"}, headers=JSON).json()
    assert body["matches"] == [10, 12, 300]
    assert [p["position"] for p in body["passages"] if p["match"]] == [300]


def test_links_across_pages_keep_the_search(client: TestClient) -> None:
    """Every link of a document reached from a search (its pages, its matches on other pages) carries the
    search, so that its matches and its way back stay the search's (issue 14 §3)."""
    q = f"{marker(10)} OR {marker(300)}"
    params = {"q": q, "sort": "oldest", "search_page": "2", "crowding": "false"}
    first = client.get("/documents/registre.md", params=params, headers=HTML).text
    links = [a.replace("&amp;", "&") for a in re.findall(r'href="(/documents/registre\.md[^"#]*)', first)]
    # the original, and the permalinks of « Citer » (made to outlive any search), stand alone
    links = [a for a in links if not a.endswith("/original") and "?at=" not in a]
    assert len(links) >= 3  # the next page, the last page, the match on page 2
    assert all("sort=oldest" in a and "search_page=2" in a and "crowding=false" in a for a in links)
    back = re.search(r'<p class="back"><a href="([^"]+)">', first)
    assert back is not None and "page=2" in back[1] and "sort=oldest" in back[1]
