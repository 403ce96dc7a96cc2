"""Copy links found when the index is written (copylinks.py) are what the query-time rule finds.

On real indexes: every passage's saved copies are compared with `duplicates.find` (the rule a search
applies when a commit has no links) and with the links found afresh, after a full build and after each
kind of update (a copy added, a document replaced, one removed, enough small commits for Whoosh to merge
segments), with a paragraph repeated in more documents than LOOKED_AT, its passages either paired in
arrays (GROUP raised above their number) or ranked once per band values; a search of a commit whose
links are stale or damaged finds the copies itself, and the next update saves them again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index

from archive import Archive, SearchRequest, Settings, copylinks, indexer
from archive.codec.reader import segment_ids
from archive.duplicates import LOOKED_AT, Shingles, bands, find, shingles
from archive.postings import Arrays

from .conftest import write_documents
from .duplicate_texts import COMMUNIQUE, DECISION, HALF, NEAR_COPY

REPEATED = LOOKED_AT + 6  # documents sharing one paragraph: more than GROUP and than LOOKED_AT

BOILERPLATE = (
    "Le présent communiqué est diffusé par le service de presse du parquet conformément aux dispositions "
    "de l'article 11 du code de procédure pénale, afin d'éviter la propagation d'informations parcellaires "
    "ou inexactes et de mettre fin à un trouble à l'ordre public, sans porter atteinte à la présomption "
    "d'innocence des personnes mises en cause ni au secret de l'enquête en cours."
)


def _md(title: str, text: str) -> str:
    return f"---\ntitle: '{title}'\ndate: 2024-05-02\n---\n\n{text}\n"


def _documents() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "ministere/communique.md": _md("Communiqué", COMMUNIQUE),
        "presse/quotidien.md": _md("Le Quotidien", COMMUNIQUE),
        "justice/rennes.md": _md("Arrêt de Rennes", DECISION),
        "presse/rennes-copie.md": _md("Copie", NEAR_COPY),
        "blog/analyse.md": _md("Analyse", HALF),
    }
    for i in range(REPEATED):
        files[f"parquet/communique-{i:02d}.md"] = _md(f"Communiqué {i}", f"## Affaire {i}\n\n{BOILERPLATE}")
    return files


def settings(home: Path) -> Settings:
    return Settings(home=home, passage_min_words=20, passage_max_words=200)


@pytest.fixture(params=[copylinks.GROUP, 2 * REPEATED], ids=["ranked-once", "paired"])
def home(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An archive whose repeated paragraph's passages are ranked once per band values, or paired in arrays
    like the others (GROUP above their number)."""
    monkeypatch.setattr(copylinks, "GROUP", request.param)
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, _documents())
    with Archive(settings(tmp_path)) as archive:
        archive.reindex()
    yield tmp_path


def _checked(home: Path) -> copylinks.Links:
    """The links saved for the live commit, after checking them against the rule for every passage and
    against links found afresh."""
    generation = indexer.live_generation(home / "index")
    assert generation is not None
    ix = whoosh_index.open_dir(str(generation))
    reader = ix.reader()
    try:
        arrays = Arrays.bare(reader)
        saved = copylinks.load(generation, reader.generation())
        assert saved is not None, "no links for the live commit"
        near = bands(arrays)
        memo: dict[int, Shingles] = {}

        def shingled(docnum: int) -> Shingles:
            if docnum not in memo:
                memo[docnum] = shingles(arrays.stored(docnum)["data"]["text"])
            return memo[docnum]

        for docnum in arrays.live_passages.tolist():
            assert saved.of(docnum) == find(arrays, near, docnum, shingled), docnum
        fresh = copylinks.found(arrays, reader.generation(), segment_ids(reader))
        for name in ("docnums", "starts", "targets", "capped"):
            assert np.array_equal(getattr(saved, name), getattr(fresh, name)), name
        return saved
    finally:
        reader.close()
        ix.close()


def _documents_of(home: Path, links: copylinks.Links) -> set[frozenset[str]]:
    """Each listed passage's document with its copies' documents."""
    names = links.documents()
    out = set()
    for i in range(links.docnums.size):
        targets = links.target_doc[links.starts[i] : links.starts[i + 1]].tolist()
        out.add(frozenset([names[links.doc[i]], *(names[t] for t in targets)]))
    return out


def _together(groups: set[frozenset[str]], *documents: str) -> bool:
    return any(set(documents) <= group for group in groups)


def test_a_build_saves_what_the_rule_finds(home: Path) -> None:
    links = _checked(home)
    groups = _documents_of(home, links)
    assert _together(groups, "ministere/communique.md", "presse/quotidien.md")
    assert _together(groups, "justice/rennes.md", "presse/rennes-copie.md")
    assert not any("blog/analyse.md" in g for g in groups)
    # the repeated paragraph: each of its passages had more candidates than were checked
    assert int(links.capped.sum()) == REPEATED
    assert all(len(g) == LOOKED_AT + 1 for g in groups if any(n.startswith("parquet/") for n in g))


def test_each_update_saves_what_the_rule_finds(
    home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    incremental: list[bool] = []
    real = copylinks.write

    def spied(generation: Path, previous: copylinks.Links | None = None, changed: Any = ()) -> None:
        incremental.append(previous is not None)  # found again from the previous commit's links
        real(generation, previous, changed)

    monkeypatch.setattr(copylinks, "write", spied)
    incoming = tmp_path_factory.mktemp("incoming")
    (incoming / "hebdo-été.md").write_text(_md("Hebdo", COMMUNIQUE), encoding="utf-8")
    (incoming / "reprise.md").write_text(_md("Reprise", f"## Reprise\n\n{BOILERPLATE}"), encoding="utf-8")
    with Archive(settings(home)) as archive:
        archive.add([incoming / "hebdo-été.md", incoming / "reprise.md"], folder="presse")
        links = _checked(home)
        assert _together(_documents_of(home, links), "ministere/communique.md", "presse/hebdo-été.md")

        # the near copy rewritten into another text: its link to the court report goes both ways
        write_documents(home, {"presse/rennes-copie.md": _md("Copie", COMMUNIQUE)})
        archive.reindex(accept_changes=True)
        groups = _documents_of(home, _checked(home))
        assert not any("justice/rennes.md" in g for g in groups)
        assert _together(groups, "presse/rennes-copie.md", "presse/hebdo-été.md")

        # one commit per removal and per addition of a small document: unchecked candidates of the repeated
        # paragraph become checked ones, and Whoosh merges its small segments (docnums renumbered)
        merged = False
        for i in range(8):
            before = _checked(home).segments()
            archive.remove(f"parquet/communique-{i:02d}.md")
            (incoming / f"note-{i}.md").write_text(
                _md(f"Note {i}", f"Note {i} : {NEAR_COPY}"), encoding="utf-8"
            )
            archive.add([incoming / f"note-{i}.md"], folder="notes")
            after = _checked(home).segments()
            merged |= after[: len(before)] != before
        assert merged, "no update merged segments: the renumbering is not tested"
        archive.remove("ministere/communique.md")
        assert not any("ministere/communique.md" in g for g in _documents_of(home, _checked(home)))
    assert incremental == [True] * 19


@pytest.mark.parametrize("damage", ["empty", "truncated", "another rule", "another commit"])
def test_a_search_of_a_commit_with_damaged_or_stale_links_finds_the_copies_itself(
    home: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generation = indexer.live_generation(home / "index")
    assert generation is not None
    path = generation / copylinks.FILE
    saved = copylinks.load(generation, whoosh_index.open_dir(str(generation)).latest_generation())
    assert saved is not None
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:  # links saying there are no copies at all, for another rule or another commit
        none = np.zeros(0, dtype=np.int64)
        nothing = dataclasses.replace(
            saved, docnums=none, starts=np.zeros(1, np.int64), targets=none, capped=np.zeros(0, np.bool_)
        )
        if damage == "another rule":
            monkeypatch.setattr(copylinks, "RULE", "shingle=4")
            copylinks.save(generation, nothing)
            monkeypatch.undo()
        else:
            copylinks.save(generation, dataclasses.replace(nothing, commit=saved.commit - 1))
    with Archive(settings(home)) as archive:
        hits = archive.search(SearchRequest("trafic stupéfiants Marseille", crowding=False)).hits
        assert {h.document: [c.document for c in h.duplicates or ()] for h in hits} == {
            "ministere/communique.md": ["presse/quotidien.md"],
            "presse/quotidien.md": ["ministere/communique.md"],
        }
        archive.remove("blog/analyse.md")  # the next update finds every copy again
    _checked(home)


def test_merged_segments_renumber_the_candidates_of_a_repeated_paragraph(tmp_path: Path) -> None:
    """The repeated paragraph added a few documents at a time, then unrelated notes, each commit a segment
    of its own, until Whoosh merges segments (in another order): which LOOKED_AT of the paragraph's
    candidates are checked follows their docnums, though no new passage shares a band value with them."""
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, {"justice/rennes.md": _md("Arrêt de Rennes", DECISION)})
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    with Archive(settings(tmp_path)) as archive:
        archive.reindex()
        for batch, size in enumerate([20, 9, 12, 8, 6]):
            paths = []
            for i in range(size):
                path = incoming / f"communique-{batch}-{i:02d}.md"
                text = f"## Affaire {batch}-{i}\n\n{BOILERPLATE}"
                path.write_text(_md(f"Communiqué {batch}-{i}", text), encoding="utf-8")
                paths.append(path)
            archive.add(paths, folder=f"lot-{batch}")
        before = _checked(tmp_path).segments()
        for i in range(8):
            note = " ".join(f"terme{i}x{j}" for j in range(30))
            (incoming / f"note-{i}.md").write_text(_md(f"Note {i}", f"Note {i}. {note}"), encoding="utf-8")
            archive.add([incoming / f"note-{i}.md"], folder="notes")
            after = _checked(tmp_path).segments()
            if after[: len(before)] != before:
                return  # merged, and the saved links are still the rule's
            before = after
    pytest.fail("no commit merged segments")
