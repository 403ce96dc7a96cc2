"""Permalinks (« Citer ») survive a reindex with other passage sizes, where `#p<position>` does not.

A permalink names a passage by the offset of its first character in the document's clean text
(`/documents/<id>?at=<offset>#c<offset>`); the document page resolves it to the passage holding that
character, whatever the passage sizes are now. Built with sizes A, reindexed with sizes B (both ways):
every permalink taken before still lands on the passage that holds the cited text.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from archive import Archive, Settings
from web.app import create_app

from .conftest import web_settings, write_documents

SMALL = {"passage_min_words": 5, "passage_max_words": 30}
LARGE = {"passage_min_words": 60, "passage_max_words": 200}

_SENTENCES = [
    "Le service des douanes a saisi une cargaison de cigarettes dans le port du Havre.",
    "Les enquêteurs ont remonté la filière jusqu'à un entrepôt de la banlieue lyonnaise.",
    "Trois personnes ont été placées en garde à vue pour contrebande en bande organisée.",
    "Le parquet a ouvert une information judiciaire et saisi plusieurs comptes bancaires.",
    "La juridiction interrégionale spécialisée a été saisie des faits de blanchiment.",
]


def _guide() -> str:
    """A long Markdown guide: sections of paragraphs of several sentences each."""
    parts = ["---\ntitle: Guide des saisies\ndate: 2024-02-12\nsource: Ministère fictif\n---\n"]
    for section in range(1, 5):
        parts.append(f"## Partie {section}\n")
        for paragraph in range(4):
            turn = section * 4 + paragraph
            parts.append(" ".join(_SENTENCES[(turn + i) % len(_SENTENCES)] for i in range(3)) + "\n")
    return "\n".join(parts)


DOCUMENTS = {"2024/guide.md": _guide(), "2023/note.txt": "\n\n".join(_SENTENCES) + "\n"}


def _home(tmp_path: Path, sizes: dict[str, int]) -> Path:
    home = tmp_path / "home"
    write_documents(home, dict(DOCUMENTS))
    with Archive(Settings.from_env({"ARCHIVE_RATE_LIMIT": "off"}, home=home, **sizes)) as archive:
        archive.reindex(full=True)
    return home


def _passages(client: TestClient, document: str) -> list[dict[str, object]]:
    body = client.get(f"/documents/{document}", headers={"Accept": "application/json"}).json()
    passages: list[dict[str, object]] = body["passages"]
    assert body["pages"] == 1
    return passages


def _offset(permalink: object) -> int:
    assert isinstance(permalink, str)
    parts = urlsplit(permalink)
    (at,) = parse_qs(parts.query)["at"]
    assert parts.fragment == f"c{at}"
    return int(at)


@pytest.mark.parametrize(
    ("before", "after"), [(SMALL, LARGE), (LARGE, SMALL)], ids=["small-large", "large-small"]
)
def test_a_permalink_survives_a_reindex_with_other_passage_sizes(
    tmp_path: Path, before: dict[str, int], after: dict[str, int]
) -> None:
    home = _home(tmp_path, before)
    with TestClient(create_app(web_settings(home))) as client:
        cited = {d: _passages(client, d) for d in DOCUMENTS}
        hit = client.get("/search?q=cigarettes Havre&crowding=false&per_page=100").json()["hits"][0]
    assert hit["permalink"] in {p["permalink"] for p in cited[hit["document"]]}

    with Archive(Settings.from_env({"ARCHIVE_RATE_LIMIT": "off"}, home=home, **after)) as archive:
        archive.reindex(full=True)
    moved = 0
    with TestClient(create_app(web_settings(home))) as client:
        for document, passages in cited.items():
            now = _passages(client, document)
            assert len(now) != len(passages)  # the passages really were cut otherwise
            for old in passages:
                at = _offset(old["permalink"])
                landing = client.get(
                    str(old["permalink"]).partition("#")[0], headers={"Accept": "application/json"}
                )
                view = landing.json()
                (holding,) = [p for p in view["passages"] if p["position"] == view["cited"]]
                start = _offset(holding["permalink"])
                text, old_text = str(holding["text"]), str(old["text"])
                assert start <= at < start + len(text)  # the passage holding the cited character
                shared = min(len(old_text), len(text) - (at - start))
                assert text[at - start :][:shared] == old_text[:shared]  # ... and the cited text from there
                moved += holding["position"] != old["position"]
                page = client.get(
                    str(old["permalink"]).partition("#")[0], headers={"Accept": "text/html"}
                ).text
                anchor = re.search(rf'<li id="p(\d+)"[^>]*>\s*<span id="c{at}" class="cited">', page)
                assert anchor is not None and int(anchor.group(1)) == holding["position"]
    assert moved  # `#p<position>` would have landed elsewhere


def test_offsets_between_passages_and_past_the_end(tmp_path: Path) -> None:
    home = _home(tmp_path, SMALL)
    with TestClient(create_app(web_settings(home))) as client:
        passages = _passages(client, "2023/note.txt")
        starts = [_offset(p["permalink"]) for p in passages]
        ends = [s + len(str(p["text"])) for s, p in zip(starts, passages, strict=True)]

        def cited(at: int) -> object:
            return client.get(f"/documents/2023/note.txt?at={at}&format=json").json()["cited"]

        assert ends[0] < starts[1]  # a blank line between the first two
        assert cited(ends[0]) == 2  # in the blank: the passage that follows
        assert cited(starts[1] - 1) == 2
        assert cited(ends[0] - 1) == 1
        assert cited(ends[-1] + 10_000) == len(passages)  # past the end: the last one
        assert client.get("/documents/2023/note.txt?format=json").json()["cited"] is None
        # `at` wins over `p` and `page`
        assert cited(0) == 1
        assert client.get(f"/documents/2023/note.txt?at={starts[2]}&p=1&format=json").json()["cited"] == 3


@pytest.mark.parametrize("at", ["-1", "douze", "1.5"])
def test_a_bad_offset_is_refused_clearly(tmp_path: Path, at: str) -> None:
    home = _home(tmp_path, SMALL)
    with TestClient(create_app(web_settings(home))) as client:
        r = client.get(f"/documents/2023/note.txt?at={at}", headers={"Accept": "application/json"})
        assert r.status_code == 400
        assert r.json()["parameter"] == "at"
        page = client.get(f"/documents/2023/note.txt?at={at}", headers={"Accept": "text/html"})
        assert page.status_code == 400
        assert "Le lien permanent désigne un passage par sa position dans le texte" in page.text
