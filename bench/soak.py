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
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "soak.md"
TOKEN = "soak-token"

CITIES = ["Marseille", "Lyon", "Lille", "Bordeaux", "Nantes", "Toulouse", "Nice", "Rennes", "Strasbourg"]
AGENCIES = [
    "la gendarmerie",
    "la police judiciaire",
    "la douane",
    "l'OFAST",
    "Europol",
    "Eurojust",
    "Tracfin",
]
OFFENCES = [
    "blanchiment aggravé",
    "trafic de stupéfiants",
    "escroquerie en bande organisée",
    "proxénétisme",
    "corruption",
    "fraude fiscale",
    "abus de confiance",
    "contrefaçon",
    "association de malfaiteurs",
]
VERBS = ["ont interpellé", "ont placé en garde à vue", "ont entendu", "ont perquisitionné chez"]
THINGS = [
    "des véhicules de luxe",
    "des comptes bancaires",
    "des lingots d'or",
    "des cryptoactifs",
    "des montres",
]
TYPES = ["article", "communiqué", "décision", "rapport"]

QUERIES: list[tuple[str, dict[str, str | list[str]]]] = [
    ("word", {"q": "blanchiment"}),
    ("word", {"q": "cryptoactifs"}),
    ("and", {"q": "trafic stupéfiants Marseille"}),
    ("and", {"q": "escroquerie bande organisée"}),
    ("or", {"q": "corruption OR contrefaçon"}),
    ("not", {"q": "blanchiment NOT Lyon"}),
    ("phrase", {"q": '"garde à vue"'}),
    ("prefix", {"q": "perquisition*"}),
    ("wildcard", {"q": "b?anchiment"}),
    ("typo", {"q": "blanchimant"}),
    ("relaxed", {"q": "lingots licorne Rennes"}),
    ("facet", {"q": "enquêteurs", "offence": "blanchiment"}),
    ("facet", {"q": "", "agency": ["europol", "eurojust"], "year": "2022"}),
    ("browse", {"q": ""}),
    ("browse", {"q": "", "sort": "newest", "per_page": "50"}),
    ("deep", {"q": "personnes", "page": "20"}),
    ("dates", {"q": "saisi", "from": "2019-01-01", "to": "2021-12-31", "sort": "oldest"}),
    ("field", {"q": "title:affaire year:[2018 TO 2020]"}),
]


def passage_text(r: random.Random) -> str:
    return " ".join(
        f"Les enquêteurs de {r.choice(AGENCIES)} {r.choice(VERBS)} {r.randint(2, 40)} personnes à "
        f"{r.choice(CITIES)} dans une affaire de {r.choice(OFFENCES)} et ont saisi {r.choice(THINGS)} "
        f"pour {r.randint(1, 900)} millions d'euros."
        for _ in range(r.randint(3, 5))
    )


def document(i: int, code: str = "") -> str:
    """A made-up French article, deterministic in i, one passage per paragraph (about 60-110 words)."""
    r = random.Random(i)
    paragraphs = [passage_text(r) for _ in range(r.randint(4, 8))]
    if code:
        paragraphs[0] += f" Référence du dossier : {code}."
    title = f"Affaire {i} {code}: {r.choice(OFFENCES)} à {r.choice(CITIES)}".replace("  ", " ")
    date = f"{2015 + i % 11}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    return (
        f'---\ntitle: "{title}"\ndate: {date}\ntype: {r.choice(TYPES)}\nsource: Le Journal fictif\n---\n\n'
        + "\n\n".join(paragraphs)
        + "\n"
    )


def code_word(i: int) -> str:
    """A made-up word unique to document i (letters only, so the analyzer keeps it whole)."""
    letters = "bcdfghjklmnpqrstvwxz"
    out = ""
    while True:
        out = letters[i % 20] + out
        i //= 20
        if not i:
            return "zq" + out + "ux"


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    uploads: Counter[str] = field(default_factory=Counter)
    uploaded: list[tuple[str, str]] = field(default_factory=list)  # (document id, code word)
    reindexes: list[tuple[str, float, str]] = field(default_factory=list)  # (started, seconds, state)
    rss: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, VmRSS kB, VmHWM kB, threads)
    per_minute: Counter[int] = field(default_factory=Counter)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)
        print("ERROR", message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_home(home: Path, documents: int) -> None:
    for i in range(documents):
        path = home / "documents" / str(2015 + i % 11) / f"article-{i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document(i), encoding="utf-8")
    subprocess.run(
        [str(ROOT / ".venv/bin/archive"), "reindex"], env=env_for(home), check=True, stdout=subprocess.DEVNULL
    )


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_HOME=str(home), ARCHIVE_TOKEN=TOKEN, PYTHONDONTWRITEBYTECODE="1")
    return env


def searcher(base: str, stats: Stats, stop: threading.Event, seed: int, started: float) -> None:
    r = random.Random(seed)
    with httpx.Client(base_url=base, timeout=30, headers={"Accept": "application/json"}) as client:
        while not stop.is_set():
            kind, params = r.choice(QUERIES)
            t0 = time.perf_counter()
            try:
                resp = client.get("/search", params=params)
                elapsed = time.perf_counter() - t0
                ok = resp.status_code == 200 and isinstance(resp.json().get("total"), int)
            except Exception as e:  # every failure counts, whatever its kind
                stats.error(f"search [{kind}] {params}: {type(e).__name__}: {e}")
                continue
            with stats.lock:
                stats.latencies[kind].append(elapsed)
                stats.latencies["all"].append(elapsed)
                stats.statuses[str(resp.status_code)] += 1
                stats.per_minute[int((time.monotonic() - started) // 60)] += 1
            if not ok:
                stats.error(f"search [{kind}] {params}: HTTP {resp.status_code} {resp.text[:200]}")


def adder(base: str, stats: Stats, stop: threading.Event, every: float, first: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    i = first
    with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
        while not stop.wait(every):
            code = code_word(i)
            body = document(i, code).encode("utf-8")
            t0 = time.perf_counter()
            try:
                resp = client.post(
                    "/documents", files={"file": (f"soak-{i:05d}.md", body)}, data={"folder": "soak"}
                )
            except Exception as e:
                stats.error(f"upload {i}: {type(e).__name__}: {e}")
                continue
            elapsed = time.perf_counter() - t0
            with stats.lock:
                stats.latencies["upload"].append(elapsed)
                stats.uploads[str(resp.status_code)] += 1
            if resp.status_code == 201:
                with stats.lock:
                    stats.uploaded.append((f"soak/soak-{i:05d}.md", code))
                i += 1
            elif resp.status_code == 409 and resp.json()["error"]["code"] == "busy":
                pass  # a full reindex holds the archive longer than the upload waits: retried next time
            else:
                stats.error(f"upload {i}: HTTP {resp.status_code} {resp.text[:300]}")
                i += 1


def reindexer(base: str, stats: Stats, stop: threading.Event, every: float) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        while not stop.wait(every):
            t0 = time.perf_counter()
            stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
            try:
                resp = client.post("/reindex", params={"full": "true"})
                if resp.status_code == 409:
                    stats.reindexes.append((stamp, 0.0, "409 (one already running)"))
                    continue
                if resp.status_code != 202:
                    stats.error(f"reindex: HTTP {resp.status_code} {resp.text[:300]}")
                    continue
                job = resp.json()["job"]
                while True:
                    state = client.get(f"/jobs/{job}").json()
                    if state["state"] in ("done", "failed"):
                        break
                    time.sleep(0.25)
            except Exception as e:
                stats.error(f"reindex: {type(e).__name__}: {e}")
                continue
            seconds = time.perf_counter() - t0
            stats.reindexes.append((stamp, seconds, state["state"]))
            if state["state"] != "done":
                stats.error(f"reindex job {job} {state['state']}: {state['errors']}")


def sampler(pid: int, stats: Stats, stop: threading.Event, started: float, every: float) -> None:
    while True:
        fields: dict[str, int] = {}
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    fields[key] = int(value.split()[0])
        except OSError:
            return
        stats.rss.append((time.monotonic() - started, fields["VmRSS"], fields["VmHWM"], fields["Threads"]))
        if stop.wait(every):
            return


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


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


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "unknown",
    )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def report(args: argparse.Namespace, stats: Stats, meta: dict[str, str], problems: list[str]) -> str:
    lines = ["# Soak test", ""]
    m = machine()
    lines += [
        f"- date: {meta['date']} (UTC)",
        f"- command: `{meta['command']}`",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}, "
        f"Python {m['python']}",
        f"- load average at start / end: {meta['load_start']} / {meta['load_end']} "
        "(other jobs on the machine share these CPUs)",
        f"- archive: {meta['documents']} generated documents, {meta['passages_start']} passages at start, "
        f"{meta['passages_end']} at the end",
        f"- load: {args.clients} search clients in a closed loop (no think time), an upload every "
        f"{args.add_every:g} s, a full reindex over HTTP every {args.reindex_every:g} s; `archive serve` "
        "(uvicorn, one process) on 127.0.0.1",
        f"- duration: {meta['duration']:.0f} s",
        "",
        "## Outcome",
        "",
    ]
    total = sum(stats.statuses.values())
    lines += [
        f"- search requests: {total} ({total / meta['duration']:.1f}/s); statuses: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items())),
        f"- **errors: {len(stats.errors)}** (any non-200 search, 5xx, connection error, failed job or "
        "unexpected upload status)",
        f"- uploads: {len(stats.uploaded)} stored; statuses "
        + ", ".join(f"{k}: {v}" for k, v in sorted(stats.uploads.items()))
        + " (409 = busy while a full reindex held the archive longer than the 5 s an upload waits; "
        "retried at the next tick)",
        f"- full reindexes: {len([r for r in stats.reindexes if r[2] == 'done'])} done, "
        + ", ".join(f"{s:.1f} s" for _, s, st in stats.reindexes if st == "done"),
        f"- final verification (every uploaded document found exactly once by its own word; "
        f"`archive check`): {'passed' if not problems else 'FAILED'}",
    ]
    for p in problems[:20]:
        lines.append(f"  - {p}")
    for e, n in Counter(stats.errors).most_common(20):
        lines.append(f"  - {n} × {e}")
    if meta.get("server_errors"):
        lines.append("- exceptions in the server log (`archive serve` output), by type:")
        for e, n in meta["server_errors"].most_common(10):  # type: ignore[attr-defined]
            lines.append(f"  - {n} × `{e}`")
    lines += [
        "",
        "## Latency (seconds, client side)",
        "",
        "| queries | n | p50 | p95 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    order = ["all", *sorted(k for k in stats.latencies if k not in ("all", "upload")), "upload"]
    for kind in order:
        v = stats.latencies.get(kind, [])
        if v:
            lines.append(
                f"| {kind} | {len(v)} | {percentile(v, 50):.3f} | {percentile(v, 95):.3f} | "
                f"{percentile(v, 99):.3f} | {max(v):.3f} |"
            )
    lines += [
        "",
        "Searches per minute: " + ", ".join(str(stats.per_minute[k]) for k in sorted(stats.per_minute)),
        "",
        "## Server memory over time",
        "",
        "| t (s) | VmRSS (MB) | VmHWM (MB) | threads |",
        "| ---: | ---: | ---: | ---: |",
    ]
    step = max(1, len(stats.rss) // 25)
    rows = stats.rss[::step] + ([stats.rss[-1]] if stats.rss and (len(stats.rss) - 1) % step else [])
    for t, rss, hwm, threads in rows:
        lines.append(f"| {t:.0f} | {rss / 1024:.0f} | {hwm / 1024:.0f} | {threads} |")
    if stats.rss:
        first_min = [r for r in stats.rss if r[0] <= 60] or stats.rss[:1]
        last_min = [r for r in stats.rss if r[0] >= stats.rss[-1][0] - 60]
        lines += [
            "",
            f"RSS, mean over the first minute: {statistics.mean(r[1] for r in first_min) / 1024:.0f} MB; "
            f"over the last minute: {statistics.mean(r[1] for r in last_min) / 1024:.0f} MB; "
            f"peak (VmHWM): {stats.rss[-1][2] / 1024:.0f} MB.",
        ]
    return "\n".join(lines) + "\n"


def count_passages(base: str) -> int:
    return int(httpx.get(f"{base}/health", timeout=30).json()["passages"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--documents", type=int, default=500, help="generated documents (~6 passages each)")
    p.add_argument("--add-every", type=float, default=3.0)
    p.add_argument("--reindex-every", type=float, default=60.0)
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--keep", action="store_true", help="keep the temporary archive home")
    args = p.parse_args(argv)
    meta: dict[str, object] = {
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
        log = open(home / "serve.log", "wb")  # noqa: SIM115 (closed with the server)
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/archive"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env_for(home),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=10).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "the server did not start:\n" + (home / "serve.log").read_text("utf-8", "replace")[-3000:]
                )
            time.sleep(0.1)
        meta["passages_start"] = count_passages(base)
        stats = Stats()
        stop = threading.Event()
        started = time.monotonic()
        threads = [
            threading.Thread(target=searcher, args=(base, stats, stop, seed, started), daemon=True)
            for seed in range(args.clients)
        ]
        threads.append(threading.Thread(target=adder, args=(base, stats, stop, args.add_every, 100_000)))
        threads.append(threading.Thread(target=reindexer, args=(base, stats, stop, args.reindex_every)))
        threads.append(
            threading.Thread(target=sampler, args=(server.pid, stats, stop, started, args.sample_every))
        )
        for t in threads:
            t.start()
        print(f"soaking for {args.seconds:g} s against {base}", flush=True)
        stop.wait(args.seconds)
        stop.set()
        for t in threads:
            t.join(120)
        meta["duration"] = time.monotonic() - started
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
        args.out.write_text(report(args, stats, meta, problems), encoding="utf-8")  # type: ignore[arg-type]
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


if __name__ == "__main__":
    sys.exit(main())
