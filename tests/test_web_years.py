"""The year facet: undated documents can be selected (`year=sans-date`, « Non daté »), and the facet is
drawn as a bar chart of checkboxes that works without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive import UNDATED, Archive
from web.app import create_app

from .conftest import WEB_DOCUMENTS, web_build_home, web_settings

UNDATED_DOCUMENTS = {
    "divers/note-sans-date.txt": "Une note sans date sur la contrebande de tabac.\n\n"
    "Elle ne dit pas quand les douaniers ont saisi les cartouches.\n",
    "divers/memo.md": "---\ntitle: Mémo interne\n---\n\nUn mémo, sans date lui aussi, sur la contrebande.\n",
}
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = web_build_home(tmp_path_factory.mktemp("years"), {**WEB_DOCUMENTS, **UNDATED_DOCUMENTS})
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as c:
        yield c


def _every(client: TestClient, query: str = "", **filters: str | list[str]) -> list[dict[str, object]]:
    body = client.get("/search", params={"q": query, "crowding": "false", "per_page": 100, **filters}).json()
    assert body["total"] == len(body["hits"])
    hits: list[dict[str, object]] = body["hits"]
    return hits


def test_undated_passages_are_a_year_value(client: TestClient) -> None:
    everything = _every(client)
    undated = {h["id"] for h in everything if h["date"] is None}
    assert len(undated) == 3  # the two notes: 2 passages and 1
    selected = _every(client, year=UNDATED)
    assert {h["id"] for h in selected} == undated
    body = client.get("/search", params={"q": "", "year": UNDATED}).json()
    year = {f["value"]: f for f in body["facets"]["year"]}
    assert year[UNDATED] == {"value": "sans-date", "label": "Non daté", "count": 3, "selected": True}
    assert body["facets"]["year"][-1]["value"] == UNDATED  # years newest first, the undated last
    assert sum(f["count"] for f in body["facets"]["year"]) == len(everything)  # every passage counted once


def test_undated_combines_with_years_and_other_filters(client: TestClient) -> None:
    both = _every(client, year=[UNDATED, "2023"])
    assert {h["date"] is None for h in both} == {True, False}
    assert {h["date"][:4] for h in both if isinstance(h["date"], str)} == {"2023"}
    assert len(both) == 3 + len(_every(client, year="2023"))
    smuggling = _every(client, "contrebande", year=UNDATED)
    assert {h["document"] for h in smuggling} == set(UNDATED_DOCUMENTS)
    body = client.get("/search", params={"q": "contrebande", "type": "article"}).json()
    # counts of the year facet follow the other facets' filters: no undated article
    assert UNDATED not in {f["value"] for f in body["facets"]["year"]}


def test_the_cli_and_stats_count_the_undated(client: TestClient) -> None:
    home = Path(client.app.state.settings.home)  # type: ignore[attr-defined]
    with Archive(web_settings(home)) as archive:
        stats = archive.stats()
    (undated,) = [f for f in stats.facets["year"] if f.value == UNDATED]
    assert (undated.label, undated.count) == ("Non daté", 3)


def test_the_year_histogram(client: TestClient) -> None:
    page = client.get("/search", params={"q": ""}, headers=HTML).text
    histogram = re.search(r'<fieldset class="facet histogram" id="facette-year">.*?</fieldset>', page, re.S)
    assert histogram is not None
    rows = re.findall(
        r'<li( class="undated")?><label><input type="checkbox" name="year" value="([^"]+)"> '
        r'<span class="year">([^<]+)</span> <span class="bar w(\d+)" aria-hidden="true"></span> '
        r'<span class="count">\((\d+)\)</span></label></li>',
        histogram.group(0),
    )
    assert [(value, label, int(count)) for _, value, label, _, count in rows] == [
        ("2024", "2024", 3),
        ("2023", "2023", 2),
        ("2022", "2022", 2),
        ("2021", "2021", 2),
        ("sans-date", "Non daté", 3),
    ]
    assert [int(length) for _, _, _, length, _ in rows] == [20, 13, 13, 13, 20]  # twentieths of the longest
    assert [undated for undated, *_ in rows] == ["", "", "", "", ' class="undated"']


def test_ticking_non_date_filters_the_page(client: TestClient) -> None:
    page = client.get("/search", params={"q": "contrebande", "year": UNDATED}, headers=HTML).text
    assert '<input type="checkbox" name="year" value="sans-date" checked>' in page
    assert 'aria-label="Retirer le filtre Non daté"' in page
    assert len(re.findall(r'<li class="hit">', page)) == 2
    assert "Mémo interne" in page and "Saisie de cigarettes" not in page
    removed = client.get(
        "/search", params={"q": "contrebande", "year": UNDATED, "remove": "year:sans-date"}, headers=HTML
    ).text
    assert "Saisie de cigarettes au Havre" in removed
