"""`format=atom`: a search's newest passages as an Atom 1.0 feed, read back with a real feed parser.

Validity (feedparser's `bozo` flag, Atom 1.0, the elements RFC 4287 requires), the order (document date
newest first, then indexing time, undated last), the entries (stable ids, links to the permalinks,
excerpts escaped once), the bound, caching like the other formats, and the page's links to the feed.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from starlette.testclient import TestClient

from archive import FEED_ENTRIES, Archive, schema
from web.app import create_app

from .conftest import WEB_DOCUMENTS, web_build_home, web_settings, write_documents

ATOM = "application/atom+xml"


def parse(body: bytes) -> Any:
    """The feed as feedparser reads it, HTML left as sent (not sanitised: what a reader gets)."""
    feed = feedparser.parse(body, sanitize_html=False)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_a_search_as_a_valid_atom_feed(web_client: TestClient) -> None:
    r = web_client.get("/search?q=blanchiment&format=atom")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = parse(r.content)
    assert feed.feed.title == "Archive — recherche « blanchiment »"
    assert feed.feed.id.startswith("urn:uuid:")
    assert feed.feed.language == "fr"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", feed.feed.updated)
    links = {link.rel: link for link in feed.feed.links}
    assert links["self"].href == "/search?q=blanchiment&format=atom"
    assert links["self"].type == ATOM
    assert links["alternate"].href == "/search?q=blanchiment"
    assert feed.feed.author == "Archive"
    hits = web_client.get("/search?q=blanchiment&per_page=100").json()["hits"]
    assert len(feed.entries) == len(hits) == 2
    for entry in feed.entries:
        assert entry.id.startswith("urn:uuid:")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.updated)
        (link,) = entry.links
        assert link.rel == "alternate" and link.href in {h["permalink"] for h in hits}
        assert "blanchiment" in entry.summary.lower()
    # newest document first: 2024 before 2021, whatever the relevance says
    assert [e.link for e in feed.entries] == [
        "/documents/2024/blanchiment-lyon.md?at=0#c0",
        "/documents/2021/blanchiment-escroquerie.md?at=0#c0",
    ]
    first = feed.entries[0]
    assert first.title == "Blanchiment aggravé à Lyon (§ 1)"
    assert first.published == "2024-06-27T00:00:00Z"
    assert "<mark>blanchiment</mark>" in first.summary  # the excerpt's markup, escaped once in the XML
    assert "27 juin 2024" in first.content[0].value


def test_entries_escape_what_documents_hold(web_client: TestClient) -> None:
    r = web_client.get("/search?q=contrebande&format=atom")
    feed = parse(r.content)
    hostile = next(e for e in feed.entries if "hostile" in e.link)
    assert "&lt;script&gt;" in hostile.summary and "<script" not in hostile.summary
    assert "<script" not in r.text and "<img" not in r.text
    assert hostile.title == "Piège <script>alert('titre')</script> (§ 1)"  # a text construct: its text
    assert b"&lt;script&gt;alert('titre')&lt;/script&gt;" in r.content  # the title, escaped once


def test_filters_name_the_feed_and_shape_it(web_client: TestClient) -> None:
    feed = parse(web_client.get("/search?q=&year=2023&type=article&format=atom").content)
    assert feed.feed.title == "Archive — recherche de tous les passages (2023, Article)"
    assert [e.link for e in feed.entries] == [  # one document, one date: in the order of its text
        "/documents/2023/douane-cigarettes.md?at=0#c0",
        "/documents/2023/douane-cigarettes.md?at=87#c87",
    ]


def test_a_feed_that_matches_nothing_yet_is_valid(web_client: TestClient) -> None:
    feed = parse(web_client.get("/search?q=zzyzx&correct=false&format=atom").content)
    assert feed.entries == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", feed.feed.updated)


def test_characters_xml_cannot_hold_become_spaces(tmp_path: Path) -> None:
    documents = {"2024/saut.txt": "Une page\x0cpuis une autre page sur la contrebande \x0b de tabac.\n"}
    home = web_build_home(tmp_path / "home", documents)
    with TestClient(create_app(web_settings(home))) as client:
        r = client.get("/search?q=contrebande&format=atom")
    (entry,) = parse(r.content).entries
    assert "\x0c" not in r.text and "\x0b" not in r.text
    assert "Une page puis une autre page sur la <mark>contrebande</mark>" in entry.content[0].value


def test_the_feed_is_bounded(tmp_path: Path) -> None:
    paragraphs = "\n\n".join(f"Paragraphe {i} sur la saisie de marchandises au port." for i in range(80))
    home = web_build_home(tmp_path / "home", {"2024/long.md": "---\ntitle: Long\n---\n\n" + paragraphs})
    with TestClient(create_app(web_settings(home))) as client:
        crowded = parse(client.get("/search?q=saisie&format=atom").content)
        every = parse(client.get("/search?q=saisie&crowding=false&format=atom").content)
        total = client.get("/search?q=saisie&crowding=false").json()["total"]
    assert len(crowded.entries) == 2  # two passages of a document at most, as in the list
    assert "78 autres passages de ce document correspondent" in crowded.entries[-1].content[0].value
    assert total == 80 and len(every.entries) == FEED_ENTRIES == 50
    # one document, one date: by position
    assert [e.title for e in every.entries[:3]] == ["Long (§ 1)", "Long (§ 2)", "Long (§ 3)"]


def test_cached_like_the_other_formats(web_client: TestClient) -> None:
    atom = web_client.get("/search?q=blanchiment&format=atom")
    json = web_client.get("/search?q=blanchiment", headers={"Accept": "application/json"})
    assert atom.headers["etag"] and atom.headers["etag"] != json.headers["etag"]
    assert atom.headers["cache-control"] == "public, max-age=60, must-revalidate"
    again = web_client.get(
        "/search?q=blanchiment&format=atom", headers={"If-None-Match": atom.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


def test_the_results_page_links_its_feed(web_client: TestClient) -> None:
    page = web_client.get("/search?q=blanchiment&year=2024", headers={"Accept": "text/html"}).text
    feed = "/search?q=blanchiment&amp;year=2024&amp;format=atom"
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Suivre cette recherche (flux Atom)" '
        f'href="{feed}">' in page
    )
    assert f'<a href="{feed}" type="application/atom+xml">Suivre cette recherche</a>' in page
    # the feed of a page 2 is the search's, not the page's
    page2 = web_client.get("/search?q=&page=2&per_page=2", headers={"Accept": "text/html"}).text
    assert 'href="/search?q=&amp;format=atom"' in page2


class _Clock:
    """`schema.dt` with a settable `datetime.now`: the indexing time records keep."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
        clock = self

        class Frozen(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
                return cls.fromtimestamp(clock.now.timestamp(), tz)

        self.module = types.SimpleNamespace(datetime=Frozen, UTC=dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Clock]:
    c = _Clock()
    monkeypatch.setattr(schema, "dt", c.module)
    yield c


def _note(title: str, date: str | None, words: str) -> str:
    head = f"---\ntitle: {title}\n" + (f"date: {date}\n" if date else "") + "---\n\n"
    return head + f"Une note sur la douane et {words}, rédigée pour le service.\n"


def test_by_document_date_then_indexing_time(tmp_path: Path, clock: _Clock) -> None:
    home = tmp_path / "home"
    early = {
        "a/ancienne.md": _note("Ancienne", "2024-01-01", "les tabacs"),
        "a/jour-premiere.md": _note("Jour, première indexée", "2024-05-01", "les alcools"),
        "a/sans-date-tot.md": _note("Sans date, tôt", None, "les fraudes"),
    }
    web_build_home(home, early)
    clock.now += dt.timedelta(hours=2)
    write_documents(
        home,
        {
            "a/jour-seconde.md": _note("Jour, seconde indexée", "2024-05-01", "les armes"),
            "a/sans-date-tard.md": _note("Sans date, tard", None, "les métaux"),
        },
    )
    with Archive(web_settings(home)) as archive:
        archive.reindex()
    with TestClient(create_app(web_settings(home))) as client:
        feed = parse(client.get("/search?q=douane&format=atom").content)
    assert [e.title.split(" (")[0] for e in feed.entries] == [
        "Jour, seconde indexée",  # 2024-05-01, indexed later
        "Jour, première indexée",  # 2024-05-01
        "Ancienne",  # 2024-01-01
        "Sans date, tard",  # undated last, latest indexed first
        "Sans date, tôt",
    ]
    updated = {e.title.split(" (")[0]: e.updated for e in feed.entries}
    assert updated["Jour, seconde indexée"] == "2026-01-01T11:00:00Z"
    assert updated["Ancienne"] == "2026-01-01T09:00:00Z"
    assert feed.feed.updated == "2026-01-01T11:00:00Z"  # its latest entry's
    assert "published" not in feed.entries[-1]


def test_entry_ids_survive_a_reindex(tmp_path: Path) -> None:
    home = web_build_home(tmp_path / "home", dict(WEB_DOCUMENTS))
    with TestClient(create_app(web_settings(home))) as client:
        total = client.get("/search?q=").json()["total"]
        before = [e.id for e in parse(client.get("/search?q=&format=atom").content).entries]
        with Archive(web_settings(home)) as archive:
            archive.reindex(full=True)
        after = [e.id for e in parse(client.get("/search?q=&format=atom").content).entries]
    assert len(set(before)) == len(before) == total == 9  # one id per passage
    assert sorted(before) == sorted(after)
