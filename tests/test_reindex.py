"""Incremental and full reindex through `Archive`, the write lock, and writers killed half-way.

The kill tests run the real `archive` command in a subprocess over a home of ~150 generated French
documents, SIGKILL it at several points, then check that the previous index still answers, that fixity
holds, and that the next reindex completes and cleans up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import pytest

from archive import indexer, lexicon
from archive.documents import Store
from archive.errors import ArchiveBusy, FixityError
from archive.home import Archive
from archive.lock import WriteLock
from archive.outcomes import Report
from archive.reindex import reindex
from archive.request import SearchRequest
from archive.settings import Settings
from archive.write import writing

from .conftest import FIXTURES, HANG_GUARD, SMALL_ARCHIVE, Watched, holds_data, wait_until, write_documents


def statuses(report: Report) -> dict[str, str]:
    return {o.path: o.status for o in report.outcomes}


def total(archive: Archive, query: str, **filters: tuple[str, ...]) -> int:
    return archive.search(SearchRequest(query, filters=dict(filters), per_page=100)).total


def errors(archive: Archive) -> list[str]:
    return [f"{p.path}: {p.message}" for p in archive.check() if p.severity == "error"]


def leftovers(home: Path) -> list[str]:
    return sorted(p.relative_to(home).as_posix() for p in home.rglob("*.tmp"))


@pytest.fixture
def archive(home: Path) -> Iterator[Archive]:
    """The small archive of conftest, not yet indexed (these tests watch the first reindex too)."""
    a = Archive(Settings(home=home))
    yield a
    a.close()


# ---------------------------------------------------------------- incremental


def test_first_reindex_adds_everything_and_writes_the_manifest(archive: Archive, home: Path) -> None:
    report = archive.reindex()
    assert statuses(report) == dict.fromkeys(SMALL_ARCHIVE, "added")
    assert all(o.passages >= 1 for o in report.outcomes)
    assert sorted(archive.store.read_manifest()) == sorted(SMALL_ARCHIVE)
    assert archive.check() == []
    assert total(archive, "cigarettes") >= 1


def test_second_reindex_reports_everything_unchanged_and_writes_nothing(archive: Archive, home: Path) -> None:
    archive.reindex()
    generation = indexer.live_generation(home / "index")
    assert generation is not None
    before = sorted((p.name, p.stat().st_mtime_ns) for p in generation.iterdir() if p.name != "meta.json")
    report = archive.reindex()
    assert statuses(report) == dict.fromkeys(SMALL_ARCHIVE, "unchanged")
    assert indexer.live_generation(home / "index") == generation
    assert (
        sorted((p.name, p.stat().st_mtime_ns) for p in generation.iterdir() if p.name != "meta.json")
        == before
    )


def test_edited_file_is_updated_and_search_follows(archive: Archive, home: Path) -> None:
    archive.reindex()
    assert total(archive, "cigarettes") >= 1
    (home / "documents/2021/douane-cigarettes.txt").write_text(
        "Saisie record au Havre\n\nLes douaniers ont découvert trois tonnes de cannabis dans un conteneur "
        "frigorifique en provenance du Maroc.\n",
        encoding="utf-8",
    )
    with pytest.raises(FixityError) as refused:  # an edited original is a fixity failure until accepted
        archive.reindex()
    assert refused.value.altered == ["2021/douane-cigarettes.txt"]
    assert total(archive, "cigarettes") >= 1  # nothing was indexed over it
    report = archive.reindex(accept_changes=True)
    assert statuses(report)["2021/douane-cigarettes.txt"] == "updated"
    assert [s for p, s in statuses(report).items() if p != "2021/douane-cigarettes.txt"] == [
        "unchanged",
        "unchanged",
    ]
    assert total(archive, "cannabis") >= 1
    assert total(archive, "cigarettes") == 0
    assert archive.check() == []


def test_deleted_file_is_removed_from_index_and_manifest(archive: Archive, home: Path) -> None:
    archive.reindex()
    assert total(archive, "proxénétisme") >= 1
    (home / "documents/2024/proxenetisme.html").unlink()
    with pytest.raises(FixityError) as refused:
        archive.reindex()
    assert refused.value.missing == ["2024/proxenetisme.html"]
    report = archive.reindex(accept_changes=True)
    assert statuses(report)["2024/proxenetisme.html"] == "removed"
    assert total(archive, "proxénétisme") == 0
    assert "2024/proxenetisme.html" not in archive.store.read_manifest()
    assert archive.check() == []
    assert statuses(archive.reindex()) == dict.fromkeys(
        ["2023/eurojust-blanchiment.md", "2021/douane-cigarettes.txt"], "unchanged"
    )


def test_sidecar_edit_updates_the_document(archive: Archive, home: Path) -> None:
    sidecar = home / "documents/2021/douane-cigarettes.txt.meta.toml"
    sidecar.write_text('title = "Premier titre"\n', encoding="utf-8")
    archive.reindex()
    assert archive.search(SearchRequest("cigarettes")).hits[0].title == "Premier titre"
    sidecar.write_text('title = "Second titre"\nagency = ["europol"]\n', encoding="utf-8")
    report = archive.reindex()
    assert statuses(report)["2021/douane-cigarettes.txt"] == "updated"
    assert statuses(report)["2023/eurojust-blanchiment.md"] == "unchanged"
    hit = archive.search(SearchRequest("cigarettes")).hits[0]
    assert hit.title == "Second titre"
    assert "europol" in hit.agency
    assert total(archive, "cigarettes", agency=("europol",)) >= 1
    sidecar.unlink()
    assert statuses(archive.reindex())["2021/douane-cigarettes.txt"] == "updated"
    assert archive.search(SearchRequest("cigarettes")).hits[0].title == "Saisie record de cigarettes au Havre"


def test_duplicate_content_is_indexed_once(archive: Archive, home: Path) -> None:
    write_documents(home, {"copie/douane-bis.txt": SMALL_ARCHIVE["2021/douane-cigarettes.txt"]})
    report = archive.reindex()
    outcome = {o.path: o for o in report.outcomes}
    indexed, dup = sorted(
        ["2021/douane-cigarettes.txt", "copie/douane-bis.txt"], key=lambda p: outcome[p].status != "added"
    )
    assert outcome[indexed].status == "added"
    assert outcome[dup].status == "duplicate"
    assert outcome[dup].duplicate_of == indexed
    results = archive.search(SearchRequest("cigarettes contrebande"))
    assert results.documents == 1
    assert {h.document for h in results.hits} == {indexed}
    problems = archive.check()
    assert [p.severity for p in problems] == ["warning"]
    assert problems[0].path == dup
    assert "duplicate" in statuses(archive.reindex()).values()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("vide.txt", b"", "empty"),
        ("scan.pdf", (FIXTURES / "scan.pdf").read_bytes(), "no_text_layer"),
        ("chiffre.pdf", (FIXTURES / "chiffre.pdf").read_bytes(), "encrypted"),
        ("rapport.docx", b"PK\x03\x04 word", "unsupported_format"),
        ("binaire.txt", bytes(range(256)) * 4, "binary"),
    ],
)
def test_rejected_file_dropped_in_documents_stays_untouched_and_is_a_check_warning(
    archive: Archive, home: Path, name: str, content: bytes, code: str
) -> None:
    path = home / "documents" / "depot" / name
    write_documents(home, {f"depot/{name}": content})
    stat = path.stat()
    report = archive.reindex()
    rejected = [o for o in report.outcomes if o.status == "rejected"]
    assert [(o.path, o.reason.code if o.reason else None) for o in rejected] == [(f"depot/{name}", code)]
    assert report.count("added") == len(SMALL_ARCHIVE)  # the others carry on
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    problems = archive.check()
    assert [(p.severity, p.path) for p in problems] == [("warning", f"depot/{name}")]
    assert code in problems[0].message
    assert statuses(archive.reindex())[f"depot/{name}"] == "rejected"  # every time, still untouched
    assert path.read_bytes() == content


def test_too_large_file_in_documents_is_rejected_by_reindex(home: Path) -> None:
    write_documents(home, {"gros.txt": "Le prévenu a été condamné pour escroquerie. " * 30000})
    archive = Archive(Settings(home=home, max_file_bytes=1024 * 1024))
    try:
        report = archive.reindex()
        outcome = {o.path: o for o in report.outcomes}["gros.txt"]
        assert outcome.status == "rejected"
        assert outcome.reason is not None and outcome.reason.code == "too_large"
        assert [p.severity for p in archive.check()] == ["warning"]
    finally:
        archive.close()


def test_reindex_removes_temporary_files_left_by_a_killed_writer(archive: Archive, home: Path) -> None:
    # What a writer killed inside Store.put / a manifest write / a build leaves behind (see the kill tests).
    archive.reindex()
    left = {
        "documents/2024/.nouveau.md.4242.tmp": "moitié d'un fichier",
        "documents/.manifest-sha256.txt.4242.tmp": "",
        "index/.CURRENT.4242.tmp": "gen-x",
        "index/gen-20240101T000000000000.tmp/MAIN.tmp": "",
    }
    for relative, text in left.items():
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(text, encoding="utf-8")
    warned = {p.path for p in archive.check() if p.severity == "warning"}
    assert {"index/.CURRENT.4242.tmp", "index/gen-20240101T000000000000.tmp"} <= warned
    assert statuses(archive.reindex()) == dict.fromkeys(SMALL_ARCHIVE, "unchanged")
    assert leftovers(home) == []
    assert archive.check() == []


# ---------------------------------------------------------------- full rebuild


def test_full_reindex_builds_a_new_generation_and_swaps_it_in(archive: Archive, home: Path) -> None:
    index = home / "index"
    archive.reindex()
    first = indexer.live_generation(index)
    assert first is not None
    assert total(archive, "cigarettes") >= 1
    (home / "documents/2021/douane-cigarettes.txt").write_text(
        "Saisie au Havre\n\nLes douaniers ont saisi des montres de contrefaçon dans un conteneur.\n", "utf-8"
    )
    reader = Archive(Settings(home=home))  # a reader opened before the rebuild, like a running web server
    try:
        assert total(reader, "cigarettes") >= 1
        seen: list[tuple[int, int, int]] = []

        def progress(done: int, count: int) -> None:
            if done < count:  # before the swap, readers still see the old generation
                seen.append((done, total(reader, "cigarettes"), total(reader, "contrefaçon")))
                assert indexer.live_generation(index) == first

        report = archive.reindex(full=True, progress=progress, accept_changes=True)
        assert seen and all(old >= 1 and new == 0 for _, old, new in seen)
        second = indexer.live_generation(index)
        assert second is not None and second != first
        assert (index / "CURRENT").read_text(encoding="utf-8").strip() == second.name
        assert json.loads((second / "meta.json").read_text(encoding="utf-8"))["schema_version"] >= 1
        assert first.is_dir()  # kept one generation longer for readers that still have it open
        assert sorted(statuses(report)) == sorted(SMALL_ARCHIVE)
        assert total(reader, "cigarettes") == 0  # the same reader follows the swap
        assert total(reader, "contrefaçon") >= 1
        assert leftovers(home) == []
        assert reader.check() == []
    finally:
        reader.close()


def test_old_generations_are_pruned_to_the_previous_one(archive: Archive, home: Path) -> None:
    for _ in range(4):
        archive.reindex(full=True)
    generations = sorted(p.name for p in (home / "index").glob("gen-*"))
    assert len(generations) == 2
    live = indexer.live_generation(home / "index")
    assert live is not None and live.name == generations[-1]


# ---------------------------------------------------------------- one writer at a time


def test_a_second_writer_gets_archive_busy(archive: Archive, home: Path) -> None:
    archive.reindex()
    source = home / "nouveau.txt"
    source.write_text("Les gendarmes ont interpellé un braqueur.\n", encoding="utf-8")
    with WriteLock(home / "index", "reindex --full (test)"):
        with pytest.raises(ArchiveBusy) as info:
            archive.reindex()
        assert "reindex already running" in str(info.value)
        assert "reindex --full (test)" in info.value.holder
        with pytest.raises(ArchiveBusy):
            archive.reindex(full=True)
        with pytest.raises(ArchiveBusy):
            archive.add([source])
        with pytest.raises(ArchiveBusy):
            archive.remove("2021/douane-cigarettes.txt")
        started = time.monotonic()
        with pytest.raises(ArchiveBusy):
            archive.reindex(wait=0.3)
        assert time.monotonic() - started >= 0.25
        assert total(archive, "cigarettes") >= 1  # readers never wait for the writer
        cli = subprocess.run(
            [sys.executable, "-m", "archive", "reindex"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1
        assert "already running" in cli.stderr
    assert not (home / "documents/nouveau.txt").exists()
    assert (home / "documents/2021/douane-cigarettes.txt").exists()
    assert statuses(archive.reindex()) == dict.fromkeys(SMALL_ARCHIVE, "unchanged")  # released: writing works


# ---------------------------------------------------------------- taxonomy and schema changes

TAXONOMY = """\
[agency.brigade-zorglub]
label = "Brigade Zorglub"
aliases = ["brigade zorglub", "BZG"]

[agency.douane]
aliases = ["gabelous"]
"""


def test_editing_the_home_taxonomy_rebuilds_on_plain_reindex(home: Path) -> None:
    write_documents(
        home,
        {
            "2024/zorglub.txt": "Les agents de la brigade Zorglub ont arrêté un passeur.\n\n"
            "Les gabelous du port de Sète ont saisi des cigarettes.\n"
        },
    )
    archive = Archive(Settings(home=home))
    try:
        archive.reindex()
        agencies = {f.value for f in archive.search(SearchRequest("")).facets["agency"]}
        assert "brigade-zorglub" not in agencies
        assert total(archive, "passeur", agency=("douane",)) == 0
        first = indexer.live_generation(home / "index")
    finally:
        archive.close()
    (home / "taxonomy.toml").write_text(TAXONOMY, encoding="utf-8")
    archive = Archive(Settings(home=home))  # a new process reads the edited taxonomy
    try:
        report = archive.reindex()
        assert "unchanged" not in statuses(report).values()  # every document was re-tagged
        assert indexer.live_generation(home / "index") != first  # a full rebuild, swapped in
        facets = {f.value: f for f in archive.search(SearchRequest("")).facets["agency"]}
        assert facets["brigade-zorglub"].label == "Brigade Zorglub"
        assert facets["brigade-zorglub"].count >= 1
        assert total(archive, "passeur", agency=("brigade-zorglub",)) >= 1
        assert total(archive, "passeur", agency=("douane",)) >= 1  # the new alias of an existing entry
        assert archive.check() == []
        assert set(statuses(archive.reindex()).values()) == {"unchanged"}
    finally:
        archive.close()


def test_schema_version_mismatch_is_never_misread_and_reindex_rebuilds(archive: Archive, home: Path) -> None:
    archive.reindex()
    assert total(archive, "cigarettes") >= 1
    generation = indexer.live_generation(home / "index")
    assert generation is not None
    meta_path = generation / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["schema_version"] = meta["schema_version"] + 1000
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    fresh = Archive(Settings(home=home))
    try:
        results = fresh.search(SearchRequest("cigarettes"))
        assert results.total == 0 and results.hits == ()
        assert any(p.severity == "error" and p.path == "index/" for p in fresh.check())
        report = fresh.reindex()
        assert sorted(statuses(report)) == sorted(SMALL_ARCHIVE)
        rebuilt = indexer.live_generation(home / "index")
        assert rebuilt is not None and rebuilt != generation
        assert total(fresh, "cigarettes") >= 1
        assert fresh.check() == []
    finally:
        fresh.close()


def test_an_index_built_with_another_lexicon_is_rebuilt_by_the_next_reindex(
    archive: Archive, home: Path
) -> None:
    """The keys come from the French lexicon (simplemma's dictionary, derived): an index records its
    digest, and one built with another (another simplemma, another derivation) is rebuilt whole."""
    archive.reindex()
    generation = indexer.live_generation(home / "index")
    assert generation is not None
    meta_path = generation / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["lexicon"] == lexicon.digest()
    assert indexer.needs_full_rebuild(home / "index", archive.taxonomy.fingerprint) is None
    meta["lexicon"] = "0" * 64
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    fresh = Archive(Settings(home=home))
    try:
        assert indexer.needs_full_rebuild(home / "index", fresh.taxonomy.fingerprint) == (
            "the French lexicon changed"
        )
        assert any(p.severity == "error" and "lexicon" in p.message for p in fresh.check())
        report = fresh.reindex()
        assert "unchanged" not in statuses(report).values()  # every document prepared (and tagged) again
        rebuilt = indexer.live_generation(home / "index")
        assert rebuilt is not None and rebuilt != generation
        assert json.loads((rebuilt / "meta.json").read_text(encoding="utf-8"))["lexicon"] == lexicon.digest()
        assert total(fresh, "cigarettes") >= 1
        assert fresh.check() == []
    finally:
        fresh.close()


# ---------------------------------------------------------------- killed writers

AGENCIES = [
    "la gendarmerie",
    "la police judiciaire",
    "les douanes",
    "l'OFAST",
    "Europol",
    "Eurojust",
    "Tracfin",
    "le parquet de Paris",
    "la JIRS de Marseille",
    "l'OCRTEH",
    "l'OCLCTIC",
    "le PNF",
]
OFFENCES = [
    "blanchiment aggravé",
    "trafic de stupéfiants",
    "escroquerie en bande organisée",
    "proxénétisme",
    "corruption",
    "fraude fiscale",
    "contrefaçon",
    "abus de confiance",
    "traite des êtres humains",
    "association de malfaiteurs",
]
CITIES = [
    "Lyon",
    "Marseille",
    "Lille",
    "Bordeaux",
    "Nantes",
    "Strasbourg",
    "Toulouse",
    "Rennes",
    "Nice",
    "Dijon",
]
VERBS = [
    "ont interpellé",
    "ont placé en garde à vue",
    "ont mis en examen",
    "ont entendu",
    "ont perquisitionné chez",
]
THINGS = [
    "des véhicules de luxe",
    "des comptes bancaires",
    "des lingots d'or",
    "des cryptoactifs",
    "des appartements",
    "des montres",
    "des armes de poing",
]
N_DOCS = 150
MARKED = 40  # documents 0..39 carry the word "quetzal"; the kill tests modify only the others


def generated(i: int, extra: str = "") -> str:
    """A made-up French press article, different for every i, deterministic."""
    r = random.Random(i)
    paragraphs = []
    for _ in range(r.randint(4, 8)):
        paragraphs.append(
            " ".join(
                f"Les enquêteurs de {r.choice(AGENCIES)} {r.choice(VERBS)} {r.randint(2, 40)} personnes à "
                f"{r.choice(CITIES)} dans une affaire de {r.choice(OFFENCES)} et ont saisi {r.choice(THINGS)} "
                f"pour {r.randint(1, 900)} {r.choice(['mille', 'millions d'])} euros."
                for _ in range(r.randint(3, 6))
            )
        )
    if i < MARKED:
        paragraphs.append("Le navire quetzal, affrété par le réseau, a été immobilisé au port.")
    if extra:
        paragraphs.append(extra)
    title = f"Affaire {i} : {r.choice(OFFENCES)} à {r.choice(CITIES)}"
    date = f"{2015 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    return f'---\ntitle: "{title}"\ndate: {date}\n---\n\n' + "\n\n".join(paragraphs) + "\n"


@pytest.fixture(scope="module")
def big_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home of N_DOCS generated documents, indexed once; each kill test works on a copy."""
    home = tmp_path_factory.mktemp("big")
    write_documents(home, {f"{2015 + i % 10}/article-{i:03d}.md": generated(i) for i in range(N_DOCS)})
    archive = Archive(Settings(home=home))
    try:
        archive.reindex()
    finally:
        archive.close()
    return home


@pytest.fixture
def big_home(big_home_template: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(big_home_template, home, symlinks=True)
    (home / "index" / "write.lock").unlink(missing_ok=True)
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env["ARCHIVE_HOME"] = str(home)
    return env


def _baseline(home: Path) -> dict[str, int]:
    archive = Archive(Settings(home=home))
    try:
        return {q: total(archive, q) for q in ("quetzal", "blanchiment", "cryptoactifs Lyon", "")}
    finally:
        archive.close()


KillPoint = Callable[[Path, int], bool]
"""Whether the writer (its home, its pid) has reached the point where the test kills it."""


def _lock_taken(home: Path, pid: int) -> bool:
    """The write lock taken (its record names the writer), before anything is written."""
    try:
        return f"(pid {pid})" in (home / "index" / "write.lock").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False


def _found(pattern: str) -> KillPoint:
    def event(home: Path, pid: int) -> bool:
        return next(iter(home.glob(pattern)), None) is not None

    event.__doc__ = f"{pattern} created."
    return event


def _holding(pattern: str) -> KillPoint:
    def event(home: Path, pid: int) -> bool:
        return holds_data(home, pattern)

    event.__doc__ = f"A file {pattern} holding data."
    return event


def _kill_during(command: list[str], home: Path, when: KillPoint) -> None:
    """Run `archive COMMAND`, SIGKILL it as soon as it reaches `when`, and make sure it was still working."""
    err = home.parent / "writer.stderr"
    with open(err, "wb") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archive", *command],
            env=_env(home),
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        seen = wait_until(lambda: when(home, proc.pid), f"the writer's kill point: {when.__doc__}", proc)
        assert seen and proc.poll() is None, (
            f"the writer was done (exit {proc.returncode}) before its kill point ({when.__doc__}): "
            f"give it more work\n{err.read_text('utf-8', 'replace')}"
        )
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=HANG_GUARD)
    assert proc.returncode == -signal.SIGKILL


def _assert_recovers(
    home: Path, baseline: dict[str, int], allowed_errors: Collection[str] = frozenset()
) -> Archive:
    """After a kill: the old index answers as before, fixity holds, and a reindex completes and cleans up."""
    archive = Archive(Settings(home=home))
    assert indexer.live_generation(home / "index") is not None
    assert total(archive, "quetzal") == baseline["quetzal"]
    problems = archive.check()
    unexpected = [p for p in problems if p.severity == "error" and p.path not in allowed_errors]
    assert unexpected == []
    # only leftovers of the killed writer may be reported: in index/, or hidden temporary files
    assert all(
        p.path.startswith("index/") or p.path in allowed_errors or Path(p.path).name.startswith(".")
        for p in problems
    ), problems
    report = archive.reindex(accept_changes=bool(allowed_errors))
    assert not report.rejected
    assert leftovers(home) == []
    assert archive.check() == []
    assert _baseline(home)["quetzal"] == baseline["quetzal"]
    return archive


# Kill points are steps every writer goes through, watched as they happen: the kill follows at once, with
# most of the work still ahead (each step comes 0.18 s or more before the writer's end here), whatever the
# machine's speed or load. Whoosh keeps the documents it is given in MAIN.tmp/ until it commits them.
LOCK_TAKEN = pytest.param(_lock_taken, id="lock-taken")
KILL_POINTS = [
    LOCK_TAKEN,
    pytest.param(_found("index/gen-*.tmp"), id="new-generation-started"),
    pytest.param(_holding("index/gen-*.tmp/MAIN.tmp/*"), id="new-generation-being-written"),
]


@pytest.mark.parametrize("when", KILL_POINTS)
def test_killed_full_reindex_leaves_the_previous_index_searchable(big_home: Path, when: KillPoint) -> None:
    baseline = _baseline(big_home)
    assert baseline["quetzal"] >= MARKED and baseline[""] > N_DOCS
    _kill_during(["reindex", "--full"], big_home, when)
    assert indexer.live_generation(big_home / "index") is not None
    after = _baseline(big_home)
    assert after == baseline  # the same answers, whether or not the swap happened before the kill
    archive = _assert_recovers(big_home, baseline)
    try:
        assert statuses(archive.reindex()) == {}.fromkeys(archive.store.scan(), "unchanged")
    finally:
        archive.close()


CHANGED = range(MARKED, MARKED + 60)


@pytest.mark.parametrize(
    "when",
    [LOCK_TAKEN, pytest.param(_holding("index/gen-*/MAIN.tmp/*"), id="whoosh-writing")],
)
def test_killed_incremental_reindex_is_all_or_nothing(big_home: Path, when: KillPoint) -> None:
    baseline = _baseline(big_home)
    modified = set()
    for i in CHANGED:
        path = f"{2015 + i % 10}/article-{i:03d}.md"
        (big_home / "documents" / path).write_text(
            generated(i, "Le parquet évoque aussi un pangolin saisi à la frontière."), encoding="utf-8"
        )
        modified.add(path)
    _kill_during(["reindex", "--accept-changes"], big_home, when)
    archive = Archive(Settings(home=big_home))
    try:
        assert total(archive, "quetzal") == baseline["quetzal"]
        documents = archive.search(SearchRequest("pangolin")).documents
        assert documents in (0, len(CHANGED))  # one Whoosh commit: never a half-applied update
    finally:
        archive.close()
    archive = _assert_recovers(big_home, baseline, allowed_errors=modified)
    try:
        assert archive.search(SearchRequest("pangolin")).documents == len(CHANGED)
    finally:
        archive.close()


@pytest.mark.parametrize(
    "when",
    [LOCK_TAKEN, pytest.param(_holding("documents/2025/inbox/*.md"), id="storing")],
)
def test_killed_add_leaves_the_archive_consistent(big_home: Path, tmp_path: Path, when: KillPoint) -> None:
    baseline = _baseline(big_home)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(N_DOCS, N_DOCS + 60):
        (inbox / f"nouveau-{i}.md").write_text(
            generated(i, "Un ocelot a été retrouvé dans la cale."), "utf-8"
        )
    store = Store(big_home / "documents")
    originals = {p: (store.root / p).read_bytes() for p in store.scan()}
    _kill_during(["add", str(inbox), "--to", "2025"], big_home, when)
    for path, data in originals.items():
        assert (big_home / "documents" / path).read_bytes() == data
    added = {p for p in store.scan() if p not in originals}
    for path in added:  # whatever was stored is complete, never half a file
        assert (big_home / "documents" / path).read_bytes() == (inbox / path.rsplit("/", 1)[1]).read_bytes()
    archive = _assert_recovers(big_home, baseline, allowed_errors=added)
    try:
        assert archive.search(SearchRequest("ocelot")).documents == len(added)
    finally:
        archive.close()


# ---------------------------------------------------------------- work done once, memory flat


def test_a_reindex_prepares_what_changed_once_and_holds_no_document(archive: Archive, home: Path) -> None:
    def run(full: bool = False, accept_changes: bool = False) -> Watched:
        write = Watched(archive)
        with writing(write, "reindex", 0.0):
            reindex(write, full, None, accept_changes)
        return write

    assert run().prepared == len(SMALL_ARCHIVE)
    assert run().prepared == 0  # nothing changed: nothing read but to hash it
    (home / "documents/2021/douane-cigarettes.txt").write_text("Les douaniers ont saisi du tabac.\n", "utf-8")
    assert run(accept_changes=True).prepared == 1
    full = run(full=True)
    assert full.prepared == len(SMALL_ARCHIVE) and set(full.alive) == {0}
    assert all(ref() is None for ref in full.refs)
    assert archive.check() == []
