"""Faults other than a kill: full disk, read-only storage, a writer interrupted by an exception.

Each writer runs as the real `archive` command in a subprocess over a copy of a small generated home:
- full disk: the writer's file-size limit is tiny (RLIMIT_FSIZE, SIGXFSZ ignored), so its writes fail with
  EFBIG, a stand-in for ENOSPC that needs no special file system;
- read-only storage: the home is made read-only and the writer loses the capabilities that let root
  ignore permission bits (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER). Running it as `nobody`
  would not work here: the interpreter lives under /root, which `nobody` cannot enter;
- interruption: SIGINT raises KeyboardInterrupt wherever the writer is; SIGTERM ends it at once; and a
  document whose front matter makes the metadata parser raise.
After each: the command exits 1 and says why, the previous index answers exactly as before (in a reader
opened before the failure and in a new one), the originals and the fixity manifest are byte-identical,
`archive check` finds no new error, and a normal run afterwards completes.

SIGKILL at many points is covered by test_reindex.py; concurrent writers by test_concurrency.py.
"""

from __future__ import annotations

import ctypes
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from archive import indexer
from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings

from .conftest import HANG_GUARD, archive_env, holds_data, restore_signals, serving, wait_until

N_DOCS = 80
STABLE = "quetzal"  # in documents 0..19, never changed
NEW = "pangolin"  # only in documents the failing writer tries to add
LIMIT = 4096  # bytes a "full disk" writer may write per file

CITIES = ["Marseille", "Lyon", "Lille", "Bordeaux", "Nantes", "Toulouse", "Nice", "Rennes"]
OFFENCES = ["blanchiment aggravé", "trafic de stupéfiants", "escroquerie", "proxénétisme", "corruption"]
THINGS = ["des véhicules de luxe", "des comptes bancaires", "des lingots d'or", "des cryptoactifs"]


def generated(i: int, marker: str = "", paragraphs: int = 0) -> str:
    r = random.Random(i)
    text = [
        " ".join(
            f"Les enquêteurs ont interpellé {r.randint(2, 40)} personnes à {r.choice(CITIES)} dans une "
            f"affaire de {r.choice(OFFENCES)} et ont saisi {r.choice(THINGS)}."
            for _ in range(r.randint(3, 5))
        )
        for _ in range(paragraphs or r.randint(3, 6))
    ]
    if i < 20:
        text.append(f"Le navire {STABLE}, affrété par le réseau, a été immobilisé au port de Sète.")
    if marker:
        text.append(f"Un {marker} a été retrouvé dans la cale du navire saisi par les douaniers.")
    date = f"{2015 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    return f'---\ntitle: "Affaire {i} à {r.choice(CITIES)}"\ndate: {date}\n---\n\n' + "\n\n".join(text) + "\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("faults")
    for i in range(N_DOCS):
        path = home / "documents" / str(2015 + i % 10) / f"article-{i:03d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generated(i), encoding="utf-8")
    archive = Archive(Settings(home=home))
    try:
        archive.reindex()
    finally:
        archive.close()
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    shutil.copytree(template, home, symlinks=True)
    yield home
    _writable(home)  # so that pytest can clean up after a read-only test


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return _fill_inbox(tmp_path / "inbox")


def _fill_inbox(inbox: Path) -> Path:
    """Files to add: a small one first (it fits under LIMIT), then larger ones."""
    inbox.mkdir()
    (inbox / "a-court.md").write_text(generated(900, NEW, paragraphs=1), encoding="utf-8")
    for i in range(901, 904):
        (inbox / f"b-long-{i}.md").write_text(generated(i, NEW, paragraphs=8), encoding="utf-8")
    assert (inbox / "a-court.md").stat().st_size < LIMIT < (inbox / "b-long-901.md").stat().st_size
    return inbox


def _writable(home: Path) -> None:
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _env(home: Path) -> dict[str, str]:
    return archive_env(home)


def _full_disk() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead


def _no_override() -> None:
    """Make permission bits apply to this (root) process: drop the capabilities that bypass them."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone from the bounding set at exec
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run(
    home: Path, *args: str, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archive", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
    )


QUERIES = (STABLE, NEW, "", "comptes bancaires Lyon")


def answers(archive: Archive) -> dict[str, tuple[int, int, list[str]]]:
    out = {}
    for q in QUERIES:
        r = archive.search(SearchRequest(q, per_page=20))
        out[q] = (r.total, r.documents, [h.id for h in r.hits])
    return out


def fresh_answers(home: Path) -> dict[str, tuple[int, int, list[str]]]:
    archive = Archive(Settings(home=home))
    try:
        return answers(archive)
    finally:
        archive.close()


def originals(home: Path) -> dict[str, bytes]:
    """Every file under documents/ (the manifest included), and the name of the live generation."""
    files = {
        p.relative_to(home).as_posix(): p.read_bytes() for p in (home / "documents").rglob("*") if p.is_file()
    }
    files["index/CURRENT"] = (home / "index" / "CURRENT").read_bytes()
    return files


def check_errors(home: Path) -> list[str]:
    archive = Archive(Settings(home=home))
    try:
        return sorted(f"{p.path}: {p.message}" for p in archive.check() if p.severity == "error")
    finally:
        archive.close()


def prepare(home: Path, command: str, inbox: Path) -> list[str]:
    """The arguments of `command`, with the documents it has to index put in place."""
    if command == "reindex --full":
        return ["reindex", "--full"]
    if command == "reindex":  # three new documents dropped into documents/ by hand
        for i in range(901, 904):
            (home / "documents" / "2025").mkdir(exist_ok=True)
            shutil.copy(inbox / f"b-long-{i}.md", home / "documents" / "2025" / f"nouveau-{i}.md")
        return ["reindex"]
    return ["add", str(inbox), "--to", "2025"]


def assert_nothing_changed(
    home: Path,
    reader: Archive,
    before: dict[str, tuple[int, int, list[str]]],
    files: dict[str, bytes],
    problems: list[str],
) -> None:
    assert answers(reader) == before, "a reader opened before the failure sees other answers"
    assert fresh_answers(home) == before, "a new reader sees other answers"
    after = originals(home)
    assert {k: v for k, v in after.items() if k in files} == files, (
        "an original, the manifest or CURRENT changed"
    )
    assert list((home / "index").glob("*.tmp")) == [], "a half-built generation was left in index/"
    assert check_errors(home) == problems, "the failed writer left the archive with new errors"


def assert_next_run_completes(home: Path, args: list[str]) -> None:
    result = run(home, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert check_errors(home) == []
    now = fresh_answers(home)
    assert now[NEW][1] == (4 if args[0] == "add" else 3 if args[:2] == ["reindex"] else 0)


COMMANDS = ["reindex --full", "reindex", "add"]


# ---------------------------------------------------------------- full disk


@pytest.mark.parametrize("command", COMMANDS)
def test_full_disk_leaves_the_previous_index_serving(home: Path, inbox: Path, command: str) -> None:
    reader = Archive(Settings(home=home))
    try:
        before = answers(reader)
        args = prepare(home, command, inbox)
        files, problems = originals(home), check_errors(home)
        result = run(home, *args, preexec=_full_disk)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "cannot complete: File too large" in result.stderr or "could not write" in result.stderr
        assert_nothing_changed(home, reader, before, files, problems)
    finally:
        reader.close()
    assert_next_run_completes(home, args)


# ---------------------------------------------------------------- read-only storage


def _read_only(home: Path, lock_writable: bool) -> None:
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    if lock_writable:  # the writer gets the lock and fails further on, where it writes for real
        (home / "index" / "write.lock").chmod(0o644)


@pytest.fixture
def read_only() -> Callable[[], None]:
    if os.geteuid() != 0:
        return lambda: None  # permission bits already apply to this user
    if not hasattr(ctypes.CDLL(None), "prctl"):
        pytest.skip("running as root without prctl: cannot make permission bits apply to the writer")
    return _no_override


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_storage_leaves_the_previous_index_serving(
    home: Path, inbox: Path, command: str, read_only: Callable[[], None]
) -> None:
    reader = Archive(Settings(home=home))
    try:
        before = answers(reader)
        args = prepare(home, command, inbox)
        files, problems = originals(home), check_errors(home)
        _read_only(home, lock_writable=True)
        result = run(home, *args, preexec=read_only)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "cannot complete: Permission denied" in result.stderr, result.stderr
        assert "(documents/" in result.stderr or "(index/" in result.stderr  # names what could not be written
        assert str(home) not in result.stderr  # relative to the home, never as a server path
        _writable(home)
        assert_nothing_changed(home, reader, before, files, problems)
    finally:
        reader.close()
    assert_next_run_completes(home, args)


def test_read_only_home_refuses_to_take_the_lock(home: Path, read_only: Callable[[], None]) -> None:
    before = fresh_answers(home)
    files = originals(home)
    _read_only(home, lock_writable=False)
    result = run(home, "reindex", "--full", preexec=read_only)
    assert result.returncode == 1
    assert "Permission denied" in result.stderr and "write.lock" in result.stderr, result.stderr
    _writable(home)
    assert originals(home) == files and fresh_answers(home) == before
    assert run(home, "reindex", "--full").returncode == 0


# ---------------------------------------------------------------- interrupted writers


WORK = (200, 800, 3200)
"""Documents added for an interrupted writer, beyond the four of `inbox`. The signal goes as soon as the
writer is seen writing (MID_WRITE), with most of these still to write (0.2 s of work or more here): should a
far faster or far busier machine find the writer done by then, the test starts again with more."""

MID_WRITE = {  # a file with data there: the writer is writing, most documents still to go
    "reindex --full": "index/gen-*.tmp/MAIN.tmp/*",  # Whoosh holds documents of the new generation
    "reindex": "index/gen-*/MAIN.tmp/*",  # Whoosh holds changes to the live generation, not committed
    "add": "documents/2025/*/*.md",  # the first document stored (under the name of the folder added)
}


def _interrupt(home: Path, args: list[str], sig: signal.Signals, pattern: str) -> tuple[int, str, str] | None:
    """Start the writer and send it `sig` as soon as a file matching `pattern` holds data (the writer is
    then mid-way): its exit status, stderr and report's end, or None if it was done before (it needs more
    work)."""
    err, out = home.parent / f"{home.name}.stderr", home.parent / f"{home.name}.stdout"
    with open(err, "wb") as errors, open(out, "wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archive", *args],
            env=_env(home),
            stdout=stdout,  # kept: should the writer end otherwise, its report says how (a rejected file...)
            stderr=errors,
            preexec_fn=restore_signals,  # a background job's children start with SIGINT ignored
        )
    try:
        seen = wait_until(lambda: holds_data(home, pattern), f"{pattern} to hold data", proc)
        signalled = seen and proc.poll() is None
        if signalled:
            proc.send_signal(sig)
        proc.wait(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr, report = err.read_text("utf-8", "replace"), out.read_text("utf-8", "replace")
    if not signalled:
        assert proc.returncode == 0, f"the writer failed on its own: {stderr}"
        return None
    return proc.returncode, stderr, report[-4000:]


@dataclass
class Interrupted:
    home: Path
    inbox: Path
    extra: int  # documents given beyond the four of `inbox`
    before: dict[str, tuple[int, int, list[str]]]  # answers of the index before the writer
    files: dict[str, bytes]  # originals, manifest and CURRENT before the writer
    problems: list[str]  # `archive check` errors before the writer
    returncode: int
    stderr: str
    report: str  # the end of its stdout: should it end otherwise than interrupted, what it did


def interrupt_mid_write(template: Path, tmp_path: Path, command: str, sig: signal.Signals) -> Interrupted:
    """`archive COMMAND` over a copy of the template, with WORK documents to write, sent `sig` mid-way."""
    for extra in WORK:
        home = tmp_path / f"home-{extra}"
        shutil.copytree(template, home, symlinks=True)
        inbox = _fill_inbox(tmp_path / f"inbox-{extra}")
        for i in range(904, 904 + extra):
            (inbox / f"c-{i}.md").write_text(generated(i, NEW), encoding="utf-8")
        before = fresh_answers(home)
        args = prepare(home, command, inbox)
        if command.startswith("reindex"):  # dropped into documents/ by hand, for the reindex to find
            (home / "documents" / "2025").mkdir(exist_ok=True)
            for path in inbox.glob("c-*.md"):
                shutil.copy(path, home / "documents" / "2025" / path.name)
        files, problems = originals(home), check_errors(home)
        ended = _interrupt(home, args, sig, MID_WRITE[command])
        if ended is not None:
            return Interrupted(home, inbox, extra, before, files, problems, *ended)
    pytest.fail(f"`archive {command}` was done before it was seen writing, even with {WORK[-1]} documents")


@pytest.mark.parametrize("command", COMMANDS)
def test_sigint_mid_write_unwinds_and_leaves_everything_serving(
    template: Path, tmp_path: Path, command: str
) -> None:
    writer = interrupt_mid_write(template, tmp_path, command, signal.SIGINT)
    home, before, files = writer.home, writer.before, writer.files
    assert writer.returncode == 130, (writer.stderr, writer.report)
    assert "interrupted" in writer.stderr and "Traceback" not in writer.stderr
    after = fresh_answers(home)
    assert after[STABLE] == before[STABLE] and after[""][0] >= before[""][0]
    placed = {  # the documents with the new word once the write is complete
        "reindex --full": writer.extra,
        "reindex": 3 + writer.extra,  # `prepare` drops three, `interrupt_mid_write` the others
        "add": len(list(writer.inbox.iterdir())),
    }[command]
    assert after[NEW][1] in (before[NEW][1], placed)  # all or nothing
    assert {k: v for k, v in originals(home).items() if k in files and k != "index/CURRENT"} == {
        k: v for k, v in files.items() if k != "index/CURRENT"
    }
    assert list((home / "index").glob("*.tmp")) == [], "KeyboardInterrupt did not clean the new generation"
    # whatever `add` had stored before the interruption must be recorded or reported, never silently kept
    unexpected = [p for p in check_errors(home) if p not in writer.problems]
    assert unexpected == [], unexpected


def test_sigterm_mid_full_reindex_leaves_the_previous_index_serving(template: Path, tmp_path: Path) -> None:
    writer = interrupt_mid_write(template, tmp_path, "reindex --full", signal.SIGTERM)
    home = writer.home
    assert writer.returncode == -signal.SIGTERM, writer.stderr
    assert fresh_answers(home) == writer.before and originals(home) == writer.files
    assert check_errors(home) == writer.problems
    result = run(home, "reindex", "--full")  # the next writer removes the half-built generation
    assert result.returncode == 0 and list((home / "index").glob("*.tmp")) == []
    after = fresh_answers(home)
    assert after[STABLE] == writer.before[STABLE] and after[NEW][1] == writer.extra


BAD_FRONT_MATTER = (
    "---\ntitle: Une date impossible\ndate: 2024-13-01\n---\n\n"
    "Les enquêteurs ont interpellé douze personnes à Lyon dans une affaire de corruption et ont saisi "
    "des montres. Un pangolin a été retrouvé dans la cale du navire saisi par les douaniers.\n"
)


@pytest.mark.parametrize("command", ["reindex", "reindex --full"])
def test_a_document_whose_metadata_parser_raises_is_rejected_not_fatal(home: Path, command: str) -> None:
    """`date: 2024-13-01` in YAML front matter makes PyYAML raise ValueError while reading the file."""
    (home / "documents" / "2025").mkdir()
    (home / "documents" / "2025" / "date-impossible.md").write_text(BAD_FRONT_MATTER, encoding="utf-8")
    (home / "documents" / "2025" / "valide.md").write_text(generated(905, NEW), encoding="utf-8")
    before = fresh_answers(home)
    files = originals(home)
    result = run(home, *command.split())
    # whatever happens, the archive keeps serving and nothing is lost
    assert fresh_answers(home)[STABLE] == before[STABLE]
    kept = {"index/CURRENT", "documents/manifest-sha256.txt"}  # these may record the new files
    assert {k: v for k, v in originals(home).items() if k in files and k not in kept} == {
        k: v for k, v in files.items() if k not in kept
    }
    old_lines = set(files["documents/manifest-sha256.txt"].splitlines())
    assert old_lines <= set(originals(home)["documents/manifest-sha256.txt"].splitlines())
    assert list((home / "index").glob("*.tmp")) == []
    # and the bad file is rejected with a reason while the others are indexed, like any unreadable input
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert result.returncode == 1
    assert "rejected  2025/date-impossible.md" in result.stdout and "[bad_metadata]" in result.stdout
    assert fresh_answers(home)[NEW][1] == 1


# ---------------------------------------------------------------- the service on a full disk


def test_reindex_job_and_upload_on_a_full_disk_say_why_and_searches_go_on(home: Path, inbox: Path) -> None:
    env = _env(home) | {"ARCHIVE_TOKEN": "t"}
    auth = {"Authorization": "Bearer t"}
    with (
        serving(env, home.parent / "serve.log", preexec_fn=_full_disk) as (_, base),
        httpx.Client(base_url=base, timeout=30, headers={"Accept": "application/json"}) as client,
    ):
        before = client.get("/search", params={"q": STABLE}).json()["total"]
        job = client.post("/reindex", params={"full": "true"}, headers=auth).json()["job"]
        while (state := client.get(f"/jobs/{job}").json())["state"] not in ("done", "failed"):
            assert client.get("/search", params={"q": STABLE}).json()["total"] == before
            time.sleep(0.02)
        upload = client.post(
            "/documents",
            headers=auth,
            files={"file": ("long.md", (inbox / "b-long-901.md").read_bytes())},
        )
        assert client.get("/search", params={"q": STABLE}).json()["total"] == before
        assert client.get("/search", params={"q": NEW}).json()["total"] == 0
    assert state["state"] == "failed" and upload.status_code >= 400
    assert not (home / "documents" / "long.md").exists()
    assert check_errors(home) == []
    assert indexer.live_generation(home / "index") is not None
    problems = []
    if "File too large" not in state["errors"][0]["message"]:
        problems.append(f"reindex job on a full disk: {state['errors']}")
    if upload.status_code == 500 or "File too large" not in upload.text:
        problems.append(f"upload on a full disk: HTTP {upload.status_code} {upload.text[:200]}")
    assert not problems, "the service does not say why a write failed:\n" + "\n".join(problems)
