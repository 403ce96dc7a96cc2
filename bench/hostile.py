"""Hostile requests against the bounds the service promises (README "Guarantees", docs/web.md "Limits").

Builds an archive from the real French corpus (bench/corpus.py, read in place): `--passages` passages of
one document per article, plus one long document of `--long-passages` passages made of the articles that
come next, indexed with `archive.indexer.build` as `bench.run` does, in a temporary folder. Serves it with
`archive serve` on a free 127.0.0.1 port (ARCHIVE_RATE_LIMIT=off, log to a file) and measures, in one run:

1. a one-word search and `/health` alone, then while 4 clients send heavy requests (64-word quoted
   phrases, wildcards, thousands of terms): nothing starves;
2. the heavy requests themselves: time to answer, the server's `took_ms`, the partial-results note;
3. a 1,700-value facet flood (`year=0&year=1&…`): time to the 400;
4. a CSV export of 10,000 rows alone and 4 at once, and a 5th while 4 stream (503);
5. a page of the long document (`?p=15000`) in JSON and HTML: time and size;
6. `archive add` of degenerate files, once the server has stopped: time per file and outcome.

Every figure is median / p95 / max over repeated requests; every loop is bounded in count and time.
Writes bench/results/hostile.md, then renders bench/RESULTS.md (`bench.report`), which points to it.

    .venv/bin/python -m bench.hostile            # about 5 minutes (`make bench-hostile`)
    .venv/bin/python -m bench.hostile --quick    # fewer repetitions, a 30 s load: about 2 minutes

Not part of `make test`. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlencode

import httpx

from archive import indexer
from archive.analysis import STOP_WORDS, fold
from archive.isolation import budget
from archive.models import Document
from archive.passages import split
from archive.searcher import PARTIAL_NOTE, SEARCH_DEADLINE
from archive.taxonomy import Taxonomy
from web.app import SEARCH_THREADS

from . import corpus, report, run

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "hostile.md"
ARCHIVE = Path(sys.executable).parent / "archive"
PARTIAL = PARTIAL_NOTE.format(seconds=SEARCH_DEADLINE)
LONG_ID = "registres/registre-long.txt"
TRIVIAL = "blanchiment"
EXPORT_WORD = "article"  # in about 45 % of the passages: a ranked export cut at its 10,000-row limit
FLOOD = "&".join(f"year={i}" for i in range(1700))
HEAVY_CLIENTS = 4
SLACK = 1.0  # seconds past the deadline for what follows matching (ranking, facets, highlights, JSON)
REQUEST_TIMEOUT = 120.0  # seconds: only a hang reaches it
MAX_URL_BYTES = 30_000  # under the service's 32 KB of query string, so that "thousands of terms" is searched
JSON = {"Accept": "application/json", "Accept-Encoding": "gzip"}
HTML = {"Accept": "text/html", "Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Plan:
    """How many times each measure is repeated, and how long the load lasts."""

    alone: int = 40  # one-word searches and /health alone, and the facet flood
    heavy_alone: int = 3  # each heavy request alone, before the load
    load_seconds: float = 180.0
    heavy_per_client: int = 100
    exports_alone: int = 5
    export_rounds: int = 3  # rounds of 4 exports at once, and rounds of a 5th while 4 stream
    pages: int = 10
    adds: int = 3


QUICK = Plan(
    heavy_alone=1,
    alone=15,
    load_seconds=30.0,
    heavy_per_client=20,
    exports_alone=3,
    export_rounds=2,
    pages=5,
    adds=2,
)


@dataclass(frozen=True)
class Sample:
    seconds: float
    status: int
    took_ms: float | None = None  # the server's own time, from a JSON search body
    partial: bool = False  # the answer carries the partial-results note
    size: int = 0  # body bytes, decoded
    wire: int = 0  # body bytes as sent (gzip when accepted)
    detail: str = ""  # an error code, a header, an outcome


@dataclass
class Recorder:
    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: dict[str, list[Sample]] = field(default_factory=lambda: collections.defaultdict(list))

    def add(self, name: str, sample: Sample) -> None:
        with self.lock:
            self.samples[name].append(sample)

    def __getitem__(self, name: str) -> list[Sample]:
        with self.lock:
            return list(self.samples.get(name, []))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------ the archive


def _long_document(used: set[str], n_passages: int, facets: corpus.Facets) -> tuple[Document, int]:
    """One document of `n_passages` passages: the articles that follow those already used, in order."""
    blocks = []
    count = rows = 0
    for row in corpus.row_stream(n_passages):
        if row.id in used:
            continue
        row_blocks = corpus.blocks_of(row)
        pieces = len(split(row_blocks, row.id, 40, 200))
        if not pieces:
            continue
        blocks += row_blocks
        count += pieces
        rows += 1
        if count >= n_passages + 500:  # merged paragraphs may give a few passages fewer than counted
            break
    passages = tuple(split(blocks, LONG_ID, 40, 200)[:n_passages])
    text = "\n\n".join(b.text for b in blocks).encode()
    sha = hashlib.sha256(text).hexdigest()
    metadata = facets.metadata(corpus.Row(LONG_ID, "Registre des textes", "1", "", ""))
    return Document(LONG_ID, sha, sha[:32], "txt", metadata, passages, len(text)), rows


def build_home(home: Path, n_passages: int, long_passages: int) -> tuple[dict[str, object], list[Document]]:
    started = time.perf_counter()
    documents = corpus.documents(n_passages)
    long_doc, rows = _long_document({d.id for d in documents}, long_passages, corpus.Facets())
    (home / "documents").mkdir(parents=True)
    indexer.build(home / "index", [*documents, long_doc], Taxonomy.load().fingerprint)
    info: dict[str, object] = {
        "documents": len(documents) + 1,
        "passages": sum(len(d.passages) for d in documents),
        "long_passages": len(long_doc.passages),
        "long_rows": rows,
        "seconds": time.perf_counter() - started,
    }
    return info, [*documents, long_doc]


def frequent_words(documents: list[Document], limit: int) -> list[str]:
    """The most frequent content words (accent-folded, letters only), most frequent first."""
    counts: collections.Counter[str] = collections.Counter()
    for d in documents:
        for p in d.passages:
            counts.update(w for w in map(fold, re.findall(r"[^\W\d_]{3,}", p.text.lower())) if w.isascii())
    return [w for w, _ in counts.most_common(limit + len(STOP_WORDS)) if w not in STOP_WORDS][:limit]


def heavy_queries(documents: list[Document]) -> dict[str, str]:
    """The attacks, by kind: each stays under 32 KB of query string, so each is searched, not refused."""
    words = frequent_words(documents, 3000)
    passage = next(
        p for d in documents for p in d.passages if len(p.text.split()) >= 80 and '"' not in p.text
    )
    grams = collections.Counter(w[i : i + 2] for w in words for i in range(len(w) - 1))
    many = list(words)
    while len(urlencode({"q": " ".join(many), "per_page": "100"})) > MAX_URL_BYTES:
        many = many[: len(many) * 9 // 10]
    return {
        "phrase-64 (text)": '"' + " ".join(passage.text.split()[:64]) + '"',
        f"phrase-64 ({words[0]} ×64)": '"' + " ".join([words[0]] * 64) + '"',
        "*a*": "*a*",
        "*e* *i* *o* *u*": "*e* *i* *o* *u*",
        "26 wildcards OR'ed": " OR ".join(f"*{c}*" for c in "abcdefghijklmnopqrstuvwxyz"),
        "64 wildcards OR'ed": " OR ".join(f"*{g}*" for g, _ in grams.most_common(64)),
        f"{len(many):,} words": " ".join(many),
    }


# ------------------------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_HOME=str(home), ARCHIVE_RATE_LIMIT="off", PYTHONDONTWRITEBYTECODE="1")
    return env


@contextlib.contextmanager
def serving(home: Path, log_file: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`archive serve` on a free loopback port, its log in `log_file`; (process, base URL) once it answers."""
    port = free_port()
    with open(log_file, "wb") as out:
        server = subprocess.Popen(
            [str(ARCHIVE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env_for(home),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=10).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "archive serve did not start:\n" + log_file.read_text("utf-8", "replace")[-3000:]
                )
            time.sleep(0.1)
        yield server, base
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def memory_mb(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


# ------------------------------------------------------------------------------------------ measuring


def get(client: httpx.Client, url: str, headers: dict[str, str]) -> Sample:
    """One GET, timed to its last byte; a JSON search body gives `took_ms` and the partial note."""
    started = time.perf_counter()
    try:
        r = client.get(url, headers=headers)
    except httpx.HTTPError as e:
        return Sample(time.perf_counter() - started, 0, detail=type(e).__name__)
    seconds = time.perf_counter() - started
    took, partial, detail = None, False, ""
    if r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        if isinstance(body.get("took_ms"), int | float):
            took = float(body["took_ms"])
        partial = PARTIAL in body.get("notes", ())
        if "error" in body:
            detail = f"{body['error']['code']} ({body.get('parameter', '')})"
    return Sample(seconds, r.status_code, took, partial, len(r.content), r.num_bytes_downloaded, detail)


def sequential(
    rec: Recorder,
    name: str,
    base: str,
    url: str,
    headers: dict[str, str],
    n: int,
    stop: threading.Event | None = None,
    pause: float = 0.0,
    seconds: float = 120.0,
) -> None:
    """`n` requests one after another (fewer if `stop` is set or `seconds` run out)."""
    ends = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        for _ in range(n):
            if (stop is not None and stop.is_set()) or time.monotonic() > ends:
                return
            rec.add(name, get(client, url, headers))
            if pause and stop is not None and stop.wait(pause):
                return


def search_url(q: str, **params: str) -> str:
    return "/search?" + urlencode({"q": q, **params})


def load_phase(rec: Recorder, base: str, heavy: dict[str, str], plan: Plan) -> None:
    """4 clients cycle through the heavy requests while one researcher searches a word and one polls /health."""
    stop = threading.Event()
    kinds = list(heavy)

    def attacker(offset: int) -> None:
        ends = time.monotonic() + plan.load_seconds
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            for i in range(plan.heavy_per_client):
                if stop.is_set() or time.monotonic() > ends:
                    return
                kind = kinds[(offset + i) % len(kinds)]
                rec.add("heavy:" + kind, get(client, search_url(heavy[kind], per_page="100"), JSON))

    attackers = [threading.Thread(target=attacker, args=(i * 2,)) for i in range(HEAVY_CLIENTS)]
    for t in attackers:
        t.start()
    time.sleep(1.0)  # every attacker has a request in the server before the researchers start; they
    # stop with the load window, while the attackers still have requests in flight
    cap = int(plan.load_seconds * 10)
    researchers = [
        threading.Thread(
            target=sequential,
            args=(rec, "search under load", base, search_url(TRIVIAL), JSON, cap),
            kwargs={"stop": stop, "pause": 0.25, "seconds": plan.load_seconds - 1.0},
        ),
        threading.Thread(
            target=sequential,
            args=(rec, "/health under load", base, "/health", JSON, cap),
            kwargs={"stop": stop, "pause": 0.25, "seconds": plan.load_seconds - 1.0},
        ),
    ]
    for t in researchers:
        t.start()
    for t in attackers:
        t.join(plan.load_seconds + 2 * REQUEST_TIMEOUT)
    stop.set()
    for t in researchers:
        t.join(2 * REQUEST_TIMEOUT)


def _csv_rows(text: str) -> tuple[int, list[str]]:
    """(data rows, the closing `#` lines) of an export."""
    rows = list(csv.reader(io.StringIO(text)))[1:]
    comments = [r[0] for r in rows if r and r[0].startswith("#")]
    return len(rows) - len(comments), comments


def export(client: httpx.Client, url: str) -> Sample:
    """A whole export, downloaded as `curl -OJ` does (no compression), timed to its last byte."""
    started = time.perf_counter()
    r = client.get(url, headers={"Accept-Encoding": "identity"})
    seconds = time.perf_counter() - started
    if r.status_code != 200:
        return Sample(seconds, r.status_code, detail=r.headers.get("retry-after", ""))
    rows, comments = _csv_rows(r.text)
    detail = f"{rows} rows, truncated={r.headers.get('x-export-truncated')}"
    return Sample(
        seconds,
        200,
        partial=r.headers.get("x-export-partial") == "true",
        size=len(r.content),
        detail=detail + (f", last line {comments[-1][:40]!r}" if comments else ""),
    )


def export_phase(rec: Recorder, base: str, plan: Plan) -> None:
    url = search_url(EXPORT_WORD, format="csv")
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        for _ in range(plan.exports_alone):
            rec.add("export alone", export(client, url))

    def together(barrier: threading.Barrier) -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as c:
            barrier.wait(REQUEST_TIMEOUT)
            rec.add("export, 4 at once", export(c, url))

    for _ in range(plan.export_rounds):  # 4 at once, each on its own connection
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=together, args=(barrier,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(3 * REQUEST_TIMEOUT)
    for _ in range(plan.export_rounds):  # a 5th while 4 stream: their headers are in, their bodies unread
        with contextlib.ExitStack() as stack:
            holding = []
            for _ in range(4):
                c = stack.enter_context(httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT))
                holding.append(
                    stack.enter_context(c.stream("GET", url, headers={"Accept-Encoding": "identity"}))
                )
            with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as c:
                rec.add("export, a 5th while 4 stream", export(c, url))
            for r in holding:  # drain: each of the 4 still ends with all its rows
                started = time.perf_counter()
                rows, _ = _csv_rows(r.read().decode())
                rec.add(
                    "export, the 4 held",
                    Sample(time.perf_counter() - started, r.status_code, detail=f"{rows} rows"),
                )


def page(rec: Recorder, base: str, plan: Plan) -> int:
    """The long document's page holding passage 15000, as JSON and as HTML, each checked; its number."""
    url = f"/documents/{quote(LONG_ID)}?p=15000"
    checks: dict[str, Callable[[httpx.Response], bool]] = {
        "JSON": lambda r: len(b := r.json()["passages"]) == 200 and any(p["position"] == 15000 for p in b),
        "HTML": lambda r: 'id="p15000"' in r.text,
    }
    number = 0
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        for fmt, headers in (("JSON", JSON), ("HTML", HTML)):
            for _ in range(plan.pages):
                started = time.perf_counter()
                r = client.get(url, headers=headers)
                seconds = time.perf_counter() - started
                ok = r.status_code == 200 and checks[fmt](r)
                if fmt == "JSON" and ok:
                    number = int(r.json()["page"])
                rec.add(
                    f"document page ({fmt})",
                    Sample(
                        seconds,
                        r.status_code,
                        size=len(r.content),
                        wire=r.num_bytes_downloaded,
                        detail="ok" if ok else "wrong page",
                    ),
                )
    return number


@dataclass(frozen=True)
class Added:
    """One `archive add` of a file."""

    seconds: float  # wall time of the command
    cpu: float  # CPU seconds of the command and its reader process (RUSAGE_CHILDREN)
    code: int
    outcome: str  # the command's line for the file: `added NAME (N passages)` or `rejected NAME: reason`


Adds = dict[str, tuple[int, list[Added]]]
"""By file name: its size in bytes, and one Added per run."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def add_phase(home: Path, files: Path, plan: Plan, reference: str) -> Adds:
    """`archive add FILE --to degenerate` for each file, `plan.adds` times (removed again in between)."""
    made = {
        "reference.txt": reference.encode(),
        "one-word.txt": b"a" * 10_000_000,
        "dots.txt": b"." * 2_000_000,
        "brackets.md": (b"[" * 200_000 + b"\n\n" + b">" * 100_000 + b"\n\n") * 4,
    }
    files.mkdir(parents=True, exist_ok=True)
    out: Adds = {}
    for name, data in made.items():
        path = files / name
        path.write_bytes(data)
        out[name] = (len(data), [])
        for _ in range(plan.adds):
            started, cpu = time.perf_counter(), _children_cpu()
            done = subprocess.run(
                [str(ARCHIVE), "add", str(path), "--to", "degenerate"],
                env=env_for(home),
                capture_output=True,
                text=True,
                timeout=budget(len(data)) + 300,
            )
            seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
            outcome = " ".join((done.stdout.strip().splitlines() or [done.stderr.strip()[-200:]])[0].split())
            out[name][1].append(Added(seconds, cpu, done.returncode, outcome))
            if outcome.startswith("added"):
                subprocess.run(
                    [str(ARCHIVE), "remove", f"degenerate/{name}"],
                    env=env_for(home),
                    capture_output=True,
                    check=True,
                    timeout=300,
                )
    return out


# ------------------------------------------------------------------------------------------- the report


def _t(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "–"
    return (
        f"{seconds * 1000:.1f} ms"
        if seconds < 0.1
        else (f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s")
    )


def _bytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def summary(values: list[float]) -> str:
    """median / p95 / max (nearest-rank p95)."""
    if not values:
        return "– / – / –"
    return " / ".join(_t(v) for v in (statistics.median(values), report.percentile(values, 95), max(values)))


def _statuses(samples: list[Sample]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(collections.Counter(s.status for s in samples).items()))


def _row(name: str, samples: list[Sample], *extra: str) -> str:
    cells = [name, str(len(samples)), summary([s.seconds for s in samples]), _statuses(samples), *extra]
    return "| " + " | ".join(cells) + " |"


def _short(q: str, width: int = 70) -> str:
    q = q.replace("|", "\\|")
    return f"`{q}`" if len(q) <= width else f"`{q[: width - 1]}…` ({len(q):,} chars)"


@dataclass
class Run:
    """Everything the report needs."""

    meta: dict[str, str]
    info: dict[str, object]
    heavy: dict[str, str]
    rec: Recorder
    plan: Plan
    adds: Adds
    memory: dict[str, float]
    server_errors: collections.Counter[str]
    export_total: str
    page_number: int


def _heavy(r: Run) -> list[tuple[str, Sample]]:
    """Every heavy search sent, alone and under load, with its kind."""
    return [(k, s) for k in r.heavy for name in ("heavy alone:", "heavy:") for s in r.rec[name + k]]


class Verdict(NamedTuple):
    bound: str
    holds: bool
    measured: str
    explained: bool = False  # `findings` says more about it than the verdict when it does not hold


def verdicts(r: Run) -> list[Verdict]:
    """For every promise this run can check: does it hold, and what was measured."""
    nan = float("nan")
    searches, health = r.rec["search under load"], r.rec["/health under load"]
    slowest = max((s.seconds for s in searches), default=nan)
    limit = SEARCH_DEADLINE + SLACK
    wait = -(-HEAVY_CLIENTS // SEARCH_THREADS) * limit
    heavy = _heavy(r)
    over = [(k, s) for k, s in heavy if (s.took_ms or 0) > limit * 1000 and not s.partial]
    worst = max(over, key=lambda ks: ks[1].took_ms or 0.0) if over else None
    flood = r.rec["facet flood"]
    exports = r.rec["export alone"] + r.rec["export, 4 at once"] + r.rec["export, the 4 held"]
    fifth = r.rec["export, a 5th while 4 stream"]
    pages = r.rec["document page (JSON)"] + r.rec["document page (HTML)"]
    adds = [(size, a) for size, runs in r.adds.values() for a in runs]
    return [
        Verdict(
            f"Nothing starves: a one-word search and `/health` are answered while {HEAVY_CLIENTS} clients send "
            "heavy requests",
            bool(searches and health) and all(s.status == 200 for s in searches + health),
            f"{len(searches) + len(health)} answered, statuses {_statuses(searches + health)}; slowest search "
            f"{_t(slowest)}, slowest /health {_t(max((s.seconds for s in health), default=nan))}",
        ),
        Verdict(
            f"(derived) A one-word search waits at most for the heavy searches ahead of it: {HEAVY_CLIENTS} "
            f"clients, {SEARCH_THREADS} search threads in arrival order, {SEARCH_DEADLINE:g} s each (+{SLACK:g} s "
            f"to rank and render): {wait:g} s",
            slowest <= wait,
            f"slowest of {len(searches)}: {_t(slowest)} ({slowest / wait:.1f}× the {wait:g} s)",
            explained=True,
        ),
        Verdict(
            f"Matching stops after {SEARCH_DEADLINE:g} s: any query text holds a search thread about "
            f"{SEARCH_DEADLINE:g} s at most (+{SLACK:g} s to rank and render), or its answer says « recherche "
            "arrêtée »",
            bool(heavy) and not over and all(s.status == 200 for _, s in heavy),
            f"{len(heavy)} heavy searches, statuses {_statuses([s for _, s in heavy])}; "
            + (
                f"{len(over)} took over {limit:g} s in the server (`took_ms`) without the note, from "
                f"{len({k for k, _ in over})} kinds; worst {(worst[1].took_ms or 0) / 1000:.1f} s ({worst[0]})"
                if worst
                else f"none took over {limit:g} s in the server without the note"
            ),
            explained=True,
        ),
        Verdict(
            "At most 20 values of one facet: the 1,700-value flood answers 400 naming the facet",
            bool(flood) and all(s.status == 400 and s.detail == "bad_parameter (year)" for s in flood),
            f"{len(flood)} floods: {_statuses(flood)}, {', '.join(sorted({s.detail for s in flood}))}; slowest "
            f"{_t(max((s.seconds for s in flood), default=nan))}",
        ),
        Verdict(
            "At most 4 exports stream at once: a 5th answers 503 with Retry-After; an export stops at 10,000 rows",
            bool(fifth and exports)
            and all(s.status == 503 and s.detail for s in fifth)
            and all(s.status == 200 and s.detail.startswith("10000 rows") for s in exports),
            f"the 5th: {_statuses(fifth)}, Retry-After {', '.join(sorted({s.detail for s in fifth}))}; "
            f"{len(exports)} exports: {', '.join(sorted({s.detail.split(',')[0] for s in exports}))}",
        ),
        Verdict(
            "A document is served 200 passages per page; `?p=15000` opens the page holding passage 15000",
            bool(pages) and all(s.status == 200 and s.detail == "ok" for s in pages),
            f"{len(pages)} pages: {_statuses(pages)}, largest {_bytes(max((s.size for s in pages), default=0))}",
        ),
        Verdict(
            "Degenerate files are added or refused with a reason, each read within its budget (2.5 s + 10 s per "
            "MB of the reader's CPU; checked here on the CPU of the whole command, reader included)",
            bool(adds) and all(a.code in (0, 1) and a.cpu <= budget(size) for size, a in adds),
            "; ".join(
                f"{n}: {runs[0].outcome.split(' ', 1)[0]}, CPU {_t(max(a.cpu for a in runs))} at most (budget "
                f"{budget(size):.1f} s)"
                for n, (size, runs) in r.adds.items()
                if runs
            ),
        ),
    ]


def render(r: Run) -> str:
    m = r.meta
    info = r.info
    lines = [
        "# Hostile requests (`make bench-hostile`)",
        "",
        f"- date: {m['date']} (UTC); command: `{m['command']}`; wall time {m['duration']}",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, Linux {m['kernel']}, Python "
        f"{m['python']}; load average at start / end: {m['load_start']} / {m['load_end']}. **The machine is "
        "shared and noisy**: other jobs use these CPUs, and the server and every client run on them too, so "
        "read the figures as orders of magnitude and compare rows of this run with each other",
        f"- core: {m['commit']} (archive/*.py digest {m['digest']})"
        + (
            ""
            if m["digest_end"] == m["digest"]
            else f". **archive/ changed during the run** (digest {m['digest_end']} at the end): the server kept "
            "the core it started with, later `archive` commands may have run another"
        ),
        f"- archive: {info['documents']:,} documents: {info['passages']:,} passages of `codes-all` (one document "
        f"per article, bench/corpus.py) and one document of {info['long_passages']:,} passages (`{LONG_ID}`, the "
        f"next {info['long_rows']:,} articles in order), read in place from ../shared/corpus and built with "
        f"`archive.indexer.build` in {float(str(info['seconds'])):.0f} s into a temporary home",
        "- server: `archive serve --host 127.0.0.1 --port <free port>` with `ARCHIVE_RATE_LIMIT=off`, its log in "
        f"a file; peak RSS after the HTTP measures {r.memory.get('VmHWM', 0):,.0f} MB; exceptions in its log: "
        + (", ".join(f"{n} × `{e}`" for e, n in r.server_errors.most_common(5)) or "none"),
        "- clients: httpx from this process (one connection per client thread), JSON and HTML requests with "
        "`Accept-Encoding: gzip`, exports without; times are to the last byte of the body, client side. "
        "Figures are **median / p95 / max** (p95 nearest-rank).",
        "",
        "## Summary: the bounds, checked on this run",
        "",
        "| bound (README « Guarantees », docs/web.md « Limits ») | on this run | measured |",
        "| --- | --- | --- |",
    ]
    for v in verdicts(r):
        lines.append(f"| {v.bound} | {'**holds**' if v.holds else '**does not hold**'} | {v.measured} |")
    rec = r.rec
    lines += [
        "",
        f"## 1. Searches while {HEAVY_CLIENTS} clients send heavy requests",
        "",
        f"A one-word search (`/search?q={TRIVIAL}`, JSON, 10 hits) and `/health`, each from its own client, one "
        f"request every 0.25 s after the previous answer, first alone, then for {m['load_seconds']} s while "
        f"{HEAVY_CLIENTS} clients send the heavy requests of section 2 back to back (per_page=100).",
        "",
        "| request | n | median / p95 / max | statuses |",
        "| --- | ---: | --- | --- |",
        _row(f"`{TRIVIAL}` alone", rec["search alone"]),
        _row(f"`{TRIVIAL}` under load", rec["search under load"]),
        _row("`/health` alone", rec["/health alone"]),
        _row("`/health` under load", rec["/health under load"]),
        "",
        "## 2. The heavy requests",
        "",
        f"Each kind alone first ({r.plan.heavy_alone} in a row), then sent back to back by {HEAVY_CLIENTS} "
        f"clients, each cycling through the kinds, so that each waits its turn for one of the {SEARCH_THREADS} "
        "search threads. `took_ms` is the server's own time, from the moment a search thread takes the request "
        f"(JSON, per_page=100); « partial »: answers carrying « {PARTIAL} », of all sent.",
        "",
        "| kind | query | alone: took_ms, max | under load: n | time to answer: median / p95 / max | "
        "took_ms: median / max | partial | statuses |",
        "| --- | --- | ---: | ---: | --- | --- | ---: | --- |",
    ]
    for kind, q in r.heavy.items():
        alone, loaded = rec["heavy alone:" + kind], rec["heavy:" + kind]
        took = [x.took_ms / 1000 for x in loaded if x.took_ms is not None]
        lines.append(
            f"| {kind} | {_short(q)} | {_t(max((x.took_ms or 0) / 1000 for x in alone)) if alone else '–'} | "
            f"{len(loaded)} | {summary([x.seconds for x in loaded])} | "
            f"{_t(statistics.median(took)) + ' / ' + _t(max(took)) if took else '–'} | "
            f"{sum(x.partial for x in alone + loaded)} / {len(alone + loaded)} | {_statuses(alone + loaded)} |"
        )
    flood = rec["facet flood"]
    lines += [
        "",
        "## 3. The facet flood",
        "",
        f"`/search?year=0&year=1&…&year=1699` (1,700 values, {len(FLOOD):,} bytes of query string), JSON, alone.",
        "",
        "| request | n | time to the answer: median / p95 / max | statuses | error |",
        "| --- | ---: | --- | --- | --- |",
        _row("facet flood", flood, ", ".join(sorted({s.detail for s in flood}))),
        "",
        "## 4. CSV export",
        "",
        f"`/search?q={EXPORT_WORD}&format=csv` ({r.export_total} matching passages): every row up to the 10,000-row "
        "limit, downloaded whole. « 4 at once »: 4 clients start together, each timed; « a 5th »: 4 exports are "
        "opened and their headers read, their bodies left unread, then a 5th is sent; the 4 are then read to "
        "the end.",
        "",
        "| request | n | time to last byte: median / p95 / max | statuses | rows, truncated / Retry-After |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for name in ("export alone", "export, 4 at once", "export, a 5th while 4 stream", "export, the 4 held"):
        lines.append(_row(name, rec[name], "; ".join(sorted({x.detail for x in rec[name]}))))
    sizes = rec["export alone"]
    lines.append(
        "\n« the 4 held »: the time to read each of them to the end once the 5th was answered."
        + (f" One export is {sizes[0].size / 1e6:,.1f} MB of CSV." if sizes else "")
    )
    lines += [
        "",
        "## 5. A page of the long document",
        "",
        f"`/documents/{LONG_ID}?p=15000` (passage 15,000 of {info['long_passages']:,}: page {r.page_number} "
        "of 200 passages), alone. Size: the body as decoded, and as sent gzipped.",
        "",
        "| request | n | median / p95 / max | statuses | body (decoded / gzipped) |",
        "| --- | ---: | --- | --- | --- |",
    ]
    total = int(str(info["passages"])) + int(str(info["long_passages"]))
    for name in ("document page (JSON)", "document page (HTML)"):
        s = rec[name]
        size = f"{_bytes(s[0].size)} / {_bytes(s[0].wire)}" if s else "–"
        lines.append(_row(name, s, size))
    lines += [
        "",
        "## 6. `archive add` of degenerate files",
        "",
        "`archive add FILE --to degenerate` on the served home once the server has stopped (an incremental "
        f"commit on the {total:,}-passage index), then `archive remove` before the next run of the same file. The "
        "times are the command's, Python's start and the commit included (the reference file, 2 kB of the "
        "corpus, shows that part): its wall time, and the CPU time of the command and its reader process. The "
        "reader's budget is its own CPU time in the worker process (2.5 s + 10 s per MB).",
        "",
        "| file | size | n | wall time: median / p95 / max | CPU: median / max | reader budget | exit | outcome |",
        "| --- | ---: | ---: | --- | --- | ---: | --- | --- |",
    ]
    what = {
        "reference.txt": "French text of the corpus (reference)",
        "one-word.txt": "one 10 MB word (`a` × 10,000,000)",
        "dots.txt": "2 MB of dots",
        "brackets.md": "4 × (`[` × 200,000, `>` × 100,000)",
    }
    for name, (nbytes, runs) in r.adds.items():
        cpu = [a.cpu for a in runs]
        lines.append(
            f"| `{name}`: {what[name]} | {_bytes(nbytes)} | {len(runs)} | {summary([a.seconds for a in runs])} | "
            f"{_t(statistics.median(cpu)) + ' / ' + _t(max(cpu)) if cpu else '–'} | {budget(nbytes):.1f} s | "
            f"{', '.join(sorted({str(a.code) for a in runs}))} | {'; '.join(sorted({a.outcome for a in runs}))} |"
        )
    return "\n".join(lines + findings(r)) + "\n"


def findings(r: Run) -> list[str]:
    """What did not hold, with its figures and how to see it again; nothing when every bound held."""
    out: list[str] = []
    limit = SEARCH_DEADLINE + SLACK
    over: dict[str, list[Sample]] = collections.defaultdict(list)
    for kind, sample in _heavy(r):
        if (sample.took_ms or 0) > limit * 1000 and not sample.partial:
            over[kind].append(sample)
    if over:
        alone = {k: max((s.took_ms or 0) / 1000 for s in r.rec["heavy alone:" + k]) for k in over}
        shortest = min(over, key=lambda k: len(r.heavy[k]))
        out += [
            f"- **The {SEARCH_DEADLINE:g} s deadline does not bound every query text.** "
            + "; ".join(
                f"`{k}`: {len(v)} answers over {limit:g} s of server time without the note, up to "
                f"{max(s.took_ms or 0 for s in v) / 1000:.1f} s (alone: {alone[k]:.1f} s)"
                for k, v in over.items()
            )
            + ". No « recherche arrêtée » note: matching finished in time, and the rest of the search (what "
            "follows matching and is not checked against the deadline) held a search thread that long. With "
            f"{SEARCH_THREADS} search threads, {SEARCH_THREADS} such requests hold the whole service's searching.",
            "  Reproduce: `.venv/bin/python -m bench.hostile --keep` (or any archive of this size), then "
            "`ARCHIVE_HOME=<kept>/home .venv/bin/archive serve --port 8765` and "
            f"`curl -sG http://127.0.0.1:8765/search --data-urlencode 'q={r.heavy[shortest]}' -d per_page=100 "
            "| jq '.took_ms, .notes'`: `took_ms` far above "
            f"{SEARCH_DEADLINE * 1000:,.0f}, and no « recherche arrêtée » among the notes.",
        ]
    searches = r.rec["search under load"]
    wait = -(-HEAVY_CLIENTS // SEARCH_THREADS) * limit
    if searches and max(s.seconds for s in searches) > wait:
        out.append(
            f"- **A one-word search waited up to {max(s.seconds for s in searches):.1f} s** behind the heavy "
            f"searches (alone: {_t(max((s.seconds for s in r.rec['search alone']), default=float('nan')))}); the "
            f"turns it waits for are as long as the heavy searches that hold the threads, so the "
            f"{wait:g} s the deadline implies hold only if the deadline bounds every search."
        )
    for v in verdicts(r):
        if not v.holds and not v.explained:
            out.append(f"- **Not held: {v.bound}.** Measured: {v.measured}.")
    return ["", "## Findings", "", *(out or ["Every bound checked here held on this run."])]


# --------------------------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--passages", type=int, default=20_000)
    p.add_argument("--long-passages", type=int, default=20_000)
    p.add_argument("--quick", action="store_true", help="fewer repetitions and a 30 s load")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--keep", action="store_true", help="keep the temporary archive home and the server log")
    args = p.parse_args(argv)
    if not corpus.available():
        raise SystemExit(f"the benchmark corpus is absent: {corpus.CORPUS_DIR}")
    plan = QUICK if args.quick else Plan()
    began = time.monotonic()
    machine, source = run.machine(), run.source_state()
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(
            [".venv/bin/python -m bench.hostile", *(argv if argv is not None else sys.argv[1:])]
        ),
        "load_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "load_seconds": f"{plan.load_seconds:g}",
        "commit": source["commit"],
        "digest": source["archive_digest"],
        **{k: str(v) for k, v in machine.items()},
    }
    work = Path(tempfile.mkdtemp(prefix="archive-hostile-"))
    home = work / "home"
    try:
        log(f"building {args.passages:,} + {args.long_passages:,} passages in {home}")
        info, documents = build_home(home, args.passages, args.long_passages)
        heavy = heavy_queries(documents)
        reference = "\n\n".join(p.text for d in documents[:40] for p in d.passages)[:2000].rsplit(" ", 1)[0]
        del documents
        rec = Recorder()
        log(f"built in {float(str(info['seconds'])):.0f} s; serving")
        with serving(home, work / "serve.log") as (server, base):
            with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as c:
                for url in (search_url(TRIVIAL), f"/documents/{quote(LONG_ID)}?p=1", "/health"):
                    c.get(url, headers=JSON)  # the first requests open the generation and fill its caches
                export_total = c.get(search_url(EXPORT_WORD), headers=JSON).json()["total"]
            log("alone: a one-word search, /health")
            sequential(rec, "search alone", base, search_url(TRIVIAL), JSON, plan.alone)
            sequential(rec, "/health alone", base, "/health", JSON, plan.alone)
            log("each heavy request alone")
            for kind, q in heavy.items():
                sequential(
                    rec, "heavy alone:" + kind, base, search_url(q, per_page="100"), JSON, plan.heavy_alone
                )
            log(f"under load: {HEAVY_CLIENTS} clients send heavy requests for {plan.load_seconds:g} s")
            load_phase(rec, base, heavy, plan)
            log("facet flood")
            sequential(rec, "facet flood", base, "/search?" + FLOOD, JSON, plan.alone, seconds=120)
            log("exports")
            export_phase(rec, base, plan)
            log("the long document's page")
            page_number = page(rec, base, plan)
            memory = memory_mb(server.pid)
        server_errors = collections.Counter(
            line.strip()
            for line in (work / "serve.log").read_text("utf-8", "replace").splitlines()
            if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)
        )
        log("archive add of degenerate files")
        adds = add_phase(home, work / "files", plan, reference)
        meta["load_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        meta["digest_end"] = run.source_state()["archive_digest"]
        meta["duration"] = f"{(time.monotonic() - began) / 60:.1f} min"
        result = Run(
            meta, info, heavy, rec, plan, adds, memory, server_errors, f"{export_total:,}", page_number
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render(result), encoding="utf-8")
        if args.out == OUT:
            report.write()
        print(args.out.read_text(encoding="utf-8"))
        missed = [v.bound for v in verdicts(result) if not v.holds]
        log(f"done: {args.out}; bounds not held on this run: {len(missed)} (see its Findings)")
        return 0  # like bench.run, a bound that does not hold is a result, recorded, not a failed run
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
