"""Reindex jobs on disk (`web/jobstore.py`): what every server process reads and decides from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from web import jobstore, wire
from web.jobs import Job

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
