"""The reader worker: it lives as long as the process, and its failures never shrink the index.

Reproduction of the data loss (issue 11, §1): an archive home with one `.html`, one `.pdf`, one `.md`;
`ARCHIVE_TOKEN=t archive serve`; `POST /reindex?full=true` three times. `/health` reported 3, then 1,
then 1 documents: the reader process was started by the first job's thread and killed with that thread
(PR_SET_PDEATHSIG fires when the *thread* that started a child exits), every later HTML/PDF read failed
with BrokenProcessPool, and the smaller generation was swapped in while `/health` said `ok`.

Faults here are real: the reader process is killed with SIGKILL by a watcher, as the kernel's
out-of-memory killer would, found by its name in /proc.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from archive import isolation
from archive.errors import ReaderFailed, ReaderUnavailable, RejectedInput
from archive.home import Archive
from archive.models import Block, Extracted
from archive.request import SearchRequest
from archive.settings import Settings

from .conftest import FIXTURES, WebFactory, archive_env, serving

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

NOTE = (
    "---\ntitle: Note sur le blanchiment\ndate: 2024-03-01\n---\n\n"
    "Les enquêteurs de la gendarmerie ont démantelé un réseau de blanchiment aggravé à Lyon.\n"
)


def _settings(home: Path) -> Settings:
    """The settings of these tests: the extraction cache off, or a rebuild would start no reader to fail."""
    return Settings(home=home, extraction_cache=False)


def _home(root: Path) -> Path:
    """A home with one HTML page, one PDF and one Markdown note."""
    (root / "documents").mkdir(parents=True)
    shutil.copy(FIXTURES / "page.html", root / "documents" / "page.html")
    shutil.copy(FIXTURES / "texte.pdf", root / "documents" / "texte.pdf")
    (root / "documents" / "note.md").write_text(NOTE, encoding="utf-8")
    return root


def _in_thread(function: Callable[[], Any]) -> Any:
    """Run `function` in a thread that ends right after, as a server's job thread does."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = function()
        except BaseException as e:
            out["error"] = e

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def _readers_of(pid: int) -> list[int]:
    """The pids of the reader processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index(b"(") + 1 : raw.rindex(b")")]
        parent = int(raw.rsplit(b")", 1)[1].split()[1])
        if parent == pid and name == isolation.NAME.encode():
            found.append(int(entry))
    return found


class Killer:
    """Kills every reader process of `pid` as soon as it appears (at most `limit` of them), from the
    moment `when()` holds if given."""

    def __init__(self, pid: int, limit: int = 1_000_000, when: Callable[[], bool] | None = None) -> None:
        self.pid, self.limit, self.killed = pid, limit, 0
        self.when = when
        self._stop = threading.Event()
        self._swept = threading.Event()  # the readers alive at the start are dead
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.killed < self.limit:
            for reader in _readers_of(self.pid) if self.when is None or self.when() else ():
                try:
                    os.kill(reader, signal.SIGKILL)
                    self.killed += 1
                except ProcessLookupError:
                    pass
            self._swept.set()
            time.sleep(0.001)
        self._swept.set()

    def __enter__(self) -> Killer:
        self._thread.start()
        self._swept.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _ids(archive: Archive) -> set[str]:
    results = archive.search(SearchRequest(query="", per_page=100, crowding=False))  # copies listed too
    return {h.document for h in results.hits}


ALL = {"page.html", "texte.pdf", "note.md"}


def test_the_reader_outlives_the_threads_that_use_it(tmp_path: Path) -> None:
    """Three full reindexes, each from a thread that then ends, then uploads, then another reindex, in
    one process: every document stays indexed (before the fix: 3, then 1, then 1)."""
    home = _home(tmp_path / "home")
    with Archive(_settings(home)) as archive:
        for _ in range(3):
            report = _in_thread(lambda: archive.reindex(full=True))
            assert not report.rejected, report
            assert _ids(archive) == ALL
        uploads = [
            ("autre-page.html", (FIXTURES / "page.html").read_bytes().replace(b"</body>", b"<p>copie</p></body>")),
            ("autre.pdf", (FIXTURES / "texte.pdf").read_bytes() + b"\n% une copie\n"),
        ]
        report = _in_thread(lambda: archive.add_upload(uploads, "2025"))
        assert report.count("added") == 2, report
        report = _in_thread(lambda: archive.reindex(full=True))
        assert not report.rejected, report
        assert _ids(archive) == ALL | {"2025/autre-page.html", "2025/autre.pdf"}
        assert archive.health() is None


def test_a_reader_killed_once_is_replaced_and_the_file_is_read(tmp_path: Path) -> None:
    """A reader lost mid-way (killed, out of memory) costs one retry on a fresh worker, not the file."""
    home = _home(tmp_path / "home")
    with Archive(_settings(home)) as archive:
        archive.reindex(full=True)
        with Killer(os.getpid(), limit=1) as killer:  # the reader of the first reindex
            assert killer.killed == 1
            report = archive.reindex(full=True)
        assert not report.rejected, report
        assert _ids(archive) == ALL and archive.health() is None


def _dies_on_first_call(name: str, data: bytes) -> Extracted:
    """A reader whose worker dies the first time it reads (`data` names a marker file), then reads."""
    marker = Path(data.decode())
    if not marker.exists():
        marker.write_text("died once")
        os._exit(1)
    return Extracted((Block("Un texte lu au second essai."),), {}, "txt")


def _out_of_memory(name: str, data: bytes) -> Extracted:
    raise MemoryError


def test_a_worker_that_dies_while_reading_is_replaced_and_the_file_read_again(tmp_path: Path) -> None:
    """The retry: the worker dies in the middle of a file; a fresh one reads it, the file is not blamed."""
    marker = tmp_path / "marker"
    found = isolation.run(_dies_on_first_call, "a.txt", str(marker).encode())
    assert marker.exists() and found.blocks[0].text == "Un texte lu au second essai."


def test_running_out_of_memory_is_not_blamed_on_the_file() -> None:
    """A MemoryError in the reader (its heap limit, or the machine's) is tried again on a fresh worker,
    then reported as ours (`reader_crashed`), never as an unreadable file a rebuild may drop."""
    with pytest.raises(ReaderUnavailable) as lost:
        isolation.run(_out_of_memory, "a.txt", b"x")
    assert lost.value.reason_code == "reader_crashed" and "memory" in lost.value.reason


def _fault_of_ours(name: str) -> Extracted:
    raise isolation.Fault("a bug of ours while preparing")


def _reads_in_the_worker(name: str) -> Extracted:
    """In a worker, `isolation.run` reads right there (a nested worker would escape the budget)."""
    return isolation.run(_buggy_reader, name, b"x")


def _buggy_reader(name: str, data: bytes) -> Extracted:
    raise KeyError(os.getpid())


def test_a_fault_of_ours_in_a_worker_is_tried_again_then_reported_as_ours() -> None:
    slot = isolation.Slot()
    try:
        with pytest.raises(ReaderUnavailable) as lost:
            slot.run(isolation.Task(_fault_of_ours, ("a.md",), "a.md", 5.0))
        assert lost.value.reason_code == "reader_crashed" and "bug of ours" in lost.value.reason
        with pytest.raises(RejectedInput) as refused:  # a reader's bug, in the worker: the file's
            slot.run(isolation.Task(_reads_in_the_worker, ("a.md",), "a.md", 5.0))
        assert not isinstance(refused.value, ReaderUnavailable)
        assert refused.value.reason_code == "unreadable"
        assert refused.value.reason == "could not read this file (KeyError)"
    finally:
        slot.close()
    with pytest.raises(ReaderUnavailable):  # a closed slot takes no more work
        slot.run(isolation.Task(_fault_of_ours, ("a.md",), "a.md", 5.0))


def _burns(name: str, seconds: float) -> str:
    """In a worker: spend `seconds` of the process's CPU, then answer `name`."""
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass
    return name


def test_an_answer_over_its_budget_is_too_complex_however_soon_it_comes() -> None:
    """A fifth over its budget of CPU, answered before the writer's second look at the worker's CPU (it
    looks once per budget): refused all the same, on the CPU time the worker measured around the call."""
    slot, here = isolation.Slot(), (__name__,)  # this module imported before the budget starts
    try:
        with pytest.raises(RejectedInput) as refused:
            slot.run(isolation.Task(_burns, ("a.md", 0.12), "a.md", 0.1, here))
        assert refused.value.reason_code == "too_complex"
        assert not isinstance(refused.value, ReaderUnavailable)
        assert slot.run(isolation.Task(_burns, ("b.md", 0.0), "b.md", 0.1, here)) == "b.md"  # a fresh worker
    finally:
        slot.close()


def test_a_full_rebuild_never_shrinks_the_index_when_the_reader_keeps_failing(tmp_path: Path) -> None:
    """Every reader killed as it starts: the rebuild fails with ReaderFailed, the live generation keeps
    serving every document, the health record says why, and the next successful write clears it."""
    home = _home(tmp_path / "home")
    with Archive(_settings(home)) as archive:
        archive.reindex(full=True)
        generation = archive.stats().generation
        with Killer(os.getpid()), pytest.raises(ReaderFailed) as failed:
            archive.reindex(full=True)
        assert set(failed.value.documents) <= ALL and failed.value.documents
        assert archive.stats().generation == generation and _ids(archive) == ALL
        degraded = archive.health()
        assert degraded is not None and degraded["code"] == "reader_failed"
        assert "reindex --full" in degraded["what"]
        assert [p.severity for p in archive.check() if "the last write" in p.message] == ["warning"]
        report = archive.reindex(full=True)
        assert not report.rejected and _ids(archive) == ALL
        assert archive.health() is None


def _bigger_home(root: Path, notes: int = 8) -> Path:
    """The three-format home and `notes` Markdown notes named to come after it (z-0.md...)."""
    home = _home(root)
    for i in range(notes):
        text = NOTE.replace("Lyon", f"Lyon, dossier {i}") + f"\nLe dossier {i} compte {i + 2} prévenus.\n"
        (home / "documents" / f"z-{i}.md").write_text(text, encoding="utf-8")
    return home


def _kill_from(place: int, killer: Killer) -> Callable[[int, int], None]:
    """A reindex's progress that kills the reader, and every one after it, when document `place` comes:
    the documents before it are prepared and already handed to the index writer by then."""

    def progress(done: int, total: int) -> None:
        if done == place and not killer.killed:
            killer.__enter__()  # returns once the reader alive now is dead

    return progress


@pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])
def test_a_reader_lost_after_documents_were_written_cancels_the_write(tmp_path: Path, full: bool) -> None:
    """The documents stream into the index writer: when an indexed one cannot be read again after others
    were written, the half-written generation (or Whoosh commit) is cancelled, never made live."""
    home = _bigger_home(tmp_path / "home")
    with Archive(Settings(home=home, ingest_workers=1)) as archive:  # one at a time: which is lost is known
        archive.reindex()
        before, version, every = archive.stats(), archive.version(), _ids(archive)
        for note in (home / "documents").glob("z-*.md"):  # every note edited: each is written again
            note.write_text(note.read_text("utf-8") + "\nUn pangolin a été saisi.\n", encoding="utf-8")
        killer = Killer(os.getpid())
        try:
            with pytest.raises(ReaderFailed) as failed:
                archive.reindex(full=full, progress=_kill_from(6, killer), accept_changes=True)
        finally:
            killer.__exit__()
        assert set(failed.value.documents) <= {f"z-{i}.md" for i in range(3, 8)} and failed.value.documents
        assert archive.stats().generation == before.generation and archive.version() == version
        assert not list((home / "index").glob("*.tmp")) and not list((home / "index").glob("gen-*/*.tmp"))
        assert _ids(archive) == every and archive.search(SearchRequest("pangolin")).total == 0
        assert cast(dict[str, Any], archive.health() or {}).get("code") == "reader_failed"


def test_an_add_whose_new_generation_loses_a_stored_document_is_undone(tmp_path: Path) -> None:
    """An add into an archive whose taxonomy changed builds a new generation: its file, then every
    stored one. A stored document lost there stops the add: its file and the manifest are put back."""
    home = _bigger_home(tmp_path / "home")
    with Archive(Settings(home=home)) as archive:
        archive.reindex()
    manifest = (home / "documents" / "manifest-sha256.txt").read_bytes()
    (home / "taxonomy.toml").write_text('[agency.zorglub]\nlabel = "Zorglub"\naliases = ["zorglub"]\n', "utf-8")
    given = tmp_path / "nouveau.md"
    given.write_text(NOTE.replace("Lyon", "Lille"), encoding="utf-8")
    stored = home / "documents" / "nouveau.md"
    with Archive(Settings(home=home)) as archive:
        generation = archive.stats().generation
        with Killer(os.getpid(), when=stored.exists), pytest.raises(ReaderFailed):
            archive.add([given])
        assert not stored.exists()
        assert (home / "documents" / "manifest-sha256.txt").read_bytes() == manifest
        assert archive.stats().generation == generation
        assert not list((home / "index").glob("*.tmp"))
        assert cast(dict[str, Any], archive.health() or {}).get("code") == "reader_failed"


def test_an_upload_the_reader_cannot_take_is_refused_for_a_reason_of_ours(tmp_path: Path) -> None:
    """With no working reader an upload is rejected for a reason of ours (`reader_unavailable` when the
    reader cannot start, `reader_crashed` when it died twice reading), the archive says it is degraded,
    and nothing is stored."""
    home = _home(tmp_path / "home")
    with Archive(_settings(home)) as archive:
        archive.reindex(full=True)
        with Killer(os.getpid()):
            report = archive.add_upload([("nouveau.md", NOTE.replace("Lyon", "Lille").encode())])
        codes = [o.reason.code for o in report.outcomes if o.reason]
        assert codes in (["reader_unavailable"], ["reader_crashed"]), report  # lost starting, or reading
        assert not (home / "documents" / "nouveau.md").exists()
        assert cast(dict[str, Any], archive.health() or {}).get("code") == "reader_unavailable"


# ---------------------------------------------------------------- through `archive serve` and the CLI


def _env(home: Path, **extra: str) -> dict[str, str]:
    return archive_env(home, ARCHIVE_EXTRACTION_CACHE="off", **extra)


def _http(base: str, path: str, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`archive serve` with a token over the three-format home."""
    home = _home(tmp_path / "home")
    with serving(_env(home, ARCHIVE_TOKEN="t"), tmp_path / "serve.log") as running:
        yield running


AUTH = {"Authorization": "Bearer t"}


def _job(base: str, full: bool = True) -> dict[str, Any]:
    status, job = _http(base, f"/reindex?full={'true' if full else 'false'}", "POST", b"", AUTH)
    assert status == 202, job
    while job["state"] in ("queued", "running"):
        time.sleep(0.05)
        _, job = _http(base, f"/jobs/{job['id']}")
    return job


def _multipart(files: dict[str, bytes], folder: str) -> tuple[bytes, dict[str, str]]:
    boundary = "test-boundary-7f3a"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="folder"\r\n\r\n{folder}\r\n'.encode()]
    for name, data in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_a_server_keeps_every_document_through_repeated_jobs_and_uploads(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    """The reproduction above, over HTTP: three full reindex jobs, HTML and PDF uploads, another job."""
    _, base = served
    for _ in range(3):
        job = _job(base)
        assert job["state"] == "done" and job["errors"] == [], job
        assert _http(base, "/health")[1]["documents"] == 3
    body, headers = _multipart(
        {
            "copie.html": (FIXTURES / "page.html").read_bytes().replace(b"</body>", b"<p>copie</p></body>"),
            "copie.pdf": (FIXTURES / "texte.pdf").read_bytes() + b"\n% une copie\n",
        },
        "2025",
    )
    status, answer = _http(base, "/documents", "POST", body, headers)
    assert status == 201 and answer["counts"]["added"] == 2, answer
    job = _job(base)
    assert job["state"] == "done" and job["errors"] == [], job
    health = _http(base, "/health")[1]
    assert health["documents"] == 5 and health["status"] == "ok"


def test_a_failing_reader_fails_the_job_and_the_server_says_degraded(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    """Every reader of the server killed as it starts: the full reindex job ends `failed` with code
    `reader_failed`, the live generation keeps its 3 documents, `/health` says `degraded` with the
    reason; once the reader works again, a job succeeds and `/health` is `ok`."""
    proc, base = served
    assert _job(base)["state"] == "done"
    before = _http(base, "/health")[1]
    with Killer(proc.pid):
        job = _job(base)
    assert job["state"] == "failed" and [e["code"] for e in job["errors"]] == ["reader_failed"], job
    health = _http(base, "/health")[1]
    assert health["documents"] == 3 and health["generation"] == before["generation"]
    assert health["status"] == "degraded" and health["degraded"]["code"] == "reader_failed"
    assert _job(base)["state"] == "done"
    health = _http(base, "/health")[1]
    assert health["status"] == "ok" and health["degraded"] is None and health["documents"] == 3


def test_the_cli_exits_non_zero_when_the_reader_keeps_failing(tmp_path: Path) -> None:
    """`archive reindex --full` with every reader killed: exit 1, the reason on stderr, index unchanged."""
    home = _home(tmp_path / "home")
    assert subprocess.run([sys.executable, "-m", "archive", "reindex"], env=_env(home)).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "reindex", "--full"],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    with Killer(proc.pid):
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert "could not be read again" in err and "Traceback" not in err
    stats = subprocess.run(
        [sys.executable, "-m", "archive", "stats", "--json"], env=_env(home), capture_output=True, text=True
    )
    assert json.loads(stats.stdout)["documents"] == 3


def test_an_upload_refused_for_lack_of_a_reader_answers_503(web_app_factory: WebFactory) -> None:
    """Over HTTP, files refused because our reader failed (crashed or unavailable) answer 503 — try
    again — never 422, which would blame the files; `/health` then says `degraded`."""
    client = web_app_factory(token="t")
    files = [("file", ("nouveau.md", NOTE.replace("Lyon", "Lille").encode(), "text/markdown"))]
    with Killer(os.getpid()):
        answer = client.post("/documents", files=files, headers={"Authorization": "Bearer t"})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "reader_unavailable"
    assert client.get("/health").json()["status"] == "degraded"
