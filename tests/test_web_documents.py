"""Document pages and originals over HTTP."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from .conftest import WEB_DOCUMENTS

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def test_document_page_lists_every_passage_with_anchors(web_client: TestClient) -> None:
    r = web_client.get("/documents/2024/blanchiment-lyon.md", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<li id="p1"' in page and '<li id="p2"' in page
    assert page.index('id="p1"') < page.index('id="p2"')
    assert "<h1>Blanchiment aggravé à Lyon</h1>" in page
    assert "27 juin 2024" in page and "Gendarmerie nationale" in page and "Blanchiment aggravé" in page
    assert 'href="/documents/2024/blanchiment-lyon.md/original"' in page
    assert "<mark>" not in page


def test_document_page_highlights_the_query_and_links_matches(web_client: TestClient) -> None:
    page = web_client.get(
        "/documents/2021/blanchiment-escroquerie.md?q=gendarmerie+OR+blanchiment", headers=HTML
    ).text
    assert "<mark>" in page
    assert '<li id="p1" class="passage match">' in page and '<li id="p2" class="passage match">' in page
    assert '<a href="#p2">↓ correspondance suivante</a>' in page
    assert '<a href="#p1">↑ correspondance précédente</a>' in page
    assert "2 passages correspondent" in page and 'href="#p1">aller au premier' in page
    assert 'href="/search?q=gendarmerie+OR+blanchiment"' in page


def test_document_json(web_client: TestClient) -> None:
    r = web_client.get("/documents/2024/blanchiment-lyon.md?q=saisi", headers=JSON)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "2024/blanchiment-lyon.md"
    assert (
        body["metadata"]["title"] == "Blanchiment aggravé à Lyon" and body["metadata"]["date"] == "2024-06-27"
    )
    assert [p["position"] for p in body["passages"]] == [1, 2]
    assert body["matches"] == [2]
    assert body["passages"][1]["match"] is True and "<mark>" in body["passages"][1]["highlight"]
    assert body["passages"][0]["url"] == "/documents/2024/blanchiment-lyon.md#p1"
    assert body["original_url"] == "/documents/2024/blanchiment-lyon.md/original"
    assert len(body["sha256"]) == 64
    assert web_client.get("/documents/2024/blanchiment-lyon.md?format=json", headers=HTML).json()["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/documents/2024/absent.md",
        "/documents/../etc/passwd",
        "/documents/%2e%2e/%2e%2e/etc/passwd",
        "/documents/2024",
        "/documents/2024/absent.md/original",
        "/documents/..%2fconftest.py/original",
    ],
)
def test_unknown_documents_are_404(web_client: TestClient, path: str) -> None:
    r = web_client.get(path, headers=JSON)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    html = web_client.get(path, headers=HTML)
    assert html.status_code == 404
    if html.headers["content-type"].startswith("text/html"):
        assert "existe pas" in html.text


def test_original_is_a_download_with_its_type(web_client: TestClient) -> None:
    r = web_client.get("/documents/2024/blanchiment-lyon.md/original")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.headers["content-disposition"] == 'attachment; filename="blanchiment-lyon.md"'
    assert r.content == WEB_DOCUMENTS["2024/blanchiment-lyon.md"].encode()


def test_html_original_is_never_rendered_as_a_page_of_the_site(web_app_factory: object) -> None:
    from .conftest import WebFactory

    assert callable(web_app_factory)
    factory: WebFactory = web_app_factory
    html = (
        "<html><head><title>Page piégée</title></head><body><article><p>Une page sur la contrebande "
        "<script>alert(1)</script> avec un script.</p></article></body></html>"
    )
    client = factory(documents={"page.html": html})
    r = client.get("/documents/page.html/original")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]


def test_hostile_document_page_is_escaped(web_client: TestClient) -> None:
    page = web_client.get("/documents/2024/hostile.txt?q=contrebande", headers=HTML).text
    assert "<script>" not in page.replace('<script src="/static/app.js" defer></script>', "")
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page or "&lt;script&gt;alert(" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<h1>Piège &lt;script&gt;alert(&#39;titre&#39;)&lt;/script&gt;</h1>" in page
    assert "<mark>contrebande</mark>" in page
    body = web_client.get("/documents/2024/hostile.txt?q=contrebande", headers=JSON).json()
    assert "&lt;script&gt;" in body["passages"][0]["highlight"]
    assert "<script>" not in body["passages"][0]["highlight"]


def test_a_heading_shown_above_its_passage_is_not_repeated_in_its_text(web_app_factory: object) -> None:
    from .conftest import WebFactory

    assert callable(web_app_factory)
    factory: WebFactory = web_app_factory
    body = "Les personnes convoquées par un officier de police judiciaire sont tenues de comparaître. " * 3
    heading = "## Article 78 & 79 de l'ancien code"
    md = f"---\ntitle: Enquête préliminaire\n---\n\n{heading}\n\n{body}\n\n## Article 78-1\n\n{body}\n"
    client = factory(documents={"code.md": md})
    page = client.get("/documents/code.md?q=article", headers=HTML).text
    assert page.count("78 &amp; 79 de l") == 2  # the heading, and the citation
    # the heading marked where the search matches it (it is the passage's first line)
    assert "<h2><mark>Article</mark> 78 &amp; 79 de l'ancien code</h2>" in page
    assert "<h2><mark>Article</mark> 78-1</h2>" in page
    items = [item.split("</h2>", 1)[1].split("</p>", 1)[0] for item in page.split('<li id="p')[1:]]
    assert len(items) == 2 and all("Article" not in t and "comparaître" in t for t in items)
    passages = client.get("/documents/code.md", headers=JSON).json()["passages"]
    assert passages[0]["text"].startswith("Article 78 & 79")  # the passage's text keeps its heading


def test_a_phrase_running_from_the_heading_into_the_text_stays_marked_under_the_heading(
    web_app_factory: object,
) -> None:
    from .conftest import WebFactory

    assert callable(web_app_factory)
    factory: WebFactory = web_app_factory
    body = "Douanière des biens saisis au port, la procédure suit son cours devant le tribunal judiciaire. " * 3
    md = f"---\ntitle: Procédure\n---\n\n## Saisie\n\n{body}\n"
    client = factory(documents={"saisie.md": md})
    page = client.get('/documents/saisie.md?q="saisie douanière"', headers=HTML).text
    text = page.split('<li id="p1"', 1)[1].split("</h2>", 1)[1].split("</p>", 1)[0]
    assert text.strip().startswith("<p><mark>Douanière</mark> des biens")  # the mark reopened, none stray
    assert text.count("<mark>") == text.count("</mark>") == 1
