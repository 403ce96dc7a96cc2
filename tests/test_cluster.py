"""Preparing documents on a Dask cluster (archive/cluster.py), on a real `distributed.LocalCluster`.

Two worker processes of one thread each, started once for the module with `distributed.worker.daemon:
False` (as README, "A cluster of machines", tells operators to start `dask worker`), and closed at the end
with every process they started. Faults are real: a worker process is frozen (SIGSTOP) once the scheduler
has given it documents of the batch, then killed with SIGKILL, as a lost machine or the OOM killer would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import dask
import pytest
from distributed import Client, LocalCluster

from archive import isolation
from archive.cli import main
from archive.cluster import ClusterPreparer, cluster_preparer, preparer_for
from archive.errors import (
    ClusterMismatch,
    ReaderUnavailable,
    RejectedInput,
    SchedulerUnreachable,
    SettingsError,
)
from archive.models import Document
from archive.pipeline import Pipeline
from archive.preparing import Job, Prepared
from archive.remote import DAEMONIC, versions
from archive.settings import Settings
from archive.taxonomy import Taxonomy

from .conftest import FIXTURES, HANG_GUARD, SMALL_ARCHIVE, free_port, wait_until, within_guard

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux processes")

QUIET = (
    logging.CRITICAL
)  # a killed worker is logged as an error by the nanny and the scheduler: expected here


def _note(i: int) -> bytes:
    return (
        f"---\ntitle: Note {i} sur le blanchiment\ndate: 2024-03-{i % 28 + 1:02d}\n---\n\n"
        f"Les enquêteurs de la gendarmerie ont démantelé le réseau numéro {i} de blanchiment aggravé à Lyon, "
        "au terme de deux années d'enquête, d'écoutes et de filatures entre la France et la Belgique.\n"
    ).encode()


MIXED: list[Job] = [
    ("2023/eurojust-blanchiment.md", SMALL_ARCHIVE["2023/eurojust-blanchiment.md"].encode(), None),
    ("2024/page.html", (FIXTURES / "page.html").read_bytes(), None),
    ("2024/faux.pdf", b"%PDF-1.4\n garbage garbage garbage", None),  # hostile: unreadable
    ("2024/texte.pdf", (FIXTURES / "texte.pdf").read_bytes(), None),
    (
        "2021/douane-cigarettes.txt",
        SMALL_ARCHIVE["2021/douane-cigarettes.txt"].encode(),
        b'source = "Douane"\n',
    ),
    ("2024/scan.pdf", (FIXTURES / "scan.pdf").read_bytes(), None),  # no text layer
    ("2024/piege.md", _note(0), b"title = " + b"[" * 5000 + b"]" * 5000 + b"\n"),  # sidecar nested 5,000 deep
    ("2024/proxenetisme.html", SMALL_ARCHIVE["2024/proxenetisme.html"].encode(), None),
    ("2024/vide.txt", b"", None),
    ("2024/binaire.txt", bytes(range(256)) * 8, None),
    *((f"2024/note-{i}.md", _note(i), None) for i in range(1, 7)),
]
"""Every format, with and without sidecars, and files refused for five different reasons, in a set longer
than the windows below."""

NOTES: list[Job] = [(f"2022/note-{i}.md", _note(i), None) for i in range(16)]


def _shape(outcome: Prepared) -> object:
    """What must be equal between two runs: the document, or the refusal's class, code and reason."""
    if isinstance(outcome, RejectedInput):
        return (type(outcome).__name__, outcome.path, outcome.reason_code, outcome.reason)
    return outcome


def _here(settings: Settings, taxonomy: Taxonomy, jobs: list[Job]) -> list[tuple[str, object]]:
    """The jobs prepared in this process, as the archive does without a cluster."""
    pipeline = Pipeline(settings, taxonomy)
    found: list[tuple[str, object]] = []
    for document_id, data, sidecar in jobs:
        try:
            found.append((document_id, pipeline.prepare(document_id, data, sidecar)))
        except RejectedInput as refused:
            found.append((document_id, _shape(refused)))
    return found


Process = tuple[int, int]
"""A process: its pid and its start time (a pid may be reused, the pair is not)."""


def _stat(pid: int) -> tuple[int, int, str, bytes] | None:
    """(parent pid, start time, name, state) of a process from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    name = raw[raw.index(b"(") + 1 : raw.rindex(b")")].decode("utf-8", "replace")
    fields = raw.rsplit(b")", 1)[1].split()
    return int(fields[1]), int(fields[19]), name, fields[0]


def _descendants(root: int) -> list[Process]:
    """Every process under `root`, at any depth."""
    table = {int(e): _stat(int(e)) for e in os.listdir("/proc") if e.isdigit()}
    found: list[Process] = []
    parents = {root}
    while parents:
        children = {pid for pid, st in table.items() if st is not None and st[0] in parents}
        found += [(pid, table[pid][1]) for pid in children]  # type: ignore[index]
        parents = children
    return found


def _running(process: Process) -> bool:
    st = _stat(process[0])
    return st is not None and st[1] == process[1] and st[3] != b"Z"


def _helper_of_ours(process: Process) -> bool:
    """Whether `process` is a helper of the test process itself: its reader (`_here`) or multiprocessing's
    resource tracker, both of which live as long as the session."""
    st = _stat(process[0])
    if st is None or st[0] != os.getpid():
        return False
    try:
        command = Path(f"/proc/{process[0]}/cmdline").read_bytes()
    except OSError:
        return False
    return st[2] == isolation.NAME or b"resource_tracker" in command


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two single-thread worker processes that may start the reader process (not daemonic)."""
    before = set(_descendants(os.getpid()))
    with (
        dask.config.set(
            {"distributed.worker.daemon": False}
        ),  # read again whenever a nanny restarts a worker
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=QUIET
        ) as local,
    ):
        yield local
        started = [p for p in _descendants(os.getpid()) if p not in before and not _helper_of_ours(p)]
    wait_until(
        lambda: not any(_running(p) for p in started),
        "every process the cluster started (workers, their readers) to end",
    )


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    """A client of the module's cluster for the test's own look at it, once both workers are up."""
    with Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=HANG_GUARD)
        yield c


@pytest.fixture
def preparer(
    cluster: LocalCluster, client: Client, tmp_path: Path, taxonomy: Taxonomy
) -> Iterator[ClusterPreparer]:
    """A task per document (2 worker threads, 3 tasks each)."""
    with cluster_preparer(cluster.scheduler_address, Settings(home=tmp_path), taxonomy, window=6) as p:
        yield p


@contextlib.contextmanager
def _allowed_failures(client: Client, allowed: int) -> Iterator[None]:
    """The scheduler's `allowed-failures` set to `allowed` for a while."""
    before = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
    client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", allowed))
    try:
        yield
    finally:
        client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", before))


@pytest.mark.parametrize(("window", "chunk"), [(3, 1), (24, 4)], ids=["a task per document", "tasks of 4"])
def test_the_cluster_prepares_what_this_machine_prepares_in_order(
    cluster: LocalCluster, tmp_path: Path, taxonomy: Taxonomy, window: int, chunk: int
) -> None:
    settings = Settings(home=tmp_path)
    pulled = 0
    yielded_after: list[int] = []

    def jobs() -> Iterator[Job]:
        nonlocal pulled
        for job in MIXED:
            pulled += 1
            yield job

    with cluster_preparer(cluster.scheduler_address, settings, taxonomy, window=window) as preparer:
        assert preparer.chunk == chunk  # 2 worker threads, 3 tasks each
        found = []
        for document_id, outcome in preparer.map(jobs()):
            found.append((document_id, _shape(outcome)))
            yielded_after.append(pulled)
    assert found == _here(settings, taxonomy, MIXED)
    assert [d for d, _ in found] == [d for d, _, _ in MIXED]
    refused = {d: o[2] for d, o in found if isinstance(o, tuple)}
    assert refused == {
        "2024/faux.pdf": "unreadable",
        "2024/scan.pdf": "no_text_layer",
        "2024/piege.md": "bad_metadata",
        "2024/vide.txt": "empty",
        "2024/binaire.txt": "binary",
    }
    assert {type(o) for _, o in found if not isinstance(o, tuple)} == {Document}
    # jobs are pulled as room frees up: never more than the window ahead of what was handed back
    assert all(pulled_then <= n + window for n, pulled_then in enumerate(yielded_after, start=1))


def _ours_on(client: Client, worker: str) -> set[str]:
    """The keys of this archive's document tasks the scheduler has given `worker`."""
    keys = client.processing(workers=[worker]).get(worker, ())
    return {str(k) for k in keys if str(k).startswith("archive-prepare")}


def _deaths(client: Client) -> int:
    """How many times a worker died holding one of this archive's document tasks (the scheduler's count)."""
    return int(
        client.run_on_scheduler(
            lambda dask_scheduler: getattr(
                dask_scheduler.task_prefixes.get("archive-prepare"), "suspicious", 0
            )
        )
    )


def _start_readers() -> None:
    """On a worker: prepare one document, so that its reader process runs (no cache: it must read)."""
    Pipeline(Settings(home=Path.cwd(), extraction_cache=False), Taxonomy.load()).prepare("a.txt", _note(99), None)


def _kill_mid_batch(client: Client, preparer: ClusterPreparer, jobs: list[Job]) -> tuple[list[Any], set[str]]:
    """Run `jobs`, killing one worker once the scheduler has given it documents of the batch.

    The worker is frozen first (SIGSTOP) so that what it holds stays put until it dies; its reader process
    must die with it. Returns the outcomes, and the keys the worker held when it was killed, once the
    nanny has replaced it."""
    client.run(_start_readers)
    worker, pid = sorted(client.run(os.getpid).items())[0]
    readers = _descendants(pid)
    assert readers, "the worker runs its reader process"
    os.kill(pid, signal.SIGSTOP)
    out: list[Any] = []
    run = threading.Thread(target=lambda: out.extend(preparer.map(jobs)), daemon=True)
    try:
        run.start()
        wait_until(lambda: _ours_on(client, worker), "the frozen worker to be given documents", poll=0.02)
        held = _ours_on(client, worker)
    finally:
        os.kill(pid, signal.SIGKILL)
    run.join(HANG_GUARD)
    assert not run.is_alive(), "the batch did not finish after a worker died"
    wait_until(lambda: not any(_running(r) for r in readers), "the dead worker's reader to die with it")
    client.wait_for_workers(2, timeout=HANG_GUARD)  # the nanny started a fresh worker
    return out, held


def test_a_worker_killed_mid_batch_loses_no_document(
    client: Client, preparer: ClusterPreparer, tmp_path: Path, taxonomy: Taxonomy
) -> None:
    before = _deaths(client)
    found, held = _kill_mid_batch(client, preparer, NOTES)
    assert held and _deaths(client) - before >= len(held)  # the scheduler saw them die with the worker...
    assert [(d, _shape(o)) for d, o in found] == _here(
        Settings(home=tmp_path), taxonomy, NOTES
    )  # ...and ran them again


def test_a_document_whose_workers_keep_dying_is_refused_and_the_batch_goes_on(
    client: Client, preparer: ClusterPreparer, tmp_path: Path, taxonomy: Taxonomy
) -> None:
    with _allowed_failures(client, 0):  # the first worker that dies holding a task gives it up
        found, held = _kill_mid_batch(client, preparer, NOTES)
    expected = dict(_here(Settings(home=tmp_path), taxonomy, NOTES))
    assert [d for d, _ in found] == [d for d, _, _ in NOTES]
    given_up = {d for d, o in found if isinstance(o, ReaderUnavailable)}
    assert held and len(given_up) >= len(held)
    for document_id, outcome in found:
        if document_id in given_up:
            assert outcome.reason_code == "reader_unavailable"
            assert "workers of the cluster died while preparing this file" in outcome.reason
        else:
            assert outcome == expected[document_id]


def test_a_task_of_several_documents_given_up_sends_them_again_one_by_one(
    cluster: LocalCluster, client: Client, tmp_path: Path, taxonomy: Taxonomy
) -> None:
    settings = Settings(home=tmp_path)
    with cluster_preparer(cluster.scheduler_address, settings, taxonomy, window=24) as preparer:
        assert preparer.chunk == 4
        with _allowed_failures(client, 0):
            found, held = _kill_mid_batch(client, preparer, NOTES)
    assert held  # given up with the worker: each of their documents went again on its own, and came back
    assert [(d, _shape(o)) for d, o in found] == _here(settings, taxonomy, NOTES)


def test_an_unfinished_map_lets_go_of_its_tasks(client: Client, preparer: ClusterPreparer) -> None:
    results = cast(Generator[tuple[str, Prepared]], preparer.map(NOTES))
    next(results)
    results.close()  # the caller stopped: an error in the writer, Ctrl-C

    def ours() -> list[str]:
        return list(
            client.run_on_scheduler(
                lambda dask_scheduler: [
                    str(k) for k in dask_scheduler.tasks if str(k).startswith("archive-prepare")
                ]
            )
        )

    wait_until(lambda: not ours(), "the scheduler to forget the batch's tasks", poll=0.02)
    assert [d for d, _ in preparer.map(NOTES[:3])] == [d for d, _, _ in NOTES[:3]]  # still usable


# ---------------------------------------------------------------- refusing a cluster it cannot use


class _Silent:
    """A TCP port that accepts connections and never says a word (a firewall's tarpit, a hung service)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for s in self.accepted:
            s.close()


class _Http(_Silent):
    """A TCP port where an HTTP server answers whatever it is sent with a 400."""

    def _accept(self) -> None:
        while True:
            try:
                conn = self.server.accept()[0]
            except OSError:
                return
            self.accepted.append(conn)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 64)


@pytest.mark.parametrize("kind", ["closed port", "silent port", "http server"])
def test_an_unreachable_scheduler_is_told_within_the_timeout(
    kind: str, tmp_path: Path, taxonomy: Taxonomy
) -> None:
    listener = {"closed port": None, "silent port": _Silent, "http server": _Http}[kind]
    server = listener() if listener else None
    port = server.port if server else free_port()
    address = f"tcp://127.0.0.1:{port}"
    try:
        with pytest.raises(SchedulerUnreachable) as refused:
            within_guard(cluster_preparer, address, Settings(home=tmp_path), taxonomy, timeout=1.0)
    finally:
        if server:
            server.close()
    assert refused.value.address == address and address in str(refused.value)
    assert "nothing was written" in str(refused.value)


def test_a_scheduler_without_workers_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with (
        LocalCluster(n_workers=0, processes=True, dashboard_address=":0", silence_logs=QUIET) as empty,
        pytest.raises(SchedulerUnreachable, match="no worker joined"),
    ):
        within_guard(
            cluster_preparer, empty.scheduler_address, Settings(home=tmp_path), taxonomy, timeout=0.5
        )


def _other_code(root: Path) -> Path:
    """A copy of the archive package where one module differs, as after an upgrade of only some machines."""
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "archive",
        root / "archive",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    with open(root / "archive" / "passages.py", "a", encoding="utf-8") as f:
        f.write("\n# another version of the splitting rules\n")
    return root


def _dask(command: str, *args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`dask scheduler` or `dask worker` run from `cwd`, whose `archive` package it imports."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", f"distributed.cli.dask_{command}", *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )


def test_a_worker_running_other_code_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    code = _other_code(tmp_path / "code")
    with LocalCluster(n_workers=0, processes=True, dashboard_address=":0", silence_logs=QUIET) as empty:
        worker = _dask(
            "worker", empty.scheduler_address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
            cwd=code, log=tmp_path / "worker.log",
        )  # fmt: skip
        try:
            with pytest.raises(ClusterMismatch) as refused:
                within_guard(
                    cluster_preparer,
                    empty.scheduler_address,
                    Settings(home=tmp_path),
                    taxonomy,
                    timeout=HANG_GUARD / 2,
                )
        finally:
            worker.kill()
            worker.wait(HANG_GUARD)
    ((where, what),) = refused.value.workers.items()
    assert (
        where.startswith("tcp://127.0.0.1:") and "archive code" in what and versions()["archive code"] in what
    )
    assert "same archive code" in str(refused.value)


def test_a_scheduler_running_other_code_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    port = free_port()
    scheduler = _dask(
        "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
        cwd=_other_code(tmp_path / "code"), log=tmp_path / "scheduler.log",
    )  # fmt: skip
    address = f"tcp://127.0.0.1:{port}"
    try:
        with pytest.raises(ClusterMismatch) as refused:
            within_guard(cluster_preparer, address, Settings(home=tmp_path), taxonomy, timeout=HANG_GUARD / 2)
    finally:
        scheduler.kill()
        scheduler.wait(HANG_GUARD)
    assert list(refused.value.workers) == [f"the scheduler ({address})"]
    assert versions()["archive code"] in refused.value.workers[f"the scheduler ({address})"]


def test_a_daemonic_worker_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with (
        dask.config.set({"distributed.worker.daemon": True}),
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=QUIET
        ) as daemonic,
        pytest.raises(ClusterMismatch) as refused,
    ):
        within_guard(cluster_preparer, daemonic.scheduler_address, Settings(home=tmp_path), taxonomy)
    assert list(refused.value.workers.values()) == [DAEMONIC]


# ---------------------------------------------------------------- the setting and the option


def test_preparer_for_follows_the_setting(cluster: LocalCluster, tmp_path: Path, taxonomy: Taxonomy) -> None:
    assert preparer_for(Settings(home=tmp_path), taxonomy) is None
    with preparer_for(Settings(home=tmp_path, scheduler=cluster.scheduler_address), taxonomy) as p:  # type: ignore[union-attr]
        assert isinstance(p, ClusterPreparer) and p.address == cluster.scheduler_address


@pytest.mark.parametrize("raw", ["tcp://10.0.0.5:8786", "tls://cluster.example.org:8786", "tcp://[::1]:8786"])
def test_the_scheduler_setting_takes_an_address(raw: str) -> None:
    assert Settings.from_env({"ARCHIVE_SCHEDULER": raw}).scheduler == raw
    assert Settings.from_env({}).scheduler is None


@pytest.mark.parametrize(
    "raw", ["10.0.0.5:8786", "http://10.0.0.5:8786", "tcp://10.0.0.5", "tcp://h:99999", "tcp://a b:1"]
)
def test_a_bad_scheduler_address_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="ARCHIVE_SCHEDULER") as refused:
        Settings.from_env({"ARCHIVE_SCHEDULER": raw})
    assert refused.value.variable == "ARCHIVE_SCHEDULER"
    with pytest.raises(SettingsError, match="--scheduler"):
        Settings.from_env({}, scheduler=raw)


def test_the_scheduler_option_of_add_and_reindex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "documents").mkdir()
    assert main(["--home", str(tmp_path), "reindex", "--scheduler", "localhost:8786"]) == 2
    assert "--scheduler must be a Dask scheduler's address" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "add", str(tmp_path), "--scheduler", "nowhere"]) == 2
