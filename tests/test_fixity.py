"""The hashes a reindex remembers (`fixity.CACHE`): a file is read again whenever a system call could
have changed it, and `archive check` always reads every byte.

What is read is measured for real, by the bytes this process read (`rchar` in /proc/self/io).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import fixity
from archive.errors import FixityError
from archive.home import Archive
from archive.settings import Settings

pytestmark = pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc")

FILES = 12
SIZE = 64 * 1024  # every file: the bytes a reindex reads when it hashes them all


def read_so_far() -> int:
    """Bytes this process has read through system calls."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def reading(archive: Archive) -> tuple[fixity.Diff, int]:
    """A reindex's diff of documents/ (with the cache), and the bytes it read."""
    before = read_so_far()
    found = fixity.diff(archive.store, archive.settings.index_dir / fixity.CACHE)
    return found, read_so_far() - before


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    """An indexed home of FILES text files of SIZE bytes each."""
    folder = tmp_path / "documents" / "lot"
    folder.mkdir(parents=True)
    for i in range(FILES):
        line = f"Les douaniers ont saisi {i} tonnes de cigarettes au port du Havre. "
        (folder / f"note-{i:02d}.txt").write_text((line * SIZE)[:SIZE], encoding="utf-8")
    with Archive(Settings(home=tmp_path)) as archive:
        archive.reindex()
        yield archive


@pytest.fixture
def aged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as older than the timestamp granularity however new they are (here they were all
    written a moment ago; the precondition each test checks is that the times it relies on moved)."""
    monkeypatch.setattr(fixity, "RACY_SECONDS", -3600.0)


def test_files_written_just_before_they_were_hashed_are_read_again(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written within RACY_SECONDS of being hashed, a file could change again within the same timestamp
    tick, its times unmoved: its hash is not remembered, and every byte is read again next time."""
    assert fixity.RACY_SECONDS >= 2.0  # the default covers the coarsest granularity in use (FAT)
    monkeypatch.setattr(fixity, "RACY_SECONDS", 3600.0)  # every file here was written within the hour
    for _ in range(2):
        _, read = reading(archive)
        assert read >= FILES * SIZE


def test_an_unchanged_file_is_not_read_again(archive: Archive, aged: None) -> None:
    first, read = reading(archive)
    assert read >= FILES * SIZE
    again, read = reading(archive)
    assert read < SIZE  # the manifest and the cache, no document
    assert again.shas == first.shas and not again.all_altered()


def test_an_original_altered_with_its_size_and_time_restored_is_still_refused(
    archive: Archive, home_path: Path, aged: None
) -> None:
    reading(archive)  # remembered
    path = home_path / "documents/lot/note-03.txt"
    before = path.stat()
    data = path.read_bytes()
    path.write_bytes(data.replace(b"cigarettes", b"cigarillos", 1))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the modification time put back
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns  # what gives it away: nothing can set it back
    with pytest.raises(FixityError) as refused:
        archive.reindex()
    assert refused.value.altered == ["lot/note-03.txt"]
    assert [p.path for p in archive.check() if "altered" in p.message] == ["lot/note-03.txt"]


def test_a_remembered_hash_that_disagrees_with_the_manifest_is_not_believed(
    archive: Archive, aged: None
) -> None:
    reading(archive)
    cache = archive.settings.index_dir / fixity.CACHE
    lines = cache.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "0" * 64 + lines[1][64:]  # a corrupted entry, its file's stamp intact
    cache.write_text("".join(lines), encoding="utf-8")
    found, read = reading(archive)
    assert found.all_altered() == [] and SIZE <= read < 2 * SIZE  # that one file read again
    assert archive.reindex().count("unchanged") == FILES
    assert "0" * 64 not in cache.read_text(encoding="utf-8")


def test_check_reads_every_byte_whatever_a_reindex_remembers(archive: Archive, aged: None) -> None:
    """Bit rot changes no time: only reading finds it, and `archive check` always reads."""
    reading(archive)
    before = read_so_far()
    assert archive.check() == []
    assert read_so_far() - before >= FILES * SIZE


@pytest.fixture
def home_path(archive: Archive) -> Path:
    return archive.settings.home
