"""Requests that freeze the server: CSV exports, and addresses built from the `Host` header.

The CSV export reran the whole search for every 100 rows (10,000 rows: 23 s; four at once about 19 s
each), outside the search threads' queue, and could mix two index generations when a reindex swapped
them mid-export. It now ranks once, on one generation held until the export ends, and streams the rows
in chunks, each a short turn in a search thread. The `url` cells (and Starlette's trailing-slash
redirects) were built from the request's `Host` header: they are now relative, or absolute from
ARCHIVE_BASE_URL.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings
from web.export import EXPORT_CHUNK

from .conftest import WebFactory
from .generated import write_judgements

JSON = {"Accept": "application/json"}
HANG_GUARD = 120


def _rows(text: str) -> list[dict[str, str]]:
    body = text.removeprefix("\ufeff")  # the byte-order mark French Excel needs
    return [r for r in csv.DictReader(io.StringIO(body)) if not r["id"].startswith("#")]


def test_export_reads_one_generation_across_a_swap(tmp_path: Path) -> None:
    """Attack: export while an archivist's full reindex swaps in a new generation.
    Before: each 100 rows reran the search on whatever was live: rows of both generations mixed, some
    missing, some twice. Now: every row comes from the generation the export was ranked on.
    """
    write_judgements(tmp_path, 6, 100)
    settings = Settings.from_env({}, home=tmp_path)
    with Archive(settings) as archive:
        archive.reindex(full=True)
        before = archive.search(SearchRequest(query="tribunal")).total
        with archive.searcher.export(SearchRequest(query="tribunal", sort="newest"), 100_000) as export:
            rows = export.hits(0, 50)
            gone = tmp_path / "documents" / "jugements" / "jugement-0000.md"
            gone.unlink()
            write_judgements(tmp_path / "other", 1, 40, seed=9)
            (tmp_path / "other" / "documents" / "jugements" / "jugement-0000.md").rename(
                tmp_path / "documents" / "nouveau.md"
            )
            archive.reindex(full=True, accept_changes=True)
            after = archive.search(SearchRequest(query="tribunal"))
            assert after.total != before  # the new generation is live...
            rows += [h for start in range(50, export.rows, 37) for h in export.hits(start, start + 37)]
        assert export.hits(0, 10) == []  # closed: the generation is released
    assert export.total == len(rows) == before  # ...and the export read the old one, whole
    assert len({h.id for h in rows}) == len(rows)
    assert any(h.document == "jugements/jugement-0000.md" for h in rows)
    assert not any(h.document == "nouveau.md" for h in rows)


def test_an_export_outlives_the_deletion_of_its_generation(tmp_path: Path) -> None:
    """Attack: start an export, read slowly while three full reindexes run. The generation the export
    was ranked on is deleted from disk after the second one; a reader needing a new Whoosh searcher of
    that generation then raised EmptyIndexError (a truncated CSV with no error; seen in review with
    several readers at once). The export reads through a searcher of its own, opened with it, whose
    open files outlive the directory: every row is read, once, from another thread."""
    write_judgements(tmp_path, 4, 60)
    with Archive(Settings.from_env({}, home=tmp_path)) as archive:
        archive.reindex(full=True)
        first = archive.stats().generation
        with archive.export(SearchRequest(query="tribunal"), 100_000) as export:
            rows = export.hits(0, 10)
            for _ in range(3):
                archive.reindex(full=True)
            assert not (tmp_path / "index" / str(first)).exists()
            out: list[object] = []
            reader = threading.Thread(target=lambda: out.extend(export.hits(10, export.rows)))
            reader.start()
            reader.join(HANG_GUARD)
        rows += out  # type: ignore[arg-type]
    assert len(rows) == export.total and len({h.id for h in rows}) == export.total


def test_export_streams_every_match_in_the_pages_order(tmp_path: Path, web_app_factory: WebFactory) -> None:
    """An export of more than one chunk holds exactly the search's matches: the pages' list first, in its
    order, then the passages crowding left out of it (in ranked order); `crowding=false`, the plain
    ranking of the pages that say so."""
    client = web_app_factory(token=None)
    home = Path(client.app.state.settings.home)  # type: ignore[attr-defined]
    write_judgements(home, 12, 100)
    with Archive(Settings.from_env({}, home=home, passage_min_words=5)) as archive:
        archive.reindex()
    r = client.get("/search", params={"q": "condamne", "format": "csv"})
    rows = _rows(r.text)
    total = int(r.headers["x-total-count"])
    assert total > EXPORT_CHUNK and len(rows) == total and r.headers["x-export-partial"] == "false"

    def pages(**extra: str) -> list[str]:
        return [
            h["id"]
            for page in range(1, 4)
            for h in client.get(
                "/search", params={"q": "condamne", "per_page": "100", "page": str(page), **extra}, headers=JSON
            ).json()["hits"]
        ]

    listed = client.get("/search", params={"q": "condamne"}, headers=JSON).json()["listed"]
    crowded = pages()
    assert 0 < listed < total and len(crowded) == min(300, listed)
    assert [row["id"] for row in rows[: len(crowded)]] == crowded
    plain = _rows(client.get("/search", params={"q": "condamne", "format": "csv", "crowding": "false"}).text)
    assert [row["id"] for row in plain[:300]] == pages(crowding="false")
    assert sorted(row["id"] for row in plain) == sorted(row["id"] for row in rows)


def test_url_cells_never_come_from_the_host_header(web_client: TestClient) -> None:
    """Attack: `GET /search?q=…&format=csv` with `Host: evil.example`.
    Before: every `url` cell was `http://evil.example/documents/…`: a spreadsheet of links to the
    attacker's host. Now: without ARCHIVE_BASE_URL, links are relative.
    """
    r = web_client.get("/search?q=blanchiment&format=csv", headers={"Host": "evil.example"})
    rows = _rows(r.text)
    assert rows and all(row["url"].startswith("/documents/") for row in rows)
    assert "evil" not in r.text


def test_url_cells_use_the_configured_base_url(web_app_factory: WebFactory) -> None:
    client = web_app_factory(token=None, base_url="https://archive.example.org/fonds")
    r = client.get("/search?q=blanchiment&format=csv", headers={"Host": "evil.example"})
    rows = _rows(r.text)
    assert rows and all(row["url"].startswith("https://archive.example.org/fonds/documents/") for row in rows)


@pytest.mark.parametrize("path", ["/search/", "/health/", "/openapi.json/", "/static", "/"])
def test_no_redirect_is_built_from_the_host_header(web_client: TestClient, path: str) -> None:
    """Attack: `GET /search/` with `Host: evil.example`.
    Before: Starlette's trailing-slash redirect answered `Location: http://evil.example/search`.
    Now: no such redirect (404); the one redirect there is (`/` to `/search`) is relative.
    """
    r = web_client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil" not in r.headers.get("location", "")
    if r.is_redirect:
        assert r.headers["location"].startswith("/")


def _blocked(client: TestClient, request: Callable[[], int]) -> None:
    """`request` waits while every search thread is taken, and completes once one is free."""
    limiter = client.app.state.searches  # type: ignore[attr-defined]
    borrowers = [object() for _ in range(int(limiter.total_tokens))]
    assert client.portal is not None
    for b in borrowers:
        client.portal.call(limiter.acquire_on_behalf_of_nowait, b)
    status: list[int] = []
    worker = threading.Thread(target=lambda: status.append(request()))
    try:
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not status  # waiting for a search thread
    finally:
        for b in borrowers:
            client.portal.call(limiter.release_on_behalf_of, b)
    worker.join(HANG_GUARD)
    assert status == [200]


@pytest.mark.parametrize(
    "path",
    ["/search?q=blanchiment&format=csv", "/documents/2024/blanchiment-lyon.md?q=saisi", "/search?q=saisi"],
)
def test_every_query_path_waits_for_a_search_thread(web_app_factory: WebFactory, path: str) -> None:
    """Attack: exports and document views with `q` sent while searches fill the search threads.
    Before: exports and document views ran outside the queue, in as many threads as requests.
    Now: they take their turn in the same queue (and the same deadline) as searches.
    """
    client = web_app_factory(token=None)
    _blocked(client, lambda: client.get(path, headers=JSON).status_code)
