"""Near-duplicates are shown once (issue 14, §1): "aussi dans N documents", with links to the copies.

On real indexes: a communiqué republished word for word by two papers, a court report copied with one
sentence rewritten, and a blog post sharing only its first half; through `Archive.search`, exports, an
incremental `archive add`, a schema bump, and over HTTP (JSON shape, HTML escaping of the linked titles).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from archive import Archive, SearchRequest, Settings, document_path, indexer, pipeline
from archive.duplicates import OVERLAP, is_copy, keys, overlap, shingles
from archive.schema import SCHEMA_VERSION
from web.app import create_app

from .conftest import HANG_GUARD, write_documents
from .duplicate_texts import COMMUNIQUE, DECISION, HALF, NEAR_COPY

HTML = {"Accept": "text/html"}
ESCAPED_TITLE = 'Le <Quotidien> & "Cie" : réseau démantelé'


def _md(title: str, date: str, text: str) -> str:
    return f"---\ntitle: '{title}'\ndate: {date}\n---\n\n{text}\n"


def documents() -> dict[str, str | bytes]:
    """Three copies of a communiqué; a court report, its near copy and a half copy; an unrelated note."""
    return {
        "ministere/communique.md": _md("Communiqué du ministère de l''Intérieur", "2024-05-02", COMMUNIQUE),
        "presse/quotidien.md": _md(ESCAPED_TITLE.replace("'", "''"), "2024-05-03", COMMUNIQUE),
        "presse/hebdo.md": _md("L''Hebdo du Sud", "2024-05-06", COMMUNIQUE),
        "justice/rennes.md": _md("Arrêt de la cour d''appel de Rennes", "2024-03-14", DECISION),
        "presse/rennes-copie.md": _md("Escroquerie : la condamnation confirmée", "2024-03-15", NEAR_COPY),
        "blog/rennes-analyse.md": _md("Analyse d''une affaire d''escroquerie", "2024-03-20", HALF),
        "notes/havre.md": _md(
            "Note sur le port du Havre",
            "2024-01-10",
            "Les douaniers du Havre ont saisi une tonne de résine de cannabis dans un conteneur de fruits. "
            "Le réseau de trafic de stupéfiants visé opérait depuis deux ans entre l'Espagne et la Normandie, "
            "selon le parquet, qui a ouvert une information judiciaire pour importation en bande organisée.",
        ),
    }


COMMUNIQUES = {"ministere/communique.md", "presse/quotidien.md", "presse/hebdo.md"}
RENNES = {"justice/rennes.md", "presse/rennes-copie.md"}
STUPS = "réseau trafic stupéfiants"
FRAUD = "escroquerie expert-comptable associations"


def settings(home: Path) -> Settings:
    return Settings(home=home, passage_min_words=20, passage_max_words=200)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duplicates")
    (path / "documents").mkdir()
    write_documents(path, documents())
    with Archive(settings(path)) as archive:
        archive.reindex()
    return path


@pytest.fixture
def archive(home: Path) -> Iterator[Archive]:
    with Archive(settings(home)) as a:
        a.searcher.deadline = HANG_GUARD  # a busy machine must not cut a ranking these tests compare
        yield a


# ---------------------------------------------------------------- the measure


def test_a_changed_sentence_stays_a_copy_and_a_shared_half_does_not() -> None:
    original = shingles(DECISION)
    assert overlap(original, shingles(DECISION)) == 1.0
    assert overlap(original, shingles(NEAR_COPY)) >= OVERLAP
    assert overlap(original, shingles(HALF)) < 0.6
    assert overlap(original, shingles(COMMUNIQUE)) < 0.05
    assert set(keys(DECISION)) & set(keys(NEAR_COPY))  # candidates of each other
    assert keys("Article premier. Voir ci-dessous.") == []  # too short to say it is a copy


def test_the_keys_are_the_same_in_every_process() -> None:
    """Keys are computed where a passage is indexed (any process) and again where it is searched."""
    code = "from archive.duplicates import keys; from tests.duplicate_texts import DECISION; print(keys(DECISION))"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parent.parent)},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent.parent,
        ).stdout
        for seed in ("1", "2")
    }
    assert seen == {f"{keys(DECISION)}\n"}


# ---------------------------------------------------------------- the list


def test_exact_copies_in_three_documents_are_shown_once(archive: Archive) -> None:
    results = archive.search(SearchRequest(STUPS))
    listed = [h for h in results.hits if h.document in COMMUNIQUES]
    assert len(listed) == 1
    (hit,) = listed
    assert hit.duplicates is not None and len(hit.duplicates) == 2
    assert {c.document for c in hit.duplicates} == COMMUNIQUES - {hit.document}
    assert all(c.position == 1 for c in hit.duplicates)
    assert "notes/havre.md" in {h.document for h in results.hits}
    others = [h for h in results.hits if h.document not in COMMUNIQUES]
    assert all(h.duplicates == () for h in others)
    # totals and facets count every matching passage, copies too
    plain = archive.search(SearchRequest(STUPS, crowding=False))
    assert results.total == plain.total == len(plain.hits) == 4
    assert results.facets == plain.facets
    # crowding=false: the plain passage ranking, each copy listed and saying where the others are
    copies = [h for h in plain.hits if h.document in COMMUNIQUES]
    assert len(copies) == 3
    assert all({c.document for c in h.duplicates or ()} == COMMUNIQUES - {h.document} for h in copies)


def test_a_near_copy_is_merged_and_a_half_copy_is_not(archive: Archive) -> None:
    results = archive.search(SearchRequest(FRAUD))
    documents_ = [h.document for h in results.hits]
    assert "blog/rennes-analyse.md" in documents_
    listed = [h for h in results.hits if h.document in RENNES]
    assert len(listed) == 1
    assert [c.document for c in listed[0].duplicates or ()] == sorted(RENNES - {listed[0].document})
    half = next(h for h in results.hits if h.document == "blog/rennes-analyse.md")
    assert half.duplicates == ()


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_pages_of_one_hit_make_the_list_of_one_page(archive: Archive, sort: str) -> None:
    """Merging reads only the passages above a page: page after page gives the one list, none twice."""
    whole = archive.search(SearchRequest("stupéfiants OR escroquerie", sort=sort, per_page=100))  # type: ignore[arg-type]
    paged = [
        archive.search(SearchRequest("stupéfiants OR escroquerie", sort=sort, per_page=1, page=n)).hits  # type: ignore[arg-type]
        for n in range(1, len(whole.hits) + 2)
    ]
    assert [h.id for page in paged for h in page] == [h.id for h in whole.hits]
    assert len(whole.hits) == 4  # three communiqués as one, two Rennes reports as one, the half copy, the note


def test_grouped_by_document_each_copy_keeps_its_entry_and_says_where_the_others_are(archive: Archive) -> None:
    results = archive.search(SearchRequest(STUPS, group=True))
    assert {h.document for h in results.hits} == COMMUNIQUES | {"notes/havre.md"}
    assert all(len(h.duplicates or ()) == 2 for h in results.hits if h.document in COMMUNIQUES)


def test_an_export_lists_the_copies_after_the_list(archive: Archive) -> None:
    with archive.export(SearchRequest(STUPS), limit=100) as export:
        hits = export.hits(0, export.rows)
    order = [h.document for h in hits]
    assert len(order) == 4 and set(order) == COMMUNIQUES | {"notes/havre.md"}
    first = archive.search(SearchRequest(STUPS)).hits
    assert order[: len(first)] == [h.document for h in first]  # the list's order, then the copies it left out
    assert set(order[len(first) :]) == COMMUNIQUES - {h.document for h in first}
    assert all(h.duplicates is None for h in hits)  # not looked for in exports


# ---------------------------------------------------------------- the index


def test_a_copy_added_after_its_original_is_found_both_ways(tmp_path: Path) -> None:
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, {"justice/rennes.md": _md("Arrêt", "2024-03-14", DECISION)})
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "copie.md").write_text(_md("Copie", "2024-03-15", NEAR_COPY), encoding="utf-8")
    with Archive(settings(tmp_path)) as archive:
        archive.reindex()
        assert archive.search(SearchRequest(FRAUD)).hits[0].duplicates == ()
        archive.add([incoming / "copie.md"], folder="presse")
        results = archive.search(SearchRequest(FRAUD))
        assert len(results.hits) == 1 and results.total == 2
        plain = archive.search(SearchRequest(FRAUD, crowding=False))
        assert {h.document: [c.document for c in h.duplicates or ()] for h in plain.hits} == {
            "justice/rennes.md": ["presse/copie.md"],
            "presse/copie.md": ["justice/rennes.md"],
        }
        archive.remove("presse/copie.md")
        assert archive.search(SearchRequest(FRAUD)).hits[0].duplicates == ()


def test_an_index_without_band_columns_is_rebuilt(tmp_path: Path) -> None:
    """An index of the schema before (9: no band columns) is refused, then rebuilt by `reindex`."""
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, documents())
    with pytest.MonkeyPatch.context() as patch:
        for module in (indexer, pipeline):
            patch.setattr(module, "SCHEMA_VERSION", 9)
        with Archive(settings(tmp_path)) as old:
            old.reindex()
    with Archive(settings(tmp_path)) as archive:
        assert archive.search(SearchRequest(STUPS)).total == 0
        assert [p.message for p in archive.check() if p.path == "index/"] == [
            f"index must be rebuilt (index schema version 9 differs from {SCHEMA_VERSION}): run `archive reindex`"
        ]
        archive.reindex()
        hits = archive.search(SearchRequest(STUPS)).hits
        assert sum(1 for h in hits if h.document in COMMUNIQUES) == 1


# ---------------------------------------------------------------- over HTTP


def test_the_json_hit_says_where_its_text_also_stands(home: Path) -> None:
    with TestClient(create_app(settings(home))) as client:
        body = client.get("/search", params={"q": STUPS}).json()
        plain = client.get("/search", params={"q": STUPS, "crowding": "false"}).json()
    (hit,) = [h for h in body["hits"] if h["document"] in COMMUNIQUES]
    duplicates = hit["duplicates"]
    assert set(duplicates) == {"count", "documents"} and duplicates["count"] == 2
    assert all(set(c) == {"document", "position", "title", "url"} for c in duplicates["documents"])
    assert {c["document"] for c in duplicates["documents"]} == COMMUNIQUES - {hit["document"]}
    assert all(c["url"] == document_path(c["document"], c["position"]) for c in duplicates["documents"])
    assert ESCAPED_TITLE in {c["title"] for c in duplicates["documents"]} | {hit["title"]}
    assert body["total"] == plain["total"] == 4 and len(plain["hits"]) == 4 and len(body["hits"]) == 2
    assert body["listed"] == 2 and plain["listed"] == 4  # a page reaching the list's end counts it exactly
    note = next(h for h in body["hits"] if h["document"] == "notes/havre.md")
    assert note["duplicates"] == {"count": 0, "documents": []}
    json.dumps(body)


def test_the_page_says_aussi_dans_and_escapes_the_titles(home: Path) -> None:
    with TestClient(create_app(settings(home))) as client:
        page = client.get("/search", params={"q": STUPS, "sort": "oldest"}, headers=HTML).text
    # oldest first: the ministry's communiqué is listed, the two papers' copies are linked under it
    assert "Aussi dans 2 autres documents" in page
    assert "Le &lt;Quotidien&gt; &amp; &#34;Cie&#34; : réseau démantelé" in page
    assert "<Quotidien>" not in page
    assert page.count('class="copies"') == 1
    assert "/documents/presse/quotidien.md?" in page and "/documents/presse/hebdo.md?" in page


def test_a_document_repeating_a_paragraph_is_left_to_crowding(tmp_path: Path) -> None:
    """Copies within one document are not "aussi dans" another: crowding shows two of them, as before."""
    (tmp_path / "documents").mkdir()
    sections = "\n\n".join(f"## Partie {i}\n\n{DECISION}" for i in range(4))
    write_documents(tmp_path, {"rapport.md": _md("Rapport", "2024-01-01", sections)})
    with Archive(settings(tmp_path)) as archive:
        archive.reindex()
        results = archive.search(SearchRequest(FRAUD))
    assert results.total == 4 and len(results.hits) == 2
    assert all(h.duplicates == () and h.more_in_document == 2 for h in results.hits)


def test_is_copy_agrees_with_the_overlap_on_random_shingle_sets() -> None:
    rng = np.random.default_rng(14)
    for _ in range(500):
        pool = rng.choice(1 << 20, size=400, replace=False).astype(np.uint64)
        a = np.sort(rng.choice(pool, size=int(rng.integers(0, 200)), replace=False))
        b = np.sort(rng.choice(pool, size=int(rng.integers(0, 200)), replace=False))
        shared = np.intersect1d(a, b).size
        exact = shared / max(a.size, b.size) if a.size and b.size else 0.0
        assert overlap(a, b) == exact and is_copy(a, b) == (exact >= OVERLAP)
    same = np.arange(50, dtype=np.uint64)
    assert is_copy(same, same) and is_copy(same, same[:46]) and not is_copy(same, same[:44])
