"""Deep paging that holds still: `cursor` walks a whole result set once, and expires with its index state.

Over HTTP (JSON, the `Link` header, the HTML page) and through the core's `Archive.search`. The archive
has many passages with equal scores and equal dates, so pages end in the middle of ties.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from archive import cursor as cursor_module
from archive.errors import CursorExpired, UsageError
from archive.home import Archive
from archive.postings import Arrays
from archive.request import SearchRequest

from .conftest import WebFactory, web_build_home, web_settings

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def notes(count: int = 24) -> dict[str, str]:
    """`count` notes with the same title and two identical paragraphs (equal scores), over four years
    and three days a year (equal dates), each with one paragraph of its own."""
    out = {}
    for i in range(count):
        year = 2019 + i % 4
        out[f"{year}/note-{i:02d}.md"] = (
            f"---\ntitle: Note de synthèse\ndate: {year}-0{1 + i % 3}-15\ntype: rapport\n---\n\n"
            "Le blanchiment aggravé du produit des trafics reste la priorité des enquêteurs.\n\n"
            f"Dossier numéro {i} : les saisies portent sur des comptes bancaires et des véhicules.\n\n"
            "La gendarmerie et la douane coopèrent pour tracer les fonds du blanchiment.\n"
        )
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client over a read-only archive of 24 notes (72 passages)."""
    from web.app import create_app

    home = web_build_home(tmp_path_factory.mktemp("cursor-home"), notes())
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as c:
        yield c


def url(base: str, params: dict[str, object]) -> str:
    """`base` (a path and query string) with `params` added: httpx's `params=` would replace its query."""
    return f"{base}&{urlencode(params)}"


def walk(client: TestClient, query: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every hit of a search by following `next_cursor` from its first page; and each page's body."""
    bodies = [client.get(f"/search?{query}", headers=JSON).json()]
    while bodies[-1]["next_cursor"]:
        r = client.get(f"/search?{query}&cursor={bodies[-1]['next_cursor']}", headers=JSON)
        assert r.status_code == 200, r.text
        bodies.append(r.json())
    return [hit["id"] for body in bodies for hit in body["hits"]], bodies


SEARCHES = [
    "q=blanchiment",  # 48 passages, in two groups of 24 equal scores
    "q=blanchiment+OR+dossier&per_page=7",
    "q=",  # browsing: newest first
    "q=&sort=oldest&per_page=5",
    "q=saisies&sort=newest&per_page=4",
    "q=gendarmerie&year=2020&year=2022&per_page=3",
    "q=blanchiment+douane&per_page=1",
    "q=blanchiment&crowding=false&per_page=6",  # every passage, not at most 2 of a document
]


@pytest.mark.parametrize("query", SEARCHES)
def test_a_cursor_walk_returns_every_passage_once_in_ranked_order(client: TestClient, query: str) -> None:
    ids, bodies = walk(client, query)
    everything = client.get(f"/search?{query}&per_page=100", headers=JSON).json()
    assert everything["listed"] <= 100
    assert len(ids) == len(set(ids)) == everything["listed"]
    if "crowding=false" in query:
        assert everything["listed"] == everything["total"]
    else:  # at most two passages of one document in the whole list
        assert max(Counter(i.partition("#")[0] for i in ids).values()) <= 2
    assert ids == [hit["id"] for hit in everything["hits"]]  # the order of one long page
    per_page = bodies[0]["per_page"]
    assert [b["page"] for b in bodies] == list(range(1, len(bodies) + 1))
    assert all(len(b["hits"]) == per_page for b in bodies[:-1])
    assert bodies[-1]["next_cursor"] is None


def test_a_walk_can_start_on_any_numbered_page_and_change_its_page_size(client: TestClient) -> None:
    first = client.get("/search?q=blanchiment&page=3&per_page=5", headers=JSON).json()
    ids = [h["id"] for h in first["hits"]]
    following = first["next_cursor"]
    for per_page in (2, 9, 1, 50):
        address = url("/search?q=blanchiment", {"cursor": following, "per_page": per_page})
        body = client.get(address, headers=JSON).json()
        ids += [h["id"] for h in body["hits"]]
        following = body["next_cursor"]
        if following is None:
            break
    everything = client.get("/search?q=blanchiment&per_page=100", headers=JSON).json()
    assert ids == [h["id"] for h in everything["hits"]][10:]


def test_the_next_page_is_linked_in_the_link_header(client: TestClient) -> None:
    r = client.get("/search?q=blanchiment&per_page=20&format=json")
    body = r.json()
    assert body["next_cursor"]
    target = f"/search?q=blanchiment&per_page=20&cursor={body['next_cursor']}&format=json"
    assert r.headers["link"] == f'<{target}>; rel="next"'
    second = client.get(target)
    assert second.status_code == 200
    assert second.json()["page"] == 2
    last = client.get("/search?q=blanchiment&per_page=100", headers=JSON)
    assert last.json()["next_cursor"] is None
    assert "link" not in last.headers


def test_the_html_page_reached_by_a_cursor_links_the_next_one_by_cursor(client: TestClient) -> None:
    first = client.get("/search?q=blanchiment", headers=JSON).json()
    page = client.get(url("/search?q=blanchiment", {"cursor": first["next_cursor"]}), headers=HTML)
    assert page.status_code == 200
    assert "Passages 11–20 sur 48 · page 2 sur 5" in page.text
    second = client.get(url("/search?q=blanchiment", {"cursor": first["next_cursor"]}), headers=JSON).json()
    assert f'cursor={second["next_cursor"]}" rel="next"' in page.text
    # a page reached by number keeps linking by number
    numbered = client.get("/search?q=blanchiment", headers=HTML).text
    assert 'href="/search?q=blanchiment&amp;page=2" rel="next"' in numbered


# ------------------------------------------------------------------ refused cursors


def test_cursor_and_page_together_are_refused(client: TestClient) -> None:
    following = client.get("/search?q=blanchiment", headers=JSON).json()["next_cursor"]
    for page in ("1", "2"):
        r = client.get(url("/search?q=blanchiment", {"cursor": following, "page": page}), headers=JSON)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_parameter"
        assert r.json()["parameter"] == "cursor"


def _altered(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1  # a digit of the position, under the signature
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    "make", [_altered, lambda c: c[:-4], lambda c: "x" + c, lambda c: "%%%", lambda c: c * 6]
)
def test_a_forged_or_broken_cursor_is_a_bad_parameter(client: TestClient, make: Any) -> None:
    following = client.get("/search?q=blanchiment", headers=JSON).json()["next_cursor"]
    r = client.get(url("/search?q=blanchiment", {"cursor": make(following)}), headers=JSON)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_parameter"
    assert r.json()["parameter"] == "cursor"
    page = client.get(url("/search?q=blanchiment", {"cursor": make(following)}), headers=HTML)
    assert page.status_code == 400
    assert "Le lien vers la page suivante est invalide" in page.text


@pytest.mark.parametrize(
    "other",
    [
        "q=escroquerie",
        "q=blanchiment&sort=newest",
        "q=blanchiment&year=2020",
        "q=blanchiment&from=2020-01-01",
    ],
)
def test_a_cursor_belongs_to_its_search(client: TestClient, other: str) -> None:
    following = client.get("/search?q=blanchiment", headers=JSON).json()["next_cursor"]
    r = client.get(url(f"/search?{other}", {"cursor": following}), headers=JSON)
    assert r.status_code == 400
    assert r.json()["parameter"] == "cursor"
    assert "another search" in r.json()["error"]["message"]


def test_filters_in_another_order_are_the_same_search(client: TestClient) -> None:
    body = client.get("/search?q=blanchiment&year=2020&year=2022&per_page=2", headers=JSON).json()
    reordered = url("/search?q=blanchiment&year=2022&year=2020&per_page=2", {"cursor": body["next_cursor"]})
    r = client.get(reordered, headers=JSON)
    assert r.status_code == 200


# ------------------------------------------------------------------ expiry


def _first_page(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/search?q=blanchiment&per_page=5", headers=JSON).json()
    assert body["next_cursor"]
    return body


def _expired(client: TestClient, cursor: str) -> None:
    r = client.get(url("/search?q=blanchiment&per_page=5", {"cursor": cursor}), headers=JSON)
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "cursor_expired"
    assert set(r.json()) == {"error"}
    page = client.get(url("/search?q=blanchiment&per_page=5", {"cursor": cursor}), headers=HTML)
    assert page.status_code == 410
    assert "recommencez depuis la première page" in page.text
    assert 'href="/search?q=blanchiment&amp;per_page=5">Recommencer depuis la première page' in page.text


def test_a_full_reindex_between_two_pages_expires_the_cursor(web_app_factory: WebFactory) -> None:
    client = web_app_factory(token=None, documents=notes(8))
    first = _first_page(client)
    archive: Archive = client.app.state.archive  # type: ignore[attr-defined]
    archive.reindex(full=True)  # a new generation, with the same documents
    _expired(client, first["next_cursor"])
    ids, _ = walk(client, "q=blanchiment&per_page=5")  # starting again works, on the new generation
    assert len(ids) == len(set(ids)) == first["total"]


def test_an_incremental_reindex_that_changes_the_index_expires_the_cursor(
    web_app_factory: WebFactory,
) -> None:
    client = web_app_factory(token=None, documents=notes(8))
    first = _first_page(client)
    archive: Archive = client.app.state.archive  # type: ignore[attr-defined]
    home: Path = client.app.state.settings.home  # type: ignore[attr-defined]
    (home / "documents" / "2024").mkdir(exist_ok=True)
    (home / "documents" / "2024" / "nouvelle.md").write_text(
        "---\ntitle: Nouvelle note\ndate: 2024-05-02\n---\n\nUn nouveau dossier de blanchiment ouvert à Lille.\n",
        encoding="utf-8",
    )
    report = archive.reindex()  # one Whoosh commit in the same generation
    assert report.count("added") == 1
    _expired(client, first["next_cursor"])


def test_an_incremental_reindex_that_changes_nothing_keeps_the_cursor(web_app_factory: WebFactory) -> None:
    client = web_app_factory(token=None, documents=notes(8))
    first = _first_page(client)
    archive: Archive = client.app.state.archive  # type: ignore[attr-defined]
    report = archive.reindex()  # every file unchanged: no commit
    assert report.count("unchanged") == 8
    r = client.get(url("/search?q=blanchiment&per_page=5", {"cursor": first["next_cursor"]}), headers=JSON)
    assert r.status_code == 200
    assert r.json()["page"] == 2


# ------------------------------------------------------------------ the core


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Archive]:
    home = web_build_home(tmp_path, notes(12))
    with Archive(web_settings(home)) as archive:
        yield archive


def test_the_core_walks_with_cursors_and_ranks_one_page_at_a_time(
    core: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    top = Arrays.top

    def counting(self: Arrays, *args: Any, **kwargs: Any) -> list[tuple[int, float]]:
        asked.append(args[2])  # k: how many hits were ranked
        return top(self, *args, **kwargs)

    monkeypatch.setattr(Arrays, "top", counting)
    request = SearchRequest(query="blanchiment", per_page=4)
    results = core.search(request)
    ids = [h.id for h in results.hits]
    while results.next_cursor:
        results = core.search(SearchRequest(query="blanchiment", per_page=4, cursor=results.next_cursor))
        ids += [h.id for h in results.hits]
    assert len(ids) == len(set(ids)) == results.total == 24
    assert set(asked) == {5}  # however deep the page: the page and one more, never what came before


def test_a_cursor_outlives_the_process_that_made_it(core: Archive) -> None:
    following = core.search(SearchRequest(query="blanchiment", per_page=4)).next_cursor
    assert following
    with Archive(core.settings) as another:  # another process, or the server restarted
        results = another.search(SearchRequest(query="blanchiment", per_page=4, cursor=following))
    assert results.page == 2
    key = core.settings.index_dir / cursor_module.KEY_FILE
    assert len(key.read_bytes()) == 32
    assert key.stat().st_mode & 0o077 == 0


def test_the_core_raises_cursor_expired_after_a_swap(core: Archive) -> None:
    following = core.search(SearchRequest(query="", per_page=4, sort="oldest")).next_cursor
    assert following
    core.reindex(full=True)
    with pytest.raises(CursorExpired) as caught:
        core.search(SearchRequest(query="", per_page=4, sort="oldest", cursor=following))
    assert caught.value.generation.startswith("gen-")
    with pytest.raises(UsageError):
        core.search(SearchRequest(query="", page=2, cursor=following))


def test_without_a_writable_index_folder_cursors_last_as_long_as_the_process(tmp_path: Path) -> None:
    cursors = cursor_module.Cursors(tmp_path / "no-such-folder")
    request = SearchRequest(query="blanchiment")
    made = cursors.make(("gen-1", 3), request, (1.5, 7), 10)
    assert cursors.read(made, ("gen-1", 3), request) == cursor_module.Position((1.5, 7), 10)
    with pytest.raises(UsageError):
        cursor_module.Cursors(tmp_path / "no-such-folder").read(made, ("gen-1", 3), request)
    with pytest.raises(CursorExpired):
        cursors.read(made, ("gen-1", 4), request)
