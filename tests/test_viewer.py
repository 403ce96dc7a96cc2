"""A document counts and steps through exactly the passages its search counted there (issue 14 §3).

The search's hits in a document (`crowding=false`, `per_page=100`, kept to that document) against what
the document page reached from the results page says: its `matches` (JSON), « N passages correspondent »
and the chain of « correspondance suivante » links (HTML). The queries are those where the two used to
differ (the document view matched any of the words and ignored the filters): every word of which one is
everywhere, a loosened query, a phrase under a filter, a corrected typo. And « ← Retour à la recherche »
comes back to the same page of the same search.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from archive import Archive, SearchRequest
from web.app import create_app

from .conftest import custody_guides, web_build_home, web_settings

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
DOCUMENT = "guides/mineurs.txt"

CASES = [
    # (query, filters, what the document view used to match instead)
    pytest.param("garde à vue mineur", {}, "garde OR vue OR mineur", id="every-word-one-frequent"),
    pytest.param("audition mineur", {}, "audition OR mineur", id="loosened"),
    pytest.param(
        '"garde à vue" mineur', {"agency": ["gendarmerie"]}, '"garde à vue" mineur', id="phrase-filtered"
    ),
    pytest.param("garde mineurr", {}, "garde OR mineur", id="corrected-typo"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return web_build_home(tmp_path_factory.mktemp("viewer"), custody_guides())


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as c:
        yield c


def _searched(client: TestClient, q: str, filters: dict[str, list[str]]) -> list[int]:
    """The positions of the search's hits in DOCUMENT: every matching passage, none crowded out."""
    params = {"q": q, **filters, "crowding": "false", "per_page": "100"}
    body = client.get("/search", params=params, headers=JSON).json()
    assert body["total"] <= 100  # one page holds them all
    return sorted(h["position"] for h in body["hits"] if h["document"] == DOCUMENT)


def _linked(client: TestClient, params: Mapping[str, str | list[str]]) -> str:
    """The results page's first link to DOCUMENT (its hit's title), as a browser would follow it."""
    page = client.get("/search", params=dict(params), headers=HTML).text
    links = re.findall(r'<h3><a href="(/documents/guides/mineurs\.txt[^"]*)"', page)
    assert links, "the search lists the document"
    return html.unescape(links[0])


def _stepped(page: str) -> list[int]:
    """The passages visited from « aller au premier » through « correspondance suivante », in order."""
    first = re.search(r'<a href="#p(\d+)">aller au premier</a>', page)
    assert first is not None
    following = {
        int(m[1]): re.search(r'href="#p(\d+)">↓ correspondance suivante', m[2])
        for m in re.finditer(r'<li id="p(\d+)" class="passage match">(.*?)</li>', page, re.S)
    }
    out = [int(first[1])]
    while (step := following[out[-1]]) is not None:
        out.append(int(step[1]))
    return out


@pytest.mark.parametrize(("q", "filters", "before"), CASES)
def test_the_document_counts_and_steps_through_the_searchs_matches(
    client: TestClient, q: str, filters: dict[str, list[str]], before: str
) -> None:
    expected = _searched(client, q, filters)
    assert expected
    link = _linked(client, {"q": q, **filters})
    assert link.endswith(f"#p{expected[0]}")  # the best hit opens at its passage
    view = client.get(link, headers=JSON).json()
    assert view["matches"] == expected
    page = client.get(link, headers=HTML).text
    assert f"{len(expected)} passages correspondent" in page
    assert _stepped(page) == expected
    # The trap: what the document view used to match (any of the words, without the filters) is more.
    old = client.get(f"/documents/{DOCUMENT}", params={"q": before}, headers=JSON).json()["matches"]
    assert len(old) > len(expected)


def test_the_hidden_passages_link_counts_what_crowding_left_out(client: TestClient) -> None:
    """« N autres passages correspondent » opens the document on the same matches: N plus those listed."""
    body = client.get("/search", params={"q": "garde à vue mineur"}, headers=JSON).json()
    listed = [h for h in body["hits"] if h["document"] == DOCUMENT]
    page = client.get("/search", params={"q": "garde à vue mineur"}, headers=HTML).text
    more = re.search(r'<p class="more"><a href="([^"]+)">(\d+) autres passages', page)
    assert more is not None and int(more[2]) == listed[-1]["more_in_document"]
    view = client.get(html.unescape(more[1]), headers=JSON).json()
    assert len(view["matches"]) == len(listed) + int(more[2])


def test_the_core_view_takes_the_search_itself(home: Path) -> None:
    """`Archive.document` with a `SearchRequest` matches what `Archive.search` found; a string is a query."""
    with Archive(web_settings(home)) as archive:
        request = SearchRequest("garde à vue mineur", filters={"agency": ("gendarmerie",)})
        hits = archive.search(
            SearchRequest(request.query, request.filters, per_page=100, crowding=False)
        ).hits
        view = archive.document(DOCUMENT, request)
        assert list(view.matches) == sorted(h.position for h in hits if h.document == DOCUMENT)
        assert view.corrected_query is None and view.matches
        plain = archive.document(DOCUMENT, "audition")
        assert len(plain.matches) == 5 and "<mark>" in plain.highlights[plain.matches[0] - 1]
        assert archive.document(DOCUMENT).matches == ()


def test_the_way_back_keeps_the_whole_search(client: TestClient) -> None:
    search = {
        "q": "mineur",
        "agency": "gendarmerie",
        "sort": "oldest",
        "page": "2",
        "per_page": "2",
        "crowding": "false",
    }
    link = _linked(client, search)
    carried = parse_qs(urlsplit(link).query)
    assert carried["search_page"] == ["2"] and carried["search_per_page"] == ["2"]
    page = client.get(link, headers=HTML).text
    back = re.search(r'<p class="back"><a href="([^"]+)">← Retour à la recherche</a>', page)
    assert back is not None
    url = urlsplit(html.unescape(back[1]))
    assert url.path == "/search" and parse_qs(url.query) == {k: [v] for k, v in search.items()}


def test_a_plain_document_page_goes_back_to_the_search_page(client: TestClient) -> None:
    page = client.get(f"/documents/{DOCUMENT}", headers=HTML).text
    assert '<a href="/search">← Retour à la recherche</a>' in page and "correspond" not in page


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"search_page": "0"}, "search_page"),
        ({"search_page": "deux"}, "search_page"),
        ({"search_per_page": "500"}, "search_per_page"),
        ({"sort": "hasard"}, "sort"),
        ({"from": "2024-13-01"}, "from"),
        ({"correct": "peut-être"}, "correct"),
    ],
)
def test_a_bad_search_parameter_on_a_document_is_a_clear_400(
    client: TestClient, params: dict[str, str], parameter: str
) -> None:
    r = client.get(f"/documents/{DOCUMENT}?{urlencode({'q': 'mineur', **params})}", headers=JSON)
    assert r.status_code == 400 and r.json()["parameter"] == parameter
    assert parameter in r.json()["error"]["message"]
    page = client.get(f"/documents/{DOCUMENT}?{urlencode({'q': 'mineur', **params})}", headers=HTML)
    assert page.status_code == 400 and "Demande incorrecte" in page.text
