"""Preparing on every core (archive/preparing.py): a pool of workers prepares what the writing process
prepares, hands it back in order, takes a bounded number of jobs at a time, and keeps isolation's rules.

Faults are real: workers are killed with SIGKILL (found by name in /proc, as the kernel's OOM killer
would), a file uses up a real CPU budget (made small), a parent is killed and its workers are watched.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from archive import indexer, isolation
from archive.errors import ReaderUnavailable, RejectedInput
from archive.home import Archive
from archive.models import Document
from archive.pipeline import Pipeline
from archive.preparing import AHEAD, InProcess, Job, Pool, Prepared, local_preparer
from archive.request import SearchRequest
from archive.settings import Settings
from archive.taxonomy import Taxonomy

from .conftest import FIXTURES, SMALL_ARCHIVE, archive_env, wait_until, write_documents
from .generated import judgement
from .test_indexer import _dump
from .test_isolation import _readers_of

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

QUERIES = ("blanchiment", "", '"garde à vue"', "douane OR proxénétisme", "tribunal -escroquerie", "europol")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline(Settings(home=tmp_path_factory.mktemp("home")), Taxonomy.load())


def _judgements(n: int, paragraphs: int, seed: int = 15) -> list[Job]:
    rng = random.Random(seed)
    return [(f"jugements/j{i:03d}.md", judgement(rng, i, paragraphs).encode(), None) for i in range(n)]


def _mixed() -> list[Job]:
    """Every format, rejected files among them, documents of very different sizes (so that workers
    finish out of order)."""
    jobs: list[Job] = [(name, text.encode(), None) for name, text in SMALL_ARCHIVE.items()]
    jobs += [("page.html", (FIXTURES / "page.html").read_bytes(), None)]
    jobs += [("texte.pdf", (FIXTURES / "texte.pdf").read_bytes(), b'source = "Un greffe"\n')]
    jobs += [
        ("vide.txt", b"  \n", None),
        ("note.docx", b"PK\x03\x04", None),
        ("binaire.txt", b"\0\1" * 500, None),
    ]
    sizes = [1, 120, 3, 60, 2, 200, 5, 1, 80, 4]
    rng = random.Random(3)
    jobs += [(f"j/{i}.md", judgement(rng, i, n).encode(), None) for i, n in enumerate(sizes)]
    return jobs


def _same(a: Prepared, b: Prepared) -> None:
    """The same document (with the same analysed terms), or the same rejection."""
    assert type(a) is type(b)
    if isinstance(a, RejectedInput):
        assert isinstance(b, RejectedInput) and (a.path, a.reason_code) == (b.path, b.reason_code)
        return
    assert isinstance(b, Document) and a == b
    for p, q in zip(a.passages, b.passages, strict=True):
        assert p.terms is not None and q.terms is not None
        assert (p.terms.keys, p.terms.positions, p.terms.vocabulary) == (
            q.terms.keys,
            q.terms.positions,
            q.terms.vocabulary,
        )


class Watcher:
    """Every worker process of this process seen while the block runs (polled from /proc)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.seen.update(_readers_of(os.getpid()))

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie left to a parent that does not reap it does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _cpu(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])


# ---------------------------------------------------------------- the same documents, in order


def test_a_pool_prepares_what_the_writing_process_prepares_in_the_order_of_the_jobs(
    pipeline: Pipeline,
) -> None:
    jobs = _mixed()
    expected = list(InProcess(pipeline).map(jobs))
    with Pool(pipeline, 2) as pool:
        found = list(pool.map(iter(jobs)))
    assert [d for d, _ in found] == [job[0] for job in jobs]
    for (_, a), (_, b) in zip(expected, found, strict=True):
        _same(a, b)
    rejected = {d: p.reason_code for d, p in found if isinstance(p, RejectedInput)}
    assert rejected == {"vide.txt": "empty", "note.docx": "unsupported_format", "binaire.txt": "binary"}


def test_one_worker_is_the_pipeline_in_this_process_and_more_a_pool(tmp_path: Path) -> None:
    taxonomy = Taxonomy.load()
    with local_preparer(Settings(home=tmp_path), taxonomy, 1) as one:
        assert isinstance(one, InProcess)
    with local_preparer(Settings(home=tmp_path), taxonomy, 3) as three:
        assert isinstance(three, Pool) and three.workers == 3


def test_jobs_are_taken_lazily_a_bounded_number_at_a_time(pipeline: Pipeline) -> None:
    taken = 0

    def jobs() -> Iterator[Job]:
        nonlocal taken
        for job in _judgements(24, 3):
            taken += 1
            yield job

    with Pool(pipeline, 2) as pool:
        for handed, (_, prepared) in enumerate(pool.map(jobs()), start=1):
            assert isinstance(prepared, Document)
            assert taken <= handed + AHEAD * pool.workers  # never the whole batch in memory
    assert taken == 24


def test_a_batch_and_its_pool_stop_when_the_reader_of_the_results_stops(pipeline: Pipeline) -> None:
    """A caller that stops reading (an error, Ctrl-C) leaves no job running and no worker of the pool
    behind; the process's own reader stays for the next write."""
    with Watcher() as watcher, Pool(pipeline, 2) as pool:
        for _ in pool.map(_judgements(60, 300)):
            if len(_readers_of(os.getpid())) >= 2:  # the pool's own worker, started after EXTRA_AFTER s
                break
    assert len(watcher.seen) >= 2  # the reader and a worker of the pool's own
    assert wait_until(
        lambda: len([p for p in _readers_of(os.getpid()) if _alive(p)]) <= 1, "the pool to stop"
    )


# ---------------------------------------------------------------- isolation's rules, on every worker


def test_a_file_over_its_budget_is_rejected_its_worker_replaced_and_the_batch_goes_on(
    pipeline: Pipeline,
) -> None:
    """A file that takes more CPU than its budget (here 0.01 s for the large one: it needs some 0.3 s) is
    `too_complex`, however soon its answer comes; its worker is killed and replaced, and the files after
    it are prepared."""
    large = _judgements(1, 1500, seed=7)[0]  # 1.5 MB: thirty times its budget of work on a fast machine
    jobs = [*_judgements(6, 2), ("grand.md", large[1], None), *_judgements(6, 2, seed=8)]

    def budget(size: int) -> float:
        return 0.01 if size > 1_000_000 else isolation.budget(size)

    with Watcher() as watcher, Pool(pipeline, 2, budget=budget) as pool:
        found = list(pool.map(jobs))
        gone = {pid for pid in watcher.seen if not _alive(pid)}  # before the pool stops its own
    assert [d for d, _ in found] == [job[0] for job in jobs]
    outcome = dict(found)["grand.md"]
    assert isinstance(outcome, RejectedInput) and not isinstance(outcome, ReaderUnavailable)
    assert outcome.reason_code == "too_complex"
    assert all(isinstance(p, Document) for d, p in found if d != "grand.md")
    assert len(gone) == 1  # the worker that spent the budget, killed; another prepared the files after it


def test_a_worker_killed_mid_document_is_replaced_and_the_document_prepared_again(pipeline: Pipeline) -> None:
    jobs = _judgements(8, 1000)
    expected = list(InProcess(pipeline).map(jobs))
    found: list[tuple[str, Prepared]] = []
    killed: list[int] = []
    before: dict[int, int] = {}

    def kill_a_busy_one() -> None:
        """Kill a worker that used CPU since the last look: it is preparing a document (0.2 s each)."""
        for pid in _readers_of(os.getpid()):
            cpu = _cpu(pid)
            if before.get(pid, cpu) < cpu:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            before[pid] = cpu

    with Watcher() as watcher, Pool(pipeline, 2) as pool:
        for result in pool.map(jobs):
            found.append(result)
            if not killed and len(_readers_of(os.getpid())) >= 2:  # both at work, jobs waiting
                kill_a_busy_one()
    assert [d for d, _ in found] == [job[0] for job in jobs]
    for (_, a), (_, b) in zip(expected, found, strict=True):
        _same(a, b)  # nothing rejected: the document the worker held was prepared again
    assert killed, "the batch ended before its second worker started"
    assert killed[0] in watcher.seen and not _alive(killed[0])
    assert len(watcher.seen) >= 3


def test_no_worker_outlives_its_parent(tmp_path: Path) -> None:
    """`archive add --workers 2` killed with SIGKILL mid-batch: its workers die with it (PR_SET_PDEATHSIG,
    the workers started by the keeper thread)."""
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    (home / "documents").mkdir(parents=True)
    inbox.mkdir()
    for name, data, _ in _judgements(30, 600):
        (inbox / Path(name).name).write_bytes(data)
    env = archive_env(home, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "add", str(inbox), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(_readers_of(proc.pid)) >= 2, "two workers", proc)
        workers = _readers_of(proc.pid)
        assert len(workers) >= 2, "the add ended before its workers were seen"
    finally:
        proc.kill()
        proc.wait()
    assert wait_until(lambda: not any(_alive(p) for p in workers), "the workers to die with their parent")


# ---------------------------------------------------------------- the same index


def _home(root: Path) -> Path:
    write_documents(root, dict(SMALL_ARCHIVE))
    shutil.copy(FIXTURES / "page.html", root / "documents" / "page.html")
    shutil.copy(FIXTURES / "texte.pdf", root / "documents" / "texte.pdf")
    for name, data, _ in _judgements(30, 8):
        (root / "documents" / "jugements").mkdir(exist_ok=True)
        (root / "documents" / name).write_bytes(data)
    return root


def _answers(archive: Archive) -> list[object]:
    out: list[object] = []
    for query in QUERIES:
        results = archive.search(SearchRequest(query=query, per_page=100))
        out.append([(h.id, h.score, h.highlight, h.agency, h.offence) for h in results.hits])
        out.append(results.to_json()["facets"])
    return out


def test_one_and_two_workers_build_the_same_index(tmp_path: Path) -> None:
    """A full rebuild with one worker (the pipeline in the writing process) and with two (a pool): the
    same terms, positions, statistics, stored fields and tags, the same vocabulary, the same answers."""
    dumps, vocabularies, answers = [], [], []
    for workers in (1, 2):
        home = _home(tmp_path / f"w{workers}")
        with Archive(Settings(home=home, ingest_workers=workers)) as archive:
            report = archive.reindex(full=True)
            assert report.count("added") == len(SMALL_ARCHIVE) + 32 and not report.rejected
            generation = indexer.live_generation(home / "index")
            assert generation is not None
            dumps.append(_dump(generation))
            vocabularies.append((generation / "vocabulary.json").read_text(encoding="utf-8"))
            answers.append(_answers(archive))
    assert dumps[0] == dumps[1]
    assert vocabularies[0] == vocabularies[1]
    assert answers[0] == answers[1]


def test_terms_analysed_once_index_as_the_text_analysed_by_the_writer(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """Documents prepared by the pool carry their passages' analysed terms; the writer adds them as they
    are. The index is the one the writer built before, analysing each passage's text itself."""
    with Pool(pipeline, 2) as pool:
        documents = [p for _, p in pool.map(_mixed()) if isinstance(p, Document)]
    assert all(p.terms is not None for d in documents for p in d.passages)
    bare = [replace(d, passages=tuple(replace(p, terms=None) for p in d.passages)) for d in documents]
    carried = indexer.build(tmp_path / "carried", documents, "t", parallel_after=None)
    analysed = indexer.build(tmp_path / "analysed", bare, "t", parallel_after=None)
    assert _dump(carried) == _dump(analysed)
    assert (carried / "vocabulary.json").read_bytes() == (analysed / "vocabulary.json").read_bytes()
