"""Our archive over HTTP: `archive serve` in its own process, loaded by `wrk` (16 connections) from another.

Every request is a full JSON search response (`/search?q=...&format=json`, filters as query parameters),
cycling through the query mix. Server memory is read from /proc (VmHWM: the peak resident set of the
server's first process; with `--workers N`, also the peak sum over its process tree, polled).
The server is this checkout's (`python -m web.cli serve`, run from the project's root), not whatever
`archive` script is on the PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from .measure import TreePeak
from .queries import Query

HERE = Path(__file__).resolve().parent
SERVE = [sys.executable, "-m", "web.cli", "serve"]


def path_of(q: Query) -> str:
    """The JSON search URL (path and query string) of a query of the mix."""
    params: list[tuple[str, str]] = [("q", q.text), ("format", "json")]
    params += [(k, v[0]) for k, v in q.filters.items()]
    return "/search?" + urlencode(params)


def _wait(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                r.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _memory_mb(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM", "VmRSS")):
            name, value = line.split(":")
            out[name] = int(value.split()[0]) / 1024
    return out


def parse_wrk(text: str) -> dict[str, float]:
    """wrk's figures: requests/s, requests, latency percentiles (ms), non-2xx, socket errors."""
    out: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["requests_per_s"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
            out[f"p{pct}_ms"] = float(m.group(1)) * scale
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = float(sum(int(g) for g in m.groups())) if m else 0.0
    return out


def run(
    home: Path,
    mix: list[Query],
    work: Path,
    seconds: int = 30,
    port: int = 8731,
    connections: int = 16,
    workers: int | None = None,
) -> dict[str, object]:
    """`archive serve` (`--workers N` if given) on `home`, loaded by wrk cycling through `mix`: wrk's
    figures and server memory."""
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    paths_file = work / "wrk-paths.txt"
    paths_file.write_text("\n".join(path_of(q) for q in mix) + "\n", "utf-8")
    env = dict(os.environ, ARCHIVE_HOME=str(home))
    log = open(work / "serve.log", "w")  # noqa: SIM115 (closed in the finally below)
    extra = ["--workers", str(workers)] if workers is not None else []
    server = subprocess.Popen(
        [*SERVE, "--port", str(port), *extra], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent
    )
    tree = TreePeak(server.pid, every=0.5)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + path_of(mix[0]))
        for q in mix[:20]:  # the first searches fill the per-generation caches
            _wait(base + path_of(q))
        probe = json.loads(urllib.request.urlopen(base + path_of(mix[0]), timeout=60).read())
        if not probe.get("total"):
            return {
                "skipped": f"the server found nothing for {mix[0].text!r} (notes: {probe.get('notes')}): "
                "index unreadable by this core (schema changed?)"
            }
        idle = _memory_mb(server.pid)
        result = _load(base, dict(env, WRK_PATHS=str(paths_file)), seconds, connections)
        result.update(
            {
                "server_idle": idle,
                "server_after": _memory_mb(server.pid),
                "server_tree_peak_mb": tree.peak_mb,
                "workers": workers,
            }
        )
        return result
    finally:
        tree.stop()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _load(base: str, env: dict[str, str], seconds: int, connections: int) -> dict[str, object]:
    """wrk against `base` (the request paths in $WRK_PATHS): its figures, command and output."""
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(HERE / "wrk_queries.lua"),
        base,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = dict(parse_wrk(done.stdout))
    result.update(
        {
            "command": " ".join(cmd),
            "connections": connections,
            "seconds": seconds,
            "wrk_output": done.stdout,
        }
    )
    return result
