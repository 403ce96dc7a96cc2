"""`archive add` streams: each file read, prepared and written once, and no document held for the batch.

Counted through the write's own bookkeeping (`Write.prepared`, incremented by every prepare) and, for
memory, through weak references to the documents a real `Write` hands out.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

import pytest

from archive import indexer, intake
from archive.errors import RejectedInput
from archive.home import Archive
from archive.models import Document
from archive.outcomes import Report
from archive.preparing import Job
from archive.request import SearchRequest
from archive.settings import Settings
from archive.write import writing

from .conftest import SMALL_ARCHIVE, Watched
from .generated import judgement


class ReadAhead(Watched):
    """A write that takes every job before it hands out the first result, as a pool of workers may."""

    def prepare_all(self, jobs: Iterable[Job]) -> Generator[tuple[str, Document | RejectedInput], None, None]:
        return super().prepare_all(list(jobs))


def add(
    archive: Archive, paths: list[Path], folder: str | None = None, kind: type[Watched] = Watched
) -> tuple[Report, Watched]:
    """`Archive.add`, with the write it used."""
    write = kind(archive)
    files = intake.files_under(paths, folder)
    with writing(write, "add", 0.0):
        report = intake.store_and_index(write, intake.from_paths(files), len(files), None)
    return report, write


def inbox(root: Path, count: int) -> Path:
    """`count` generated judgements in a folder outside the archive."""
    folder = root / "inbox"
    folder.mkdir()
    rng = random.Random(15)
    for i in range(count):
        (folder / f"jugement-{i:03d}.md").write_text(judgement(rng, i, 3), encoding="utf-8")
    return folder


def statuses(report: Report) -> dict[str, str]:
    return {o.path: o.status for o in report.outcomes}


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Archive]:
    """An archive home with nothing in it: no documents, no index."""
    with Archive(Settings(home=tmp_path / "home")) as archive:
        yield archive


def test_a_first_add_prepares_each_file_once_and_holds_no_document_for_the_batch(
    empty: Archive, tmp_path: Path
) -> None:
    report, write = add(empty, [inbox(tmp_path, 24)])
    assert report.count("added") == 24
    assert write.prepared == 24  # the new generation is built from the documents prepared to store them
    assert len(write.refs) == 24 and set(write.alive) == {0}  # each written and released before the next
    assert all(ref() is None for ref in write.refs)
    assert empty.stats().documents == 24
    assert empty.check() == []


def test_an_add_to_a_live_index_prepares_only_its_own_files(archive: Archive, tmp_path: Path) -> None:
    report, write = add(archive, [inbox(tmp_path, 6)], "lot")
    assert report.count("added") == 6 and write.prepared == 6
    assert set(write.alive) == {0}
    assert archive.stats().documents == len(SMALL_ARCHIVE) + 6
    assert archive.check() == []


def test_an_add_that_needs_a_new_generation_prepares_every_document_once(
    archive: Archive, home: Path, tmp_path: Path
) -> None:
    before = indexer.live_generation(home / "index")
    (home / "taxonomy.toml").write_text(
        '[agency.zorglub]\nlabel = "Brigade Zorglub"\naliases = ["brigade zorglub"]\n', encoding="utf-8"
    )
    with Archive(Settings(home=home)) as edited:  # a new process reads the edited taxonomy
        report, write = add(edited, [inbox(tmp_path, 5)], "lot")
        assert report.count("added") == 5
        assert write.prepared == 5 + len(SMALL_ARCHIVE)  # its files, then every stored one: each once
        assert set(write.alive) == {0}
        assert indexer.live_generation(home / "index") != before
        assert edited.stats().documents == len(SMALL_ARCHIVE) + 5
        assert edited.check() == []


@pytest.mark.parametrize("kind", [Watched, ReadAhead], ids=["in-turn", "read-ahead"])
def test_twins_in_one_batch_are_prepared_once(empty: Archive, tmp_path: Path, kind: type[Watched]) -> None:
    """Two files for one name, and the same content under another name: the first is stored, then
    the others are looked at as if added after it, even when every file was read before any was
    prepared (the twins wait, unread, for the first to be settled)."""
    text = "Les douaniers du Havre ont saisi quatre tonnes de cigarettes de contrebande.\n"
    for name in ("a/note.txt", "b/note.txt", "c/copie.txt"):
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    given = [tmp_path / "a/note.txt", tmp_path / "b/note.txt", tmp_path / "c/copie.txt"]
    report, write = add(empty, given, kind=kind)
    assert [(o.path, o.status) for o in report.outcomes] == [
        ("note.txt", "added"),
        ("note.txt", "unchanged"),
        (str(tmp_path / "c/copie.txt"), "duplicate"),
    ]
    assert write.prepared == 1
    assert empty.search(SearchRequest("cigarettes")).documents == 1


def test_an_add_with_nothing_new_writes_no_index(archive: Archive, home: Path, tmp_path: Path) -> None:
    generation = indexer.live_generation(home / "index")
    assert generation is not None
    version = archive.version()
    (tmp_path / "vide.txt").write_bytes(b"")
    (tmp_path / "copie.txt").write_text(SMALL_ARCHIVE["2021/douane-cigarettes.txt"], encoding="utf-8")
    report, write = add(archive, [tmp_path / "vide.txt", tmp_path / "copie.txt"])
    assert sorted(statuses(report).values()) == ["duplicate", "rejected"]
    assert write.prepared == 1  # the empty file; the copy is known by its SHA-256
    assert archive.version() == version and indexer.live_generation(home / "index") == generation
