"""Reindex jobs on disk: one small JSON file per job in `index/jobs/`, so every server process answers for
every job (`archive serve --workers N`), and one job at a time across all of them.

    index/jobs/<id>.json   the job as `GET /jobs/{id}` sends it (`wire.job`), replaced atomically
    index/jobs/active.lock flock held by the process running a job, for as long as it runs: "<id> (pid N)"
    index/jobs/claim.lock  flock held for microseconds around each decision below

Starting a job takes `active.lock` without waiting: a process that cannot take it answers `409 busy` with
the id written in it. Both steps (take the lock and write the id; fail and read the id) happen under
`claim.lock`, so the id read is never a half-written one. The kernel releases an `flock` when its holder
dies, however it dies: a record still `queued` or `running` whose id is not in a held `active.lock` was
left by a process that was killed, and is reported (and rewritten) `failed` with code `interrupted`.
Reading a record needs no lock: a record is written beside and renamed over the old one. A child forked
(without exec) while a job runs would share `active.lock` and keep it after its parent died: the
archive's helper processes (readers, indexing) are spawned, and must stay so.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from . import wire

log = logging.getLogger("web.jobs")

FOLDER = "jobs"
"""The jobs' folder inside the index folder (derived data, like the index: never a source of truth)."""

KEEP = 100
"""Job records kept: the oldest finished ones are removed as new jobs start."""

ACTIVE = ("queued", "running")

INTERRUPTED = wire.job_error(
    "interrupted",
    "the server process running this job stopped before the job finished (killed or restarted); "
    "the index is as the last complete write left it: start the reindex again",
)

_ID = re.compile(r"[0-9a-f]{12}")


class Busy(Exception):
    """Another job is queued or running (in this process or another one): `job` names it."""

    def __init__(self, job: str) -> None:
        super().__init__(f"job {job} is running")
        self.job = job


class Claim:
    """The right to run one job: `active.lock`, held until `JobStore.finish`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd


class JobStore:
    """The job records of one archive, shared by every process serving it. Thread-safe."""

    def __init__(self, index_dir: Path) -> None:
        self.dir = index_dir / FOLDER

    def claim(self, record: wire.Job) -> Claim:
        """Become the one running job, `record` saved; Busy (naming the running job) when there is one."""
        with self._deciding():
            fd = os.open(self.dir / "active.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split(" ", 1)[0]
                os.close(fd)
                raise Busy(holder) from None
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{record['id']} (pid {os.getpid()})".encode(), 0)
                self._tidy()
                self.save(record)
            except BaseException:
                _release(fd)
                raise
        return Claim(fd)

    def save(self, record: wire.Job) -> None:
        """Write a job's record beside the old one and rename it over: readers see one or the other."""
        tmp = self.dir / f"{record['id']}.json.{os.getpid()}.tmp"
        tmp.write_bytes(msgspec.json.encode(record))
        os.replace(tmp, self.dir / f"{record['id']}.json")

    def finish(self, claim: Claim, record: wire.Job) -> None:
        """Save a job's last state and let the next one start (never one without the other in between)."""
        with self._deciding():
            try:
                self.save(record)
            finally:
                _release(claim.fd)

    def load(self, job_id: str) -> wire.Job | None:
        """The job's record as its process last saved it, or `failed` if that process died; None if unknown."""
        if not _ID.fullmatch(job_id):
            return None
        record = self._read(job_id)
        if record is None or record["state"] not in ACTIVE:
            return record
        try:
            with self._deciding():
                record = self._read(job_id)  # again: its process may have finished it meanwhile
                if record is not None and record["state"] in ACTIVE and self._running() != job_id:
                    record = _interrupted(record)
                    self.save(record)
        except OSError as e:  # read-only storage: what the record says is all there is to say
            log.warning("cannot check whether job %s still runs: %s", job_id, e)
        return record

    def _read(self, job_id: str) -> wire.Job | None:
        try:
            return msgspec.json.decode((self.dir / f"{job_id}.json").read_bytes(), type=wire.Job)
        except FileNotFoundError:
            return None
        except msgspec.DecodeError as e:  # not ours, or cut short by a crash of the machine
            log.warning("unreadable job record %s: %s", job_id, e)
            return None

    def _running(self) -> str | None:
        """The id of the job whose process holds `active.lock`, None when no process does."""
        try:
            fd = os.open(self.dir / "active.lock", os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return os.pread(fd, 200, 0).decode("utf-8", "replace").split(" ", 1)[0]
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _tidy(self) -> None:
        """With `active.lock` just taken: every other active record is a dead process's, and leftovers go."""
        for tmp in self.dir.glob("*.tmp"):  # a killed writer's: nobody else writes now
            tmp.unlink(missing_ok=True)
        records: list[tuple[str, float, Path]] = []
        for path in self.dir.glob("*.json"):
            record = self._read(path.stem)
            if record is None:
                continue
            if record["state"] in ACTIVE:
                record = _interrupted(record)
                self.save(record)
            with contextlib.suppress(FileNotFoundError):
                records.append((record["created_at"], path.stat().st_mtime, path))
        for *_, path in sorted(records)[: max(0, len(records) - (KEEP - 1))]:
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _deciding(self) -> Iterator[None]:
        """`claim.lock`, held for one decision: who runs, and what a record says."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "claim.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _interrupted(record: wire.Job) -> wire.Job:
    """A record left active by a process that died: failed, finished now."""
    return wire.job_failed(record, INTERRUPTED, time.time())
