"""The extraction cache (archive/extracted.py): a rebuild reads no file again, and nothing found in
index/extracted/ is trusted.

Reader calls are counted at `isolation.run`, the one door to the reader processes, with the real
readers behind it; and a rebuild is shown to need no reader at all by killing every reader process as it
starts (the `Killer` of test_isolation.py), as the kernel's out-of-memory killer would.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from archive import extract, extracted, isolation
from archive.documents import sha256_bytes
from archive.errors import ReaderFailed, RejectedInput, SettingsError
from archive.extracted import ExtractedCache, Key
from archive.home import Archive
from archive.models import Block, Extracted
from archive.request import SearchRequest
from archive.settings import Settings

from .conftest import FIXTURES, SMALL_ARCHIVE, archive_env, wait_until
from .test_isolation import Killer

TAXONOMY = '[agency.brigade-zorglub]\nlabel = "Brigade Zorglub"\naliases = ["réseau"]\n'
BIG = 10 * 1024 * 1024


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files handed to a reader process from now on (the real reader reads them), in this
    process: the tests that count them prepare with one worker (`ingest_workers=1`)."""
    seen: list[str] = []
    real = isolation.run

    def counted(reader: isolation.Reader, name: str, data: bytes, modules: tuple[str, ...] = ()) -> Extracted:
        seen.append(name)
        return real(reader, name, data, modules)

    monkeypatch.setattr(isolation, "run", counted)
    return seen


@pytest.fixture
def mixed(home: Path) -> Path:
    """The small archive plus an HTML page and a PDF with a text layer: every format."""
    shutil.copy(FIXTURES / "page.html", home / "documents" / "page.html")
    shutil.copy(FIXTURES / "texte.pdf", home / "documents" / "texte.pdf")
    return home


def _passages(archive: Archive) -> dict[str, list[str]]:
    hits = archive.search(SearchRequest(query="", per_page=100)).hits
    return {h.id: [h.text, *h.agency] for h in sorted(hits, key=lambda h: h.id)}


def _entries(home: Path) -> list[Path]:
    return sorted(p for p in (home / "index" / "extracted").rglob("*") if p.is_file())


def _entry(cache: ExtractedCache, data: bytes, fmt: str) -> Path:
    return cache.path(Key(sha256_bytes(data), fmt, cache.version(fmt)))


# ---------------------------------------------------------------- a rebuild reads no file again


def test_a_rebuild_after_a_taxonomy_edit_starts_no_reader(mixed: Path, calls: list[str]) -> None:
    with Archive(Settings(home=mixed, ingest_workers=1)) as archive:
        archive.reindex()
        before = _passages(archive)
    assert sorted(calls) == sorted([*SMALL_ARCHIVE, "page.html", "texte.pdf"])
    assert len(_entries(mixed)) == len(calls)
    calls.clear()
    (mixed / "taxonomy.toml").write_text(TAXONOMY, encoding="utf-8")
    with Archive(
        Settings(home=mixed, ingest_workers=1)
    ) as archive:  # a new process reads the edited taxonomy
        report = archive.reindex()
        after = _passages(archive)
    assert calls == []
    assert report.count("unchanged") == 0 and not report.rejected  # every document prepared again
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}  # same text
    assert any("brigade-zorglub" in v for v in after.values())  # the new taxonomy applied


def test_a_rebuild_succeeds_from_the_cache_while_every_reader_is_killed(mixed: Path) -> None:
    """The proof without counting: no reader process lives long enough to read a file, yet the rebuild
    after a taxonomy edit completes; with the cache off, the same rebuild fails (`reader_failed`)."""
    with Archive(Settings(home=mixed, ingest_workers=1)) as archive:
        archive.reindex()
        before = _passages(archive)
    (mixed / "taxonomy.toml").write_text(TAXONOMY, encoding="utf-8")
    uncached = Archive(Settings(home=mixed, ingest_workers=1, extraction_cache=False))
    with uncached, Killer(os.getpid()), pytest.raises(ReaderFailed):
        uncached.reindex()
    with Archive(Settings(home=mixed, ingest_workers=1)) as archive, Killer(os.getpid()):
        report = archive.reindex(full=True)
        assert not report.rejected, report
        assert _passages(archive).keys() == before.keys()


def test_the_cache_off_reads_every_file_and_writes_nothing(mixed: Path, calls: list[str]) -> None:
    with Archive(
        Settings.from_env(
            {"ARCHIVE_HOME": str(mixed), "ARCHIVE_EXTRACTION_CACHE": "off", "ARCHIVE_INGEST_WORKERS": "1"}
        )
    ) as archive:
        archive.reindex()
        archive.reindex(full=True)
    assert len(calls) == 2 * (len(SMALL_ARCHIVE) + 2)
    assert not (mixed / "index" / "extracted").exists()


@pytest.mark.parametrize(
    ("raw", "value"), [("on", True), ("1", True), ("OFF", False), ("0", False), ("", True)]
)
def test_the_setting_reads_on_and_off(raw: str, value: bool) -> None:
    assert Settings.from_env({"ARCHIVE_EXTRACTION_CACHE": raw}).extraction_cache is value


def test_a_bad_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="ARCHIVE_EXTRACTION_CACHE must be on or off"):
        Settings.from_env({"ARCHIVE_EXTRACTION_CACHE": "peut-être"})


# ---------------------------------------------------------------- what is kept, and what is not


def test_a_cached_reading_is_the_reading(tmp_path: Path, calls: list[str]) -> None:
    """Front matter of every YAML kind (dates, a datetime, lists, a mapping, numbers) comes back as read."""
    note = (
        "---\ntitle: Note\ndate: 2024-03-01\nvu: 2024-03-01T10:00:00+01:00\ntags: [a, 1, 2.5, true, null]\n"
        "auteur: {nom: X, rang: 2}\n---\n\n# Titre\n\nLes enquêteurs de la gendarmerie ont saisi des biens.\n"
    ).encode()
    cache = ExtractedCache(tmp_path / "extracted")
    files = {"note.md": note, "page.html": (FIXTURES / "page.html").read_bytes()}
    files |= {
        "texte.pdf": (FIXTURES / "texte.pdf").read_bytes(),
        "a.txt": "Un texte.\n\nÉtat « cher ».".encode(),
    }
    for name, data in files.items():
        first = extract.extract(name, data, BIG, cache)
        assert extract.extract(name, data, BIG, cache) == first == extract.extract(name, data, BIG)
    assert calls == [name for name in files for _ in "12"]  # the first reading, and the uncached one


def test_metadata_that_would_not_come_back_the_same_is_not_kept(tmp_path: Path, calls: list[str]) -> None:
    note = b"---\ntitle: Note\nmots: !!set {a, b}\n---\n\nLes enqueteurs ont saisi des biens.\n"
    cache = ExtractedCache(tmp_path / "extracted")
    for _ in range(2):
        assert extract.extract("note.md", note, BIG, cache).metadata["mots"] == {"a", "b"}
    assert len(calls) == 2 and not (tmp_path / "extracted").exists()


def test_a_refusal_of_the_bytes_is_kept_and_said_under_the_current_name(
    tmp_path: Path, calls: list[str]
) -> None:
    scan = (FIXTURES / "scan.pdf").read_bytes()
    cache = ExtractedCache(tmp_path / "extracted")
    for name in ("scan.pdf", "2025/copie.pdf"):
        with pytest.raises(RejectedInput) as refused:
            extract.extract(name, scan, BIG, cache)
        assert refused.value.reason_code == "no_text_layer" and refused.value.path == name
    assert calls == ["scan.pdf"]


def test_a_refusal_of_the_budget_is_never_kept(tmp_path: Path, calls: list[str]) -> None:
    """`too_complex` may come of a busy machine: the file is tried again each time."""
    page = b"<html><body><p " + b"a" * 300_000 + b"></p></body></html>"
    cache = ExtractedCache(tmp_path / "extracted")
    for _ in range(2):
        with pytest.raises(RejectedInput) as refused:
            extract.extract("page.html", page, BIG, cache)
        assert refused.value.reason_code == "too_complex"
    assert len(calls) == 2 and not (tmp_path / "extracted").exists()


def test_the_size_limit_applies_to_a_file_already_cached(tmp_path: Path) -> None:
    data = (FIXTURES / "page.html").read_bytes()
    cache = ExtractedCache(tmp_path / "extracted")
    extract.extract("page.html", data, BIG, cache)
    with pytest.raises(RejectedInput) as refused:
        extract.extract("page.html", data, 100, cache)
    assert refused.value.reason_code == "too_large"


# ---------------------------------------------------------------- versions


def test_another_reader_version_misses_and_replaces_the_entry(tmp_path: Path, calls: list[str]) -> None:
    data = (FIXTURES / "page.html").read_bytes()
    root = tmp_path / "extracted"
    old, new = ExtractedCache(root, version=lambda f: "trafilatura 1"), ExtractedCache(root)
    extract.extract("page.html", data, BIG, old)
    extract.extract("page.html", data, BIG, new)  # an upgraded library
    extract.extract("page.html", data, BIG, new)
    assert len(calls) == 2
    extract.extract("page.html", data, BIG, old)  # the entry now is the new version's
    assert len(calls) == 3 and len(list(root.rglob("*.html"))) == 1


def test_the_version_names_ours_and_every_reader_library() -> None:
    html = extracted.reader_version("html")
    assert html.startswith(f"archive-extract {extract.VERSION}; python ")
    assert "trafilatura 2." in html and "lxml " in html and "pypdf" not in html
    assert "pypdf " in extracted.reader_version("pdf")


def test_every_module_a_reader_imports_is_counted_in_its_version() -> None:
    from importlib.metadata import packages_distributions

    def canonical(name: str) -> str:
        return name.lower().replace("_", "-").replace(".", "-")

    owners = packages_distributions()
    for fmt, modules in extract._LIBRARIES.items():
        counted = {canonical(d) for d in extracted.READER_DISTRIBUTIONS[fmt]}
        for module in modules:
            assert {canonical(d) for d in owners[module.split(".")[0]]} & counted, (fmt, module)


# ---------------------------------------------------------------- nothing found there is trusted


class _Planted:
    """Unpickled, it would create a folder: proof that no entry is ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def _valid(payload: bytes) -> bytes:
    """`payload` deflated behind the right magic and checksum: corrupt only in what it says."""
    import hashlib

    deflated = zlib.compress(payload)
    return b"archive-extracted/1\n" + hashlib.sha256(deflated).digest() + deflated


DAMAGES: dict[str, Callable[[bytes, Path, Key], bytes]] = {
    "truncated": lambda raw, _, __: raw[: len(raw) // 2],
    "one-byte-flipped": lambda raw, _, __: raw[:-5] + bytes([raw[-5] ^ 1]) + raw[-4:],
    "empty": lambda raw, _, __: b"",
    "garbage": lambda raw, _, __: os.urandom(500),
    "a-pickle": lambda raw, tmp, _: pickle.dumps(_Planted(tmp / "pwned")),
    "a-pickle-behind-a-valid-checksum": lambda raw, tmp, _: _valid(pickle.dumps(_Planted(tmp / "pwned"))),
    "msgpack-of-another-shape": lambda raw, _, __: _valid(msgspec.msgpack.encode({"blocks": ["x"]})),
    "an-unknown-metadata-tag": lambda raw, _, key: _valid(
        msgspec.msgpack.encode(
            [key.sha, key.format, key.version, [["x", False]], {"t": {"eval": "1"}}, None, None]
        )
    ),
    "a-refusal-that-is-never-kept": lambda raw, _, key: _valid(
        msgspec.msgpack.encode([key.sha, key.format, key.version, [], {}, None, ["too_complex", "trop long"]])
    ),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_entry_is_ignored_removed_and_replaced(
    tmp_path: Path, calls: list[str], damage: str
) -> None:
    data = (FIXTURES / "page.html").read_bytes()
    cache = ExtractedCache(tmp_path / "extracted")
    good = extract.extract("page.html", data, BIG, cache)
    key = Key(sha256_bytes(data), "html", cache.version("html"))
    path = cache.path(key)
    path.write_bytes(DAMAGES[damage](path.read_bytes(), tmp_path, key))
    assert extract.extract("page.html", data, BIG, cache) == good
    assert len(calls) == 2 and not (tmp_path / "pwned").exists()
    assert cache.get(key) == good  # replaced by a valid entry
    assert cache.survey().corrupt == ()


def test_the_entry_of_another_file_is_not_taken_for_this_one(tmp_path: Path, calls: list[str]) -> None:
    one, other = b"Premier texte, assez long pour un passage.", b"Second texte, sans rapport avec le premier."
    cache = ExtractedCache(tmp_path / "extracted")
    extract.extract("a.txt", one, BIG, cache)
    target = _entry(cache, other, "txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_entry(cache, one, "txt"), target)
    assert extract.extract("b.txt", other, BIG, cache).text == other.decode()
    assert len(calls) == 2


def test_an_inflate_bomb_is_refused_before_it_inflates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"Un texte assez long pour faire un passage a lui seul."
    cache = ExtractedCache(tmp_path / "extracted")
    extract.extract("a.txt", data, BIG, cache)
    monkeypatch.setattr(extracted, "MAX_ENTRY_BYTES", 64)  # the entry inflates to more than this
    assert cache.get(Key(sha256_bytes(data), "txt", cache.version("txt"))) is None
    assert not _entry(cache, data, "txt").exists()


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder"])
def test_a_link_a_fifo_or_a_folder_in_place_of_an_entry_is_never_followed(tmp_path: Path, kind: str) -> None:
    data = b"Un texte assez long pour faire un passage a lui seul."
    cache = ExtractedCache(tmp_path / "extracted")
    path = _entry(cache, data, "txt")
    path.parent.mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_bytes(b"ne pas lire")
    if kind == "symlink":
        path.symlink_to(secret)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    assert extract.extract("a.txt", data, BIG, cache).text == data.decode()  # never blocks on the FIFO
    assert secret.read_bytes() == b"ne pas lire"
    if kind == "folder":  # cannot be replaced: reported, and every read goes to the reader
        assert [why for _, why in cache.survey().corrupt] == ["not a cache entry"]
    else:  # replaced by an entry
        assert (
            path.is_file()
            and not path.is_symlink()
            and cache.survey() == extracted.Survey(1, path.stat().st_size, ())
        )


def test_unwritable_storage_costs_only_the_caching(tmp_path: Path, calls: list[str]) -> None:
    root = tmp_path / "extracted"
    root.write_text("a file where the folder should be")
    cache = ExtractedCache(root)
    data = b"Un texte assez long pour faire un passage a lui seul."
    for _ in range(2):
        assert extract.extract("a.txt", data, BIG, cache).text == data.decode()
    assert len(calls) == 2


# ---------------------------------------------------------------- several writers at once


def _write_many(root: str, writer: int, start: Any, rounds: int) -> None:
    """Write the same key `rounds` times, blocks naming this writer (a process of the ingest pool)."""
    cache = ExtractedCache(Path(root), version=lambda f: "v")
    key = Key("a" * 64, "txt", "v")
    start.wait()
    for i in range(rounds):
        blocks = tuple(Block(f"écrivain {writer}, tour {i}, bloc {b} " * 50) for b in range(20))
        cache.put(key, Extracted(blocks, {"writer": writer}, "txt", "utf-8"))


def test_concurrent_writers_of_one_key_never_leave_a_torn_entry(tmp_path: Path) -> None:
    root = tmp_path / "extracted"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_write_many, args=(str(root), w, start, 150)) for w in range(3)]
    for w in writers:
        w.start()
    cache = ExtractedCache(root, version=lambda f: "v")
    key = Key("a" * 64, "txt", "v")
    start.set()
    wait_until(lambda: cache.path(key).exists(), "a first entry")
    seen = 0
    while any(w.is_alive() for w in writers) or seen == 0:
        found = cache.get(key)  # a torn or mixed entry would be None (and removed) or mixed writers
        assert isinstance(found, Extracted), "a reader saw a partial entry"
        writer = found.metadata["writer"]
        assert all(b.text.startswith(f"écrivain {writer},") for b in found.blocks)
        seen += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    assert [p.name for p in root.rglob("*")] == ["aa", cache.path(key).name]  # no temporary file left


# ---------------------------------------------------------------- bounded


def test_prune_keeps_live_entries_and_removes_the_rest(tmp_path: Path) -> None:
    cache = ExtractedCache(tmp_path / "extracted")
    texts = {f"{i}.txt": f"Texte numéro {i}, assez long pour un passage.".encode() for i in range(4)}
    for name, data in texts.items():
        extract.extract(name, data, BIG, cache)
    live = [sha256_bytes(texts["0.txt"]), sha256_bytes(texts["1.txt"])]
    shard = cache.path(Key(live[0], "txt", "")).parent
    (shard / ".abc.123.part").write_bytes(b"a killed writer's")
    (shard / "notes.txt").write_bytes(b"not an entry")
    (cache.root / "stray").write_bytes(b"")
    assert cache.prune(live) == 5
    assert sorted(p.name for p in cache.root.rglob("*") if p.is_file()) == sorted(f"{s}.txt" for s in live)


def test_a_reindex_prunes_the_entries_of_removed_documents(mixed: Path) -> None:
    with Archive(Settings(home=mixed)) as archive:
        archive.reindex()
        gone = sha256_bytes((mixed / "documents" / "page.html").read_bytes())
        assert any(p.name.startswith(gone) for p in _entries(mixed))
        archive.remove("page.html")
        archive.reindex()
    assert len(_entries(mixed)) == len(SMALL_ARCHIVE) + 1
    assert not any(p.name.startswith(gone) for p in _entries(mixed))


def test_entries_are_sharded_by_the_first_two_digits(tmp_path: Path) -> None:
    cache = ExtractedCache(tmp_path / "extracted")
    key = Key("ab" + "0" * 62, "pdf", "v")
    assert cache.path(key) == tmp_path / "extracted" / "ab" / f"{key.sha}.pdf"
    for bad in (
        Key("../" + "0" * 61, "pdf", "v"),
        Key("AB" + "0" * 62, "pdf", "v"),
        Key("a" * 64, "p/f", "v"),
    ):
        with pytest.raises(ValueError):
            cache.path(bad)


def test_the_cache_travels_to_another_process() -> None:
    """The ingest pool and a Dask worker get the pipeline, and its cache, by pickling."""
    cache = pickle.loads(pickle.dumps(ExtractedCache(Path("/x"), version=extracted.reader_version)))
    assert cache.root == Path("/x") and cache.version("txt") == extracted.reader_version("txt")


# ---------------------------------------------------------------- `archive check`


@pytest.fixture
def checked(mixed: Path) -> Iterator[Archive]:
    with Archive(Settings(home=mixed)) as archive:
        archive.reindex()
        yield archive


def test_check_counts_the_cache_and_finds_nothing_wrong(checked: Archive) -> None:
    assert checked.check() == []
    survey = checked.extraction_cache()
    assert survey.entries == len(SMALL_ARCHIVE) + 2 and survey.bytes > 1000


def test_check_warns_of_a_corrupt_entry_and_does_not_fail(checked: Archive, mixed: Path) -> None:
    damaged = _entries(mixed)[0]
    damaged.write_bytes(damaged.read_bytes()[:-10])
    (damaged.parent / "intrus").write_bytes(b"")
    problems = checked.check()
    assert {p.severity for p in problems} == {"warning"}
    shown = {p.path: p.message for p in problems}
    assert "checksum mismatch" in shown[damaged.relative_to(mixed).as_posix()]
    assert "not a cache entry in the" in shown[(damaged.parent / "intrus").relative_to(mixed).as_posix()]
    assert damaged.exists()  # check writes nothing: the next read replaces it
    checked.reindex(full=True)
    assert checked.check() == []


def test_check_names_the_first_corrupt_entries_then_counts_the_others(checked: Archive, mixed: Path) -> None:
    from archive.checks import MAX_CACHE_WARNINGS

    shard = mixed / "index" / "extracted" / "00"
    shard.mkdir(exist_ok=True)
    for i in range(MAX_CACHE_WARNINGS + 3):
        (shard / f"00{i:062x}.txt").write_bytes(b"x")
    problems = checked.check()
    assert len(problems) == MAX_CACHE_WARNINGS + 1
    assert problems[-1].message.startswith("3 more corrupt entries")


def test_the_cli_reports_the_cache_and_exits_0_on_a_corrupt_entry(checked: Archive, mixed: Path) -> None:
    root = Path(extracted.__file__).parent.parent
    damaged = _entries(mixed)[0]
    damaged.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "archive", "check"],
        env=archive_env(mixed, PYTHONPATH=str(root)),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"warning +index/extracted/\S+: corrupt extraction cache entry \(empty: .*", lines[0])
    entries = len(SMALL_ARCHIVE) + 2
    assert re.fullmatch(rf"extraction cache: {entries} entries, \d+\.\d MB in index/extracted/", lines[1]), (
        lines
    )
    assert lines[2] == "0 error(s), 1 warning(s)"
