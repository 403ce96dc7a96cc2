"""Soak test: mixed searches from concurrent clients while documents are added and full reindexes run.

Serves a generated archive of a few thousand French passages with `archive serve` on 127.0.0.1, then for
`--seconds` (default 600): `--clients` threads search continuously (words, AND, OR, phrases, prefixes,
facet filters, browsing, sorting, deep pages, typos), one archivist uploads a new document every
`--add-every` seconds over HTTP, and a full reindex is started over HTTP every `--reindex-every` seconds.
The server's memory is sampled from /proc/PID/status. At the end every uploaded document must be
searchable exactly once and `archive check` must pass. Writes bench/results/soak.md.

    .venv/bin/python -m bench.soak                 # 10 minutes
    .venv/bin/python -m bench.soak --seconds 60    # a quick run

Not part of `make test`. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from .soak_load import TOKEN, Stats, adder, document, reindexer, sampler, searcher
from .soak_report import report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "soak.md"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_home(home: Path, documents: int) -> None:
    """Write `documents` generated articles into `home` and index them (`archive reindex`)."""
    for i in range(documents):
        path = home / "documents" / str(2015 + i % 11) / f"article-{i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document(i), encoding="utf-8")
    subprocess.run(
        [str(ROOT / ".venv/bin/archive"), "reindex"], env=env_for(home), check=True, stdout=subprocess.DEVNULL
    )


def env_for(home: Path) -> dict[str, str]:
    """The environment of an `archive` command on `home`: no other ARCHIVE_* setting, the soak's token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_HOME=str(home), ARCHIVE_TOKEN=TOKEN, PYTHONDONTWRITEBYTECODE="1")
    return env


def verify(base: str, home: Path, stats: Stats) -> list[str]:
    """Every uploaded document is found exactly once; `archive check` passes."""
    problems: list[str] = []
    with httpx.Client(base_url=base, timeout=30, headers={"Accept": "application/json"}) as client:
        for doc_id, code in stats.uploaded:
            body = client.get("/search", params={"q": code, "per_page": "100"}).json()
            found = {h["document"] for h in body["hits"]}
            if body["documents"] != 1 or found != {doc_id}:
                problems.append(
                    f"{doc_id}: search {code!r} gave {body['documents']} documents {sorted(found)}"
                )
    check = subprocess.run(
        [str(ROOT / ".venv/bin/archive"), "check"], env=env_for(home), capture_output=True, text=True
    )
    if check.returncode != 0:
        problems.append(
            f"archive check exited {check.returncode}: {check.stdout[-2000:]}{check.stderr[-500:]}"
        )
    return problems


def count_passages(base: str) -> int:
    """The passages the served archive holds, from `/health`."""
    return int(httpx.get(f"{base}/health", timeout=30).json()["passages"])


def main(argv: list[str] | None = None) -> int:
    """Serve, soak, verify and write the report: 1 when anything failed, else 0."""
    args = _arguments(argv)
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(
            [".venv/bin/python -m bench.soak", *(argv if argv is not None else sys.argv[1:])]
        ),
        "load_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "documents": args.documents,
    }
    home = Path(tempfile.mkdtemp(prefix="archive-soak-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        print(f"building {args.documents} documents in {home}", flush=True)
        build_home(home, args.documents)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start(home, port)
        _wait_until_up(server, base, home)
        meta["passages_start"] = count_passages(base)
        stats = Stats()
        meta["duration"] = _soak(args, base, server.pid, stats)
        meta["passages_end"] = count_passages(base)
        meta["server_errors"] = Counter(
            line.strip()
            for line in (home / "serve.log").read_text("utf-8", "replace").splitlines()
            if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b", line)
        )
        meta["load_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        problems = verify(base, home, stats)
        if server.poll() is not None:
            problems.append(f"the server died (exit {server.returncode})")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report(args, stats, meta, problems), encoding="utf-8")
        print(args.out.read_text(encoding="utf-8"))
        return 1 if stats.errors or problems else 0
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--documents", type=int, default=500, help="generated documents (~6 passages each)")
    p.add_argument("--add-every", type=float, default=3.0)
    p.add_argument("--reindex-every", type=float, default=60.0)
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--keep", action="store_true", help="keep the temporary archive home")
    return p.parse_args(argv)


def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    """`archive serve` on 127.0.0.1:`port`, its output in home/serve.log."""
    log = open(home / "serve.log", "wb")  # noqa: SIM115 (closed with the server)
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/archive"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env_for(home),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_until_up(server: subprocess.Popen[bytes], base: str, home: Path) -> None:
    """Return once the server answers `/health`; exit with its log if it died or took over 2 minutes."""
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                "the server did not start:\n" + (home / "serve.log").read_text("utf-8", "replace")[-3000:]
            )
        time.sleep(0.1)


def _soak(args: argparse.Namespace, base: str, pid: int, stats: Stats) -> float:
    """Run the searchers, the archivist, the reindexer and the sampler for `--seconds`: the seconds it took."""
    stop = threading.Event()
    started = time.monotonic()
    threads = [
        threading.Thread(target=searcher, args=(base, stats, stop, seed, started), daemon=True)
        for seed in range(args.clients)
    ]
    threads.append(threading.Thread(target=adder, args=(base, stats, stop, args.add_every, 100_000)))
    threads.append(threading.Thread(target=reindexer, args=(base, stats, stop, args.reindex_every)))
    threads.append(threading.Thread(target=sampler, args=(pid, stats, stop, started, args.sample_every)))
    for t in threads:
        t.start()
    print(f"soaking for {args.seconds:g} s against {base}", flush=True)
    stop.wait(args.seconds)
    stop.set()
    for t in threads:
        t.join(120)
    return time.monotonic() - started


if __name__ == "__main__":
    sys.exit(main())
