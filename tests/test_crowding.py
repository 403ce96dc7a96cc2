"""One document must not fill page 1 (issue 14, §1): at most two passages of a document in a results list.

Through `Archive.search` on a real index: a long report that matches everywhere beside short documents,
by relevance and by date; over HTTP for `crowding=false` and the page's link to the rest; and the exact
crowding of `ranking.best_crowded` against its definition on random scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from starlette.testclient import TestClient

from archive import Archive, SearchRequest, Settings
from archive.planning import PER_DOCUMENT
from archive.ranking import Crowd, best, best_crowded
from web.app import create_app

from .conftest import write_documents

HTML = {"Accept": "text/html"}
PARAGRAPH = (
    "Les enquêteurs ont procédé à la saisie des avoirs criminels du réseau, comptes bancaires et "
    "véhicules compris, sur réquisition du parquet, dans le cadre de l'information judiciaire ouverte. "
)


def _documents() -> dict[str, str | bytes]:
    """A long report with 12 matching passages, and six short notes with one each."""
    report = "---\ntitle: Rapport annuel sur les saisies\ndate: 2024-03-01\n---\n\n" + "\n\n".join(
        f"## Partie {i}\n\n{PARAGRAPH * 3}Paragraphe {i}." for i in range(12)
    )
    notes = {
        f"notes/note-{i}.md": f"---\ntitle: Note {i}\ndate: 2023-0{i + 1}-15\n---\n\n"
        f"Brève numéro {i} : saisie des avoirs d'un trafiquant, dit le parquet, après une enquête longue."
        for i in range(6)
    }
    return {"rapport.md": report, **notes}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crowding")
    (path / "documents").mkdir()
    write_documents(path, _documents())
    with Archive(Settings(home=path, passage_min_words=20, passage_max_words=60)) as archive:
        archive.reindex()
    return path


@pytest.fixture
def archive(home: Path) -> Iterator[Archive]:
    with Archive(Settings(home=home, passage_min_words=20, passage_max_words=60)) as a:
        yield a


def _documents_of(archive: Archive, request: SearchRequest) -> list[str]:
    return [h.document for h in archive.search(request).hits]


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_a_long_document_shows_two_passages_and_says_how_many_more(
    archive: Archive, sort: Literal["relevance", "newest", "oldest"]
) -> None:
    plain = archive.search(SearchRequest("saisie avoirs", sort=sort, per_page=100, crowding=False))
    crowded = archive.search(SearchRequest("saisie avoirs", sort=sort, per_page=100))
    in_report = sum(1 for h in plain.hits if h.document == "rapport.md")
    assert in_report >= 10  # the trap: on the plain ranking, the report alone fills a page of ten
    shown = Counter(h.document for h in crowded.hits)
    assert shown["rapport.md"] == PER_DOCUMENT and len(shown) == 7
    assert all(
        h.more_in_document == in_report - PER_DOCUMENT for h in crowded.hits if h.document == "rapport.md"
    )
    assert all(h.more_in_document == 0 for h in crowded.hits if h.document != "rapport.md")
    # totals and facet counts are those of every matching passage
    assert (crowded.total, crowded.documents, crowded.facets) == (plain.total, plain.documents, plain.facets)
    assert crowded.listed == len(crowded.hits) == plain.total - in_report + PER_DOCUMENT
    assert crowded.to_json()["pages"] == 1 and crowded.to_json()["listed"] == crowded.listed


def test_the_report_keeps_its_best_passages_by_relevance_and_its_first_by_date(archive: Archive) -> None:
    plain = archive.search(SearchRequest("saisie avoirs", per_page=100, crowding=False)).hits
    best_two = [h.id for h in plain if h.document == "rapport.md"][:PER_DOCUMENT]
    crowded = archive.search(SearchRequest("saisie avoirs", per_page=100)).hits
    assert [h.id for h in crowded if h.document == "rapport.md"] == best_two
    # and the list keeps the plain ranking's order otherwise
    kept = {h.id for h in crowded}
    assert [h.id for h in plain if h.id in kept] == [h.id for h in crowded]
    newest = archive.search(SearchRequest("", sort="newest", per_page=100)).hits
    assert [h.position for h in newest if h.document == "rapport.md"] == [1, 2]


def test_page_one_holds_five_documents_at_least(archive: Archive) -> None:
    page = _documents_of(archive, SearchRequest("saisie avoirs", per_page=10))
    assert len(set(page)) >= 10 // PER_DOCUMENT
    assert len(set(_documents_of(archive, SearchRequest("saisie avoirs", per_page=10, crowding=False)))) < 5


def test_crowding_is_exact_against_its_definition() -> None:
    """The m best, crowded, equal crowding the whole ranking: for every k, and after any cursor."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(1, 400))
        candidates = np.sort(rng.choice(10 * n, size=n, replace=False)).astype(np.int64)
        document_of = np.zeros(10 * n, dtype=np.int64)
        document_of[candidates] = rng.integers(0, max(1, n // int(rng.integers(1, 30))), size=n)
        scores = rng.integers(0, 20, size=n).astype(np.float64)  # many ties
        crowd = Crowd(int(rng.integers(1, 4)), document_of)
        full = best(candidates, scores, n)
        seen: Counter[int] = Counter()
        expected = []
        for docnum, score in full:
            seen[int(document_of[docnum])] += 1
            if seen[int(document_of[docnum])] <= crowd.per_document:
                expected.append((docnum, score))
        k = int(rng.integers(1, n + 2))
        assert best_crowded(candidates, scores, k, crowd) == expected[:k], trial
        if len(expected) > 1:
            cut = int(rng.integers(0, len(expected) - 1))
            after = (expected[cut][1], expected[cut][0])
            assert best_crowded(candidates, scores, k, crowd, after) == expected[cut + 1 : cut + 1 + k]


def test_http_lists_the_rest_of_a_document_under_its_last_hit(home: Path) -> None:
    settings = Settings(home=home, passage_min_words=20, passage_max_words=60, rate_limit=None)
    with TestClient(create_app(settings)) as client:
        body = client.get("/search", params={"q": "saisie avoirs"}).json()
        report = [h for h in body["hits"] if h["document"] == "rapport.md"]
        assert len(report) == PER_DOCUMENT and report[0]["more_in_document"] >= 10
        plain = client.get("/search", params={"q": "saisie avoirs", "crowding": "false"}).json()
        assert sum(h["document"] == "rapport.md" for h in plain["hits"]) > PER_DOCUMENT
        assert all(h["more_in_document"] == 0 for h in plain["hits"])
        assert body["total"] == plain["total"] and body["listed"] < plain["listed"] == plain["total"]
        page = client.get("/search", params={"q": "saisie avoirs"}, headers=HTML).text
        more = report[0]["more_in_document"]
        assert page.count(f"{more} autres passages correspondent dans ce document") == 1
        assert 'href="/documents/rapport.md?q=saisie+avoirs"' in page
        document = client.get("/documents/rapport.md?q=saisie+avoirs", headers={"Accept": "application/json"})
        assert len(document.json()["matches"]) == more + PER_DOCUMENT


def test_grouped_by_document_each_document_once_with_its_best_passages(archive: Archive) -> None:
    """`group`: documents ranked by their best passage, each with its two best together; pages count them."""
    crowded = archive.search(SearchRequest("saisie avoirs", per_page=100)).hits
    order = list(dict.fromkeys(h.document for h in crowded))  # documents by their best passage
    grouped = archive.search(SearchRequest("saisie avoirs", per_page=3, group=True))
    documents = list(dict.fromkeys(h.document for h in grouped.hits))
    assert documents == order[:3]
    for document in documents:  # its passages together, its two best in rank order
        theirs = [h.id for h in grouped.hits if h.document == document]
        assert theirs == [h.id for h in crowded if h.document == document]
        first = [h.document for h in grouped.hits].index(document)
        assert [h.document for h in grouped.hits][first : first + len(theirs)] == [document] * len(theirs)
    assert grouped.listed == len(order) and grouped.to_json()["pages"] == -(-len(order) // 3)
    second = archive.search(SearchRequest("saisie avoirs", per_page=3, page=2, group=True))
    assert list(dict.fromkeys(h.document for h in second.hits)) == order[3:6]


def test_grouping_refuses_what_it_cannot_do(home: Path) -> None:
    settings = Settings(home=home, passage_min_words=20, passage_max_words=60, rate_limit=None)
    with TestClient(create_app(settings)) as client:
        assert client.get("/search", params={"q": "saisie", "group": "site"}).json()["parameter"] == "group"
        both = client.get("/search", params={"q": "saisie", "group": "document", "crowding": "false"})
        assert both.status_code == 400 and both.json()["parameter"] == "group"
        page = client.get("/search", params={"q": "saisie avoirs", "group": "document"}, headers=HTML).text
        assert "voir par passage" in page and page.count('class="hit continued"') >= 1
