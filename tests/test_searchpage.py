"""The results page beyond its hits (web/searchpage.py, issue 14 §3 and §6): the pager's numbers, the
sort control named for what it does, the page sizes, the filter panel and the query syntax.

Through the app's real HTML (TestClient over the web test archive); the pager's arithmetic on its own.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive import SearchRequest, SearchResults
from web.searchpage import MAX_PAGE, SearchPage, page_numbers

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
SYNTAX = Path(__file__).parent.parent / "web" / "templates" / "syntax.html"


@pytest.mark.parametrize(
    ("current", "last", "shown"),
    [
        (1, 1, [1]),
        (1, 3, [1, 2, 3]),
        (1, 20, [1, 2, 3, None, 20]),
        (4, 20, [1, 2, 3, 4, 5, 6, None, 20]),  # 2 is shown rather than « … » standing for it alone
        (10, 20, [1, None, 8, 9, 10, 11, 12, None, 20]),
        (20, 20, [1, None, 18, 19, 20]),
        (25, 20, [1, None, 18, 19, 20]),  # past the end: around the last page
        (1, MAX_PAGE, [1, 2, 3, None, MAX_PAGE]),
    ],
)
def test_page_numbers_show_a_window_the_first_and_the_last(
    current: int, last: int, shown: list[int | None]
) -> None:
    assert page_numbers(current, last) == shown


def test_no_link_points_past_the_last_page_a_search_accepts() -> None:
    results = SearchResults("", "", 5_000_000, 9, 1, 10, (), {}, None, False, 1.0)
    page = SearchPage(SearchRequest(), results)
    assert results.pages == 500_000 and page.last_page == MAX_PAGE
    assert page.page_numbers()[-1] == MAX_PAGE


def _pager(page: str) -> list[str]:
    found = re.search(r'<nav class="pagination" aria-label="Pagination">(.*?)</nav>', page, re.S)
    assert found is not None
    return [html.unescape(t) for t in re.findall(r"<li[^>]*>(?:<a [^>]*>)?([^<]+)", found[1])]


def test_the_pager_links_numbers_the_next_and_the_last_page(web_client: TestClient) -> None:
    page = web_client.get("/search?q=&per_page=1&page=3", headers=HTML).text
    total = web_client.get("/search?q=&per_page=1", headers=JSON).json()["pages"]
    assert total >= 6
    assert _pager(page) == [
        "‹ Précédente",
        "1",
        "2",
        "3",
        "4",
        "5",
        "…",
        str(total),
        "Suivante ›",
        "Dernière page »",
    ]
    assert 'aria-current="page" aria-label="Page 3, page actuelle">3</a>' in page
    assert f'<a href="/search?q=&amp;page={total}&amp;per_page=1" rel="last">Dernière page »</a>' in page
    assert '<a href="/search?q=&amp;per_page=1" aria-label="Page 1" rel="first">1</a>' in page
    last = web_client.get(f"/search?q=&per_page=1&page={total}", headers=HTML).text
    assert "Dernière page" not in last and "Suivante" not in last
    single = web_client.get("/search?q=blanchiment", headers=HTML).text
    assert _pager(single) == [] and 'rel="last"' not in single  # one page: no pager links


def test_the_page_size_is_offered_and_kept(web_client: TestClient) -> None:
    page = web_client.get("/search?q=&per_page=20", headers=HTML).text
    options = re.findall(r'<option value="(\d+)"( selected)?>', page)
    assert options == [("10", ""), ("20", " selected"), ("50", ""), ("100", "")]
    odd = web_client.get("/search?q=&per_page=7", headers=HTML).text
    assert '<option value="7" selected>7</option>' in odd  # an address's own size stays selected
    plain = web_client.get("/search?q=&crowding=false", headers=HTML).text
    assert '<input type="hidden" name="crowding" value="false">' in plain  # the form keeps the plain list


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("", ["Date, les plus récents d'abord", "Date, les plus anciens d'abord"]),
        ("q=&sort=newest", ["Date, les plus récents d'abord", "Date, les plus anciens d'abord"]),
        ("q=blanchiment", ["Pertinence", "Date, les plus récents d'abord", "Date, les plus anciens d'abord"]),
    ],
)
def test_the_sort_control_says_what_the_list_does(
    web_client: TestClient, query: str, labels: list[str]
) -> None:
    """Without words the list is by date, newest first: the control says so rather than « Pertinence »."""
    page = web_client.get(f"/search?{query}", headers=HTML).text
    select = re.search(r'<select id="sort" name="sort">(.*?)</select>', page, re.S)
    assert select is not None
    assert [html.unescape(t) for t in re.findall(r">([^<]+)</option>", select[1])] == labels
    assert len(re.findall(r" selected>", select[1])) == 1
    # what is selected is `relevance`: a query typed on this page is then ranked by relevance
    assert re.findall(r'<option value="(\w+)" selected>', select[1]) == ["relevance"]


def test_an_empty_query_lists_newest_first_as_its_label_says(web_client: TestClient) -> None:
    dates = [h["date"] for h in web_client.get("/search?q=&per_page=100", headers=JSON).json()["hits"]]
    assert dates == sorted(dates, reverse=True)


def test_the_filter_panel_and_the_search_box(web_client: TestClient) -> None:
    page = web_client.get("/search?q=blanchiment&year=2021&type=decision", headers=HTML).text
    assert '<details class="filters" id="filtres">' in page  # closed in the page: app.js opens it when wide
    assert '<span id="filtres-titre">Filtrer</span> <span class="active">(2 actifs)</span>' in page
    assert page.index('id="filtres"') < page.index('<ol class="hits"')  # above the results, in one column
    assert re.search(r'<input id="q"[^>]* autofocus>', page)
    document = web_client.get("/documents/2024/blanchiment-lyon.md?q=blanchiment", headers=HTML).text
    assert "autofocus" not in document


def test_every_example_of_the_syntax_help_is_read_as_it_says(web_client: TestClient) -> None:
    """The help's examples run as written: none is searched as plain words for want of a syntax."""
    help_ = SYNTAX.read_text(encoding="utf-8")
    examples = [html.unescape(c) for c in re.findall(r"<dt>(.*?)</dt>", help_)]
    queries = [html.unescape(q) for dt in examples for q in re.findall(r"<code>(.*?)</code>", dt)]
    assert len(queries) >= 12
    for q in queries:
        body = web_client.get("/search", params={"q": q}, headers=JSON).json()
        assert not any("syntaxe" in n for n in body["notes"]), (q, body["notes"])
    fields = {
        q.split(":")[0]: web_client.get("/search", params={"q": q}, headers=JSON).json()
        for q in queries
        if ":" in q
    }
    assert {f: b["interpreted_as"].split(":")[0] for f, b in fields.items()} == {
        "titre": "title",
        "service": "agency",
        "infraction": "offence",
        "année": "year",
    }
    page = web_client.get("/search", headers=HTML).text
    assert (
        '<details class="syntax" id="aide-syntaxe">' in page
        and "<summary>Aide à la recherche</summary>" in page
    )


def test_docs_name_every_parameter_of_the_pages() -> None:
    """docs/web.md describes every parameter `/search` and a document page read."""
    from web.documents import SEARCH_PARAMETERS
    from web.search import PARAMETERS

    docs = (Path(__file__).parent.parent / "docs" / "web.md").read_text(encoding="utf-8")
    assert [n for n in (*PARAMETERS, *SEARCH_PARAMETERS, "page", "p") if f"`{n}`" not in docs] == []
