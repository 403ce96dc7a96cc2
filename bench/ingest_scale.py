"""The ingest benchmark's steps past one machine's process: a Dask LocalCluster, several server processes.

- **LocalCluster**: `archive reindex --full --scheduler ADDRESS` on the mixed archive, against a
  `distributed.LocalCluster` this process starts (2 worker processes, 1 thread each), beside a local
  `archive reindex --full` of the same archive; the two indexes must agree (`archive stats`). The
  cluster's workers are this process's children, not the command's: their memory is not in the command's.
- **Serving**: `archive serve --workers 1` then `--workers 2`, `repeat` times in turn, each loaded by wrk
  (`bench.http`, 16 connections) on an index of the speed benchmark's corpus (`bench.run.prepare`, 200,000
  passages by default), built once by `bench.worker` and kept while the core's code is the same.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from . import http, queries, run
from .hostile_archive import free_port
from .ingest_steps import NOT_AVAILABLE, ROOT, Bench, StepFailed, figures


def cluster(b: Bench, home: Path) -> dict[str, Any]:
    """A full rebuild of `home` through a LocalCluster of 2 workers, beside a local one: times, same index?"""
    if not b.features.get("scheduler"):
        return {"skipped": f"`archive reindex --scheduler`: {NOT_AVAILABLE}"}
    import dask
    from distributed import LocalCluster

    local = b.archive(home, ["reindex", "--full", *b.workers_flag("reindex", None)], "cluster-local.log")
    expected = b.stats(home)
    os.environ["PYTHONPATH"] = str(ROOT)  # the workers import this checkout's archive
    os.environ["XDG_CACHE_HOME"] = str(b.cache)  # and read the run's lexicon table
    # the workers must be able to start the reader process: not daemonic (read again when a nanny restarts one)
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc,
    ):
        remote = b.archive(home, ["reindex", "--full", "--scheduler", lc.scheduler_address], "cluster.log")
    if remote.returncode != 0:  # a refused cluster exits 1 having written nothing: no figure to report
        tail = (b.logs / "cluster.log").read_text("utf-8", "replace")[-3000:]
        raise StepFailed(f"archive reindex --full --scheduler exited {remote.returncode}:\n{tail}")
    got = b.stats(home)
    keys = ("documents", "passages", "facets")
    return {
        "local": figures(local, expected),
        "cluster": figures(remote, got),
        "workers": 2,
        "same_index": all(got[k] == expected[k] for k in keys),
        "differs": [k for k in keys if got[k] != expected[k]],
    }


def serve(b: Bench, passages: int, seconds: int) -> dict[str, Any]:
    """wrk against `archive serve --workers 1` and `--workers 2` in turn: each run's figures."""
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed (apt-get install wrk): the serving step did not run"}
    home = _index(b, passages)
    mix = queries.load()
    several = b.features.get("serve_workers", False)
    runs: dict[str, Any] = {"passages": passages, "seconds": seconds, "1": [], "2": []}
    if not several:
        runs["note"] = (
            f"`archive serve --workers`: {NOT_AVAILABLE}; `archive serve` (one process) measured alone"
        )
    for r in range(b.repeat):
        print(f"  serve {r + 1}/{b.repeat}", flush=True)
        for n in (1, 2) if several else (1,):
            result = http.run(home, mix, b.logs, seconds, port=free_port(), workers=n if several else None)
            result.pop("wrk_output", None)
            runs[str(n)].append(result)
    return runs


def _index(b: Bench, passages: int) -> Path:
    """An archive home holding the speed benchmark's `passages`, built unless this core built it already."""
    home = b.work / f"serve-{passages}"
    stamp = home / "built-by.txt"
    digest = run.source_state()["archive_digest"]
    if (home / "index" / "CURRENT").is_file() and stamp.is_file() and stamp.read_text() == digest:
        return home
    print(f"  building the {passages:,}-passage index to serve", flush=True)
    data, _info = run.prepare(passages, ROOT / "bench" / "data" / str(passages))
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    run.phase(
        ["build", "--peer", "archive", "--data", str(data), "--dir", str(home)], b.logs / "serve-build.log"
    )
    stamp.write_text(digest)
    return home
