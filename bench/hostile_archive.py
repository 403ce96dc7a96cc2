"""The archive side of `bench.hostile`: the archive built from the corpus, its server, `archive add` runs."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

from archive import Document, Taxonomy, analysis, budget, build_index, split

from . import corpus
from .hostile_requests import LONG_ID, MAX_URL_BYTES, Plan

ARCHIVE = Path(sys.executable).parent / "archive"


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
    """Index `n_passages` passages of the corpus and one long document into `home`: (figures, documents)."""
    started = time.perf_counter()
    documents = corpus.documents(n_passages)
    long_doc, rows = _long_document({d.id for d in documents}, long_passages, corpus.Facets())
    (home / "documents").mkdir(parents=True)
    build_index(home / "index", [*documents, long_doc], Taxonomy.load().fingerprint)
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
            counts.update(
                w for w in map(analysis.fold, re.findall(r"[^\W\d_]{3,}", p.text.lower())) if w.isascii()
            )
    return [
        w for w, _ in counts.most_common(limit + len(analysis.STOP_WORDS)) if w not in analysis.STOP_WORDS
    ][:limit]


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
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(home: Path) -> dict[str, str]:
    """The environment of an `archive` command on `home`: no other ARCHIVE_* setting, no rate limit."""
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
    """VmRSS and VmHWM of process `pid`, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


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
