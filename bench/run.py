"""Run the speed benchmark at one scale: every peer one after another, each phase in its own process.

    .venv/bin/python -m bench.run --passages 20000
    .venv/bin/python -m bench.run --passages 200000 --http-seconds 60

Results go to bench/results/p<passages>.json, then bench/RESULTS.md is rendered from every results file.
Indexes and the prepared passages live under --work (default bench/data/, git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import corpus, http, queries, report
from .peers import PEERS, installed

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def machine() -> dict[str, object]:
    """The machine and the engines' versions, as the results record them."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    import os
    import sqlite3

    import whoosh

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "whoosh": whoosh.versionstring() if hasattr(whoosh, "versionstring") else "?",
        "kernel": platform.release(),
    }


def source_state() -> dict[str, str]:
    """Which core was measured: the commit, and a digest of archive/*.py (the core changes between runs)."""
    import hashlib

    root = HERE.parent
    digest = hashlib.sha256()
    for f in sorted((root / "archive").glob("*.py")):
        digest.update(f.name.encode() + f.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "archive"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "?", ""
    return {
        "commit": commit + ("+uncommitted archive/ changes" if dirty else ""),
        "archive_digest": digest.hexdigest()[:12],
    }


def prepare(n: int, work: Path, domain_only: bool = False) -> tuple[Path, dict[str, object]]:
    """Pickle the documents and their flat passages once per scale; every peer reads the same file."""
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data.pkl"
    info = work / "data.json"
    if not data.exists() or not info.exists():
        docs = corpus.documents(n, domain_only=domain_only)
        passages = corpus.flat(docs)
        with open(data, "wb") as f:
            pickle.dump((docs, passages), f, protocol=pickle.HIGHEST_PROTOCOL)
        sources: dict[str, int] = {}
        for d in docs:
            key = (
                "codes-history"
                if d.id.startswith("history/")
                else ("codes-penal-domain" if domain_only else "codes-all")
            )
            key += " (resampled)" if "~r" in d.id else ""
            sources[key] = sources.get(key, 0) + len(d.passages)
        info.write_text(
            json.dumps(
                {
                    "documents": len(docs),
                    "passages": len(passages),
                    "passages_by_source": sources,
                    "distribution": corpus.distribution(passages),
                },
                ensure_ascii=False,
            )
        )
    return data, json.loads(info.read_text())


def phase(args: list[str], log: Path) -> dict[str, object]:
    """One `bench.worker` phase (build or search) in a process of its own, its output in `log`: its result."""
    out = log.with_suffix(".json")
    with open(log, "w") as f:
        subprocess.run(
            [sys.executable, "-m", "bench.worker", *args, "--out", str(out)],
            check=True,
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=HERE.parent,
        )
    result: dict[str, object] = json.loads(out.read_text())
    return result


def _build_and_search(
    peer: str, n: int, work: Path, data: Path, queries_file: Path
) -> tuple[dict[str, object], dict[str, object]]:
    """Build `peer`'s index of the prepared passages, then run the mix on it, each in a process of its own."""
    target = work / peer
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    print(f"[{time.strftime('%H:%M:%S')}] {peer}: build {n} passages", flush=True)
    build = phase(
        ["build", "--peer", peer, "--data", str(data), "--dir", str(target)], work / f"{peer}-build.log"
    )
    print(
        f"[{time.strftime('%H:%M:%S')}] {peer}: {build['passages_per_s']:.0f} passages/s; searching",
        flush=True,
    )
    search = phase(
        ["search", "--peer", peer, "--dir", str(target), "--queries", str(queries_file)],
        work / f"{peer}-search.log",
    )
    return build, search


def run(
    n: int,
    peers: list[str],
    work_root: Path,
    http_seconds: int,
    queries_file: Path,
    domain_only: bool = False,
    results_dir: Path = RESULTS,
    render: bool = True,
) -> dict[str, object]:
    """One scale: each peer built and searched in its own process; write p<N>.json (and RESULTS.md)."""
    work = work_root / str(n)
    data, info = prepare(n, work, domain_only)
    results_dir.mkdir(parents=True, exist_ok=True)
    out_file = results_dir / f"p{n}.json"
    result: dict[str, Any] = {
        "scale": n,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]) if sys.argv[0].endswith("run.py") else "",
        "machine": machine(),
        "source": source_state(),
        "corpus": info,
        "queries_file": str(queries_file.relative_to(HERE.parent))
        if queries_file.is_relative_to(HERE.parent)
        else str(queries_file),
        "build": {},
        "search": {},
    }
    for peer in peers:
        if not installed(peer):
            result.setdefault("skipped", {})[peer] = "not installed"
            continue
        result["build"][peer], result["search"][peer] = _build_and_search(peer, n, work, data, queries_file)
        out_file.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    if http_seconds and "archive" in peers:
        print(f"[{time.strftime('%H:%M:%S')}] archive over HTTP, {http_seconds}s", flush=True)
        try:
            result["http"] = http.run(work / "archive", queries.load(queries_file), work, http_seconds)
        except Exception as e:  # the web layer is still being finished: record why, keep the rest
            result["http"] = {"skipped": f"{type(e).__name__}: {e}"}
    out_file.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    if render:
        report.write()
    print(f"[{time.strftime('%H:%M:%S')}] done: {out_file}", flush=True)
    return result


def main() -> None:
    """Run one scale from the command line (`make bench` runs each scale)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--passages", type=int, default=20000)
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--work", type=Path, default=HERE / "data")
    p.add_argument("--http-seconds", type=int, default=30, help="0 skips the HTTP load test")
    p.add_argument("--queries", type=Path, default=queries.QUERIES_FILE)
    a = p.parse_args()
    run(a.passages, a.peers.split(","), a.work, a.http_seconds, a.queries)


if __name__ == "__main__":
    main()
