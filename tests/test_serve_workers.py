"""`archive serve --workers N`: N processes on one port, every one answering for every reindex job.

Real servers over real sockets. Which process answered a request is read from the server's log (each
line names its process), never from an answer: the service tells no client its process ids. Requests
open a new connection each, so the kernel hands them to either process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from archive.lock import WriteLock
from web import jobstore, wire
from web.jobs import Job

from .conftest import HANG_GUARD, archive_env, serving, wait_until, web_build_home

TOKEN = "jeton-de-test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WORD = "pangolin"  # only in the document the reindex adds
NEW_DOCUMENT = {
    "2025/pangolin.md": "---\ntitle: Trafic de pangolins\ndate: 2025-02-01\n---\n\n"
    "Les douaniers ont saisi des écailles de pangolin dans un conteneur au Havre.\n"
}
ORDER = {"queued": 0, "running": 1, "done": 2, "failed": 2}
_ACCESS = re.compile(r'\[(\d+)\] web\.access: \S+ "(\w+) ([^"]*)" (\d+)')


def call(base: str, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request on a connection of its own: (status, JSON body)."""
    request = urllib.request.Request(base + path, method=method, headers={"Accept": "application/json"})
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=HANG_GUARD) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def answered_by(log: Path, method: str, path: str, status: int) -> set[int]:
    """The processes whose access log shows `method path` answered with `status`."""
    return {
        int(m[1])
        for m in _ACCESS.finditer(log.read_text("utf-8", "replace"))
        if (m[2], m[3], int(m[4])) == (method, path, status)
    }


def by_both(base: str, log: Path, path: str, out: list[tuple[int, Any]]) -> None:
    """GET `path` until two processes have answered it with 200, every answer appended to `out`."""

    def both() -> bool:
        out.append(call(base, "GET", path))
        return len(answered_by(log, "GET", path, 200)) >= 2

    wait_until(both, f"two server processes to answer GET {path}")


def env_for(home: Path) -> dict[str, str]:
    # the job waits for the write lock the test holds for as long as the test needs (HANG_GUARD guards)
    return archive_env(home, ARCHIVE_TOKEN=TOKEN, ARCHIVE_REINDEX_WAIT="600", ARCHIVE_PASSAGE_MIN_WORDS="5")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An indexed home, plus one document not indexed yet."""
    home = web_build_home(tmp_path / "home")
    for name, text in NEW_DOCUMENT.items():
        (home / "documents" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "documents" / name).write_text(text, encoding="utf-8")
    return home


def consistent(answers: list[tuple[int, Any]], job: str) -> None:
    """Every answer 200 and about the same job, its state and progress never going back."""
    assert {status for status, _ in answers} == {200}
    bodies = [body for _, body in answers]
    assert {(b["id"], b["kind"], b["full"], b["created_at"], b["url"]) for b in bodies} == {
        (job, "reindex", True, bodies[0]["created_at"], f"/jobs/{job}")
    }
    ranks = [ORDER[b["state"]] for b in bodies]
    assert ranks == sorted(ranks)
    running = [b["done"] for b in bodies if b["state"] == "running"]
    assert running == sorted(running)


def test_every_worker_answers_for_the_job_refuses_a_second_and_serves_the_new_generation(
    home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with serving(env_for(home), log, options=("--workers", "2")) as (_, base):
        before: list[tuple[int, Any]] = []
        by_both(base, log, f"/search?q={WORD}&per_page=7", before)  # both hold the old generation open
        assert {(status, body["total"]) for status, body in before} == {(200, 0)}

        with WriteLock(home / "index", "the test"):  # the job waits for it: queued or running meanwhile
            status, started = call(base, "POST", "/reindex?full=true", AUTH)
            assert status == 202
            job = started["job"]
            seen: list[tuple[int, Any]] = []
            refused: list[tuple[int, Any]] = []

            def both_answer_and_refuse() -> bool:
                seen.append(call(base, "GET", f"/jobs/{job}"))
                refused.append(call(base, "POST", "/reindex", AUTH))
                return (
                    len(answered_by(log, "GET", f"/jobs/{job}", 200)) >= 2
                    and len(answered_by(log, "POST", "/reindex", 409)) >= 2
                )

            wait_until(both_answer_and_refuse, "both processes to answer for the job and refuse another")
            assert {body["state"] for _, body in seen} <= {"queued", "running"}
            assert {(s, b["error"]["code"], b["job"]) for s, b in refused} == {(409, "busy", job)}

        def finished() -> bool:
            seen.append(call(base, "GET", f"/jobs/{job}"))
            return bool(seen[-1][1]["state"] in ("done", "failed"))

        wait_until(finished, "the job to finish")
        after: list[tuple[int, Any]] = []
        by_both(base, log, f"/jobs/{job}?seen=after", after)  # the query string only marks the log lines
        consistent(seen + after, job)
        final = [body for _, body in after]
        assert all(body == final[0] for body in final)
        assert final[0]["state"] == "done" and final[0]["done"] == final[0]["total"] == 6
        assert final[0]["counts"]["added"] == 6 and final[0]["finished_at"] is not None

        searched: list[tuple[int, Any]] = []
        by_both(base, log, f"/search?q={WORD}&per_page=8", searched)  # one of them did not reindex
        assert {(status, body["total"]) for status, body in searched} == {(200, 1)}


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not: its reaper may be slow, or none at all)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reaped(pid: int) -> bool:
    """Whether process `pid` is gone and waited for: every thread has exited and its files are closed (its
    first thread shows as a zombie while the others may still be closing them)."""
    return not Path(f"/proc/{pid}").exists()


def test_a_job_whose_worker_is_killed_is_reported_failed_and_the_next_one_runs(
    home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with serving(env_for(home), log, options=("--workers", "2")) as (proc, base):
        with WriteLock(home / "index", "the test"):  # the job waits for it, running, when it is killed
            job = call(base, "POST", "/reindex", AUTH)[1]["job"]
            holder = (home / "index" / jobstore.FOLDER / "active.lock").read_text(encoding="utf-8")
            owner = int(re.fullmatch(rf"{job} \(pid (\d+)\)", holder)[1])  # type: ignore[index]
            assert owner != proc.pid
            os.kill(owner, signal.SIGKILL)
            wait_until(lambda: _reaped(owner), "the supervisor to reap the killed worker", proc)
            status, failed = call(base, "GET", f"/jobs/{job}")
            assert status == 200 and failed["state"] == "failed" and failed["finished_at"] is not None
            assert failed["errors"] == [jobstore.INTERRUPTED]
            assert call(base, "GET", f"/jobs/{job}")[1] == failed  # rewritten once, the same for everyone
            status, second = call(base, "POST", "/reindex", AUTH)  # nothing runs any more: not busy
            assert status == 202

        def finished() -> bool:
            return bool(call(base, "GET", f"/jobs/{second['job']}")[1]["state"] in ("done", "failed"))

        wait_until(finished, "the second job to finish")
        assert call(base, "GET", f"/jobs/{second['job']}")[1]["state"] == "done"
        replaced: list[tuple[int, Any]] = []
        # two processes answer, the killed one gone: the supervisor replaced it
        by_both(base, log, f"/search?q={WORD}&per_page=9", replaced)
        assert {(status, body["total"]) for status, body in replaced} == {(200, 1)}


def test_workers_do_not_outlive_their_supervisor(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(env_for(home), log, options=("--workers", "2")) as (proc, base):
        by_both(base, log, "/health", [])
        workers = {
            int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", log.read_text("utf-8"))
        }
        assert len(workers) == 2 and proc.pid not in workers
        proc.kill()  # no chance to stop them
        proc.wait(timeout=HANG_GUARD)
        wait_until(lambda: not any(_alive(pid) for pid in workers), "the workers to stop")
    assert "Application shutdown complete" in log.read_text("utf-8")  # they stopped cleanly


@pytest.mark.parametrize("workers", ["0", "two"])
def test_serve_refuses_a_number_of_workers_below_one(tmp_path: Path, workers: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--workers", workers],
        env=archive_env(tmp_path),
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert result.returncode == 2
    assert "--workers: must be a whole number of processes, 1 or more" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- the job records, in one process


def _record(n: int) -> wire.Job:
    job = Job(f"{n:012x}", "reindex", False, created_at=1_700_000_000 + n)
    return wire.job(job)


def test_only_the_last_records_are_kept(tmp_path: Path) -> None:
    store = jobstore.JobStore(tmp_path)
    for n in range(jobstore.KEEP + 5):
        record = _record(n)
        store.finish(store.claim(record), {**record, "state": "done"})
    kept = sorted(p.stem for p in (tmp_path / jobstore.FOLDER).glob("*.json"))
    assert kept == [f"{n:012x}" for n in range(5, jobstore.KEEP + 5)]
    assert store.load(f"{4:012x}") is None and store.load(f"{5:012x}") is not None


def test_a_record_left_running_by_a_dead_holder_reads_failed(tmp_path: Path) -> None:
    store = jobstore.JobStore(tmp_path)
    claim = store.claim(_record(1))
    with pytest.raises(jobstore.Busy) as busy:
        store.claim(_record(2))
    assert busy.value.job == f"{1:012x}"
    assert store.load(f"{1:012x}") == _record(1)  # its holder lives: as saved
    os.close(claim.fd)  # what the kernel does when the holder dies
    failed = store.load(f"{1:012x}")
    assert failed is not None and failed["state"] == "failed" and failed["errors"] == [jobstore.INTERRUPTED]
    os.close(store.claim(_record(2)).fd)  # free again


@pytest.mark.parametrize("job_id", ["../outside", "..%2Foutside", "00000000000A", "0000000000001", ""])
def test_a_job_id_is_never_a_path(tmp_path: Path, job_id: str) -> None:
    (tmp_path / jobstore.FOLDER).mkdir()
    for name in (
        "outside.json",
        f"{jobstore.FOLDER}/00000000000A.json",
        f"{jobstore.FOLDER}/0000000000001.json",
    ):
        (tmp_path / name).write_bytes(json.dumps(_record(10)).encode())
    assert jobstore.JobStore(tmp_path).load(job_id) is None
