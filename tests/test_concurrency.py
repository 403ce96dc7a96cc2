"""Concurrency over real HTTP: searches during reindexes, and two writers at once.

Every test has its own `archive serve` process (uvicorn, a free loopback port, a token, its log in a
file) over its own copy of a home of about 100 generated French documents, so that each passes alone and
in any order. Client threads search continuously while an incremental or a full reindex runs, started
over HTTP (`POST /reindex`) or by the CLI in another process: every answer must be a 200 that is exactly
the old answer or exactly the new one (total, documents, facets, hits), never a mixture, never the old
one again once a client has seen the new one, and always the new one once the writer has finished. Then
two writers at once (CLI + HTTP, two CLIs): one waits or gets a clear "busy" answer. After every writer,
`archive check` passes, every document is found once and no writer left anything behind.

The kill tests (SIGKILL at many points) are in test_reindex.py; full disk and read-only storage in
test_faults.py.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from archive.home import Archive
from archive.settings import Settings

from .conftest import archive_env, serving, wait_until

TOKEN = "concurrency-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_DOCS = 100
STABLE = "quetzal"  # in documents 0..29, which no test changes
CLIENTS = 6

CITIES = ["Marseille", "Lyon", "Lille", "Bordeaux", "Nantes", "Toulouse", "Nice", "Rennes"]
AGENCIES = ["la gendarmerie", "la police judiciaire", "la douane", "l'OFAST", "Europol", "Tracfin"]
OFFENCES = ["blanchiment aggravé", "trafic de stupéfiants", "escroquerie", "proxénétisme", "corruption"]
THINGS = ["des véhicules de luxe", "des comptes bancaires", "des lingots d'or", "des cryptoactifs"]


def code_word(i: int) -> str:
    """A made-up word found only in document i (letters only: the analyzer keeps it whole)."""
    letters = "bcdfghjklmnpqrstvwxz"
    out = ""
    while True:
        out = letters[i % 20] + out
        i //= 20
        if not i:
            return f"zq{out}ux"


def generated(i: int, marker: str = "", year: int | None = None) -> str:
    """A made-up French article, deterministic in i, with its own code word in the title and the text."""
    r = random.Random(i)
    paragraphs = [
        " ".join(
            f"Les enquêteurs de {r.choice(AGENCIES)} ont interpellé {r.randint(2, 40)} personnes à "
            f"{r.choice(CITIES)} dans une affaire de {r.choice(OFFENCES)} et ont saisi {r.choice(THINGS)}."
            for _ in range(r.randint(3, 5))
        )
        for _ in range(r.randint(2, 4))
    ]
    paragraphs[0] += f" Référence du dossier : {code_word(i)}."
    if i < 30:
        paragraphs.append(f"Le navire {STABLE}, affrété par le réseau, a été immobilisé au port de Sète.")
    if marker:
        paragraphs.append(f"Un {marker} a été retrouvé dans la cale du navire saisi par les douaniers.")
    date = f"{year or 2015 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    return f'---\ntitle: "Affaire {code_word(i)} à {r.choice(CITIES)}"\ndate: {date}\n---\n\n' + "\n\n".join(
        paragraphs
    )


def doc_path(i: int, folder: str = "") -> str:
    return f"{folder or 2015 + i % 10}/article-{i:04d}.md"


def env_for(home: Path) -> dict[str, str]:
    return archive_env(home, ARCHIVE_TOKEN=TOKEN)


def cli(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "archive", *args],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for_lock(home: Path, holder: str, proc: subprocess.Popen[str] | None = None) -> None:
    """Until the write lock's holder record names `holder` (it is written once the flock is taken)."""
    lock = home / "index" / "write.lock"
    deadline = time.monotonic() + 20
    while True:
        try:
            if lock.read_text(encoding="utf-8").startswith(holder):
                return
        except FileNotFoundError:
            pass
        assert proc is None or proc.poll() is None, f"the writer ended before taking the lock: {finish(proc)}"
        assert time.monotonic() < deadline, f"nobody took the write lock as {holder!r}"
        time.sleep(0.005)


@dataclass
class Server:
    home: Path
    base: str
    proc: subprocess.Popen[bytes]
    log: Path
    added: dict[str, str] = field(default_factory=dict)  # document id -> code word, every stored doc

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, headers={"Accept": "application/json"})

    def write(self, docs: dict[int, str], folder: str = "", year: int | None = None) -> None:
        """Drop documents into documents/ by hand (a reindex picks them up)."""
        for i, marker in docs.items():
            path = self.home / "documents" / doc_path(i, folder)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(generated(i, marker, year), encoding="utf-8")
            self.added[doc_path(i, folder)] = code_word(i)

    def healthy(self) -> bool:
        try:
            return bool(httpx.get(f"{self.base}/health", timeout=5).json()["status"] == "ok")
        except httpx.TransportError:
            return False


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home of N_DOCS generated documents, indexed once; every test serves a copy of its own."""
    home = tmp_path_factory.mktemp("served")
    for i in range(N_DOCS):
        path = home / "documents" / doc_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generated(i), encoding="utf-8")
    archive = Archive(Settings(home=home))
    try:
        archive.reindex()
    finally:
        archive.close()
    return home


@pytest.fixture
def server(template: Path, tmp_path: Path) -> Iterator[Server]:
    """`archive serve` over a copy of the template, for one test (tests write to it)."""
    home = tmp_path / "served"
    shutil.copytree(template, home, symlinks=True)
    log = tmp_path / "serve.log"
    with serving(env_for(home), log) as (proc, base):
        yield Server(home, base, proc, log, {doc_path(i): code_word(i) for i in range(N_DOCS)})


# ---------------------------------------------------------------- readers during a reindex


def _body(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    body.pop("took_ms", None)
    return dict(body)


@dataclass
class Seen:
    started: float
    ended: float
    query: str
    status: int
    body: dict[str, Any] | str


def _search_continuously(srv: Server, queries: list[str], stop: threading.Event, out: list[Seen]) -> None:
    with srv.client() as client:
        while not stop.is_set():
            for q in queries:
                started = time.monotonic()
                try:
                    r = client.get("/search", params={"q": q, "per_page": "5"})
                    body: dict[str, Any] | str = _body(r) if r.status_code == 200 else r.text[:300]
                    status = r.status_code
                except Exception as e:  # a reset or a timeout is an error like a 5xx
                    body, status = f"{type(e).__name__}: {e}", 0
                out.append(Seen(started, time.monotonic(), q, status, body))


def _answers(srv: Server, queries: list[str]) -> dict[str, dict[str, Any]]:
    with srv.client() as client:
        out = {}
        for q in queries:
            r = client.get("/search", params={"q": q, "per_page": "5"})
            assert r.status_code == 200, r.text
            out[q] = _body(r)
        return out


def _reindex_over_http(srv: Server, full: bool) -> Callable[[], None]:
    def run() -> None:
        with srv.client() as client:
            r = client.post("/reindex", params={"full": str(full).lower()}, headers=AUTH)
            assert r.status_code == 202, r.text
            job = r.json()["job"]
            deadline = time.monotonic() + 60
            while (state := client.get(f"/jobs/{job}").json())["state"] not in ("done", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert state["state"] == "done", state

    return run


def _reindex_by_cli(srv: Server, full: bool) -> Callable[[], None]:
    def run() -> None:
        code, out, err = finish(cli(srv.home, "reindex", *(["--full"] if full else [])))
        assert code == 0, out + err

    return run


SCENARIOS = [
    pytest.param(False, "http", "pangolin", id="incremental-over-http"),
    pytest.param(False, "cli", "ocelot", id="incremental-by-cli"),
    pytest.param(True, "http", "narval", id="full-over-http"),
    pytest.param(True, "cli", "axolotl", id="full-by-cli"),
]


@pytest.mark.parametrize(("full", "via", "marker"), SCENARIOS)
def test_searches_see_the_old_index_until_the_swap_and_the_new_one_after(
    server: Server, full: bool, via: str, marker: str
) -> None:
    first = 1000  # new document numbers
    queries = [
        STABLE,  # only in documents that stay the same: never changes
        marker,  # only in the new documents: 0 until the swap
        f"{marker[:5]}*",  # through the vocabulary (prefix expansion)
        f"{STABLE} OR {marker}",
        "",  # browse everything: total, documents and every facet at once
    ]
    old = _answers(server, queries)
    assert old[STABLE]["total"] >= 30 and old[marker]["total"] == 0
    # 20 new documents, dated 2026 (a new year in the facets), carrying the marker
    server.write({first + k: marker for k in range(20)}, folder="2026", year=2026)
    stop = threading.Event()
    clients = []
    for c in range(CLIENTS):
        rotated = queries[c % len(queries) :] + queries[: c % len(queries)]
        out: list[Seen] = []
        clients.append(
            (threading.Thread(target=_search_continuously, args=(server, rotated, stop, out)), out)
        )
    for thread, _ in clients:
        thread.start()
    try:
        wait_until(lambda: all(out for _, out in clients), "an answer to every client", poll=0.01)
        writer_started = time.monotonic()
        (_reindex_over_http if via == "http" else _reindex_by_cli)(server, full)()
        writer_done = time.monotonic()
        wait_until(
            lambda: all(out[-1].started > writer_done for _, out in clients),
            "every client to search again after the reindex",
            poll=0.01,
        )
    finally:
        stop.set()
        for thread, _ in clients:
            thread.join(30)
    new = _answers(server, queries)
    assert new[marker]["documents"] == 20
    assert new[STABLE]["total"] == old[STABLE]["total"]
    assert new[f"{marker[:5]}*"]["total"] == new[marker]["total"], "prefix expansion missed the new word"

    problems, during = _judged([out for _, out in clients], old, new, writer_started, writer_done)
    seen = [s for _, out in clients for s in out]
    assert not problems, f"{len(problems)} bad answers out of {len(seen)}:\n" + "\n".join(problems[:15])
    assert during >= CLIENTS, "too few searches overlapped the reindex to prove anything"
    assert_in_one_piece(server)


def test_phrase_and_range_queries_answer_over_http(server: Server) -> None:
    """Queries Whoosh evaluates itself run under a time budget, in the server's worker threads."""
    failures = []
    with server.client() as client:
        for q in ('"comptes bancaires"', "year:[2016 TO 2018]", 'title:affaire "lingots d\'or"'):
            r = client.get("/search", params={"q": q})
            if r.status_code != 200 or not r.json()["total"]:
                failures.append(f"{q!r}: HTTP {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- two writers at once


def _job_outcome(srv: Server, job: str) -> dict[str, Any]:
    with srv.client() as client:
        deadline = time.monotonic() + 60
        while (state := client.get(f"/jobs/{job}").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return dict(state)


def _busy(code: int, err: str) -> bool:
    return code == 1 and "already running" in err


def test_cli_full_reindex_and_http_reindex_at_once(server: Server) -> None:
    proc = cli(server.home, "reindex", "--full")
    wait_for_lock(server.home, "reindex --full", proc)
    with server.client() as client:
        r = client.post("/reindex", headers=AUTH)
    assert r.status_code == 202, r.text  # accepted: the job waits for the CLI's lock
    code, out, err = finish(proc)
    assert code == 0, out + err
    state = _job_outcome(server, r.json()["job"])
    # the job waited for the lock and then found nothing to do, or gave up with a clear "busy"
    assert state["state"] == "done" or [e["code"] for e in state["errors"]] == ["busy"], state
    if state["state"] == "done":
        assert state["counts"].get("added", 0) == 0 and state["counts"].get("unchanged", 0) > 0
    assert_in_one_piece(server)


BULK = (300, 1200, 4800)
"""Documents added before a full reindex that a second writer must find running. With 300 it holds the
lock for about 2 s here, and a second writer needs about 0.5 s to start; should the first be done all the
same (a far faster or far busier machine), the test tries again with more."""


def test_http_full_reindex_and_cli_reindex_at_once(server: Server) -> None:
    server.write({1900: "zibeline"})
    for bulk in BULK:
        server.write(dict.fromkeys(range(3000, 3000 + bulk), ""))
        with server.client() as client:
            r = client.post("/reindex", params={"full": "true"}, headers=AUTH)
        assert r.status_code == 202
        wait_for_lock(server.home, "reindex --full")
        code, out, err = finish(cli(server.home, "reindex"))
        assert _job_outcome(server, r.json()["job"])["state"] == "done"
        if code == 0:  # the job had let go of the lock already: both wrote, one after the other
            continue
        assert _busy(code, err), (code, out, err)
        assert "reindex --full" in err  # says who holds the archive
        break
    else:
        pytest.fail(f"the second writer never found the first at work, even with {BULK[-1]} documents")
    assert_in_one_piece(server)


def test_two_cli_reindexes_at_once(server: Server) -> None:
    for bulk in BULK:
        server.write(dict.fromkeys(range(3000, 3000 + bulk), ""))
        first = cli(server.home, "reindex", "--full")
        wait_for_lock(server.home, "reindex --full", first)
        code, out, err = finish(cli(server.home, "reindex"))
        first_code, first_out, first_err = finish(first)
        assert first_code == 0, first_out + first_err
        if code == 0:  # the first had let go of the lock already: both wrote, one after the other
            continue
        assert _busy(code, err), (code, out, err)
        assert err.strip().count("\n") == 0 and "Traceback" not in err  # one clear line
        break
    else:
        pytest.fail(f"the second writer never found the first at work, even with {BULK[-1]} documents")
    assert_in_one_piece(server)


def test_cli_add_and_http_upload_at_once(server: Server, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(2000, 2030):
        (inbox / f"article-{i:04d}.md").write_text(generated(i, "zibeline"), encoding="utf-8")
    proc = cli(server.home, "add", str(inbox), "--to", "2027")
    wait_for_lock(server.home, "add", proc)
    with server.client() as client:
        r = client.post(
            "/documents", headers=AUTH, files={"file": ("article-2100.md", generated(2100).encode())}
        )
    code, out, err = finish(proc)
    assert code == 0, out + err
    for i in range(2000, 2030):
        server.added[f"2027/inbox/article-{i:04d}.md"] = code_word(i)
    # the upload waited for the CLI and was stored, or was refused with a clear "busy"
    assert r.status_code in (201, 409), r.text
    if r.status_code == 201:
        assert r.json()["outcomes"][0]["status"] == "added"
        server.added[r.json()["outcomes"][0]["path"]] = code_word(2100)
    else:
        assert r.json()["error"]["code"] == "busy" and "already running" in r.json()["error"]["message"]
    assert_in_one_piece(server)


# ---------------------------------------------------------------- after the writers


def assert_in_one_piece(server: Server) -> None:
    """`archive check` passes, every document is found once, every passage once, and no writer left
    anything behind: no .tmp generation or file, the lock free."""
    code, out, err = finish(cli(server.home, "check"))
    assert code == 0, out + err
    stored = {
        p.relative_to(server.home / "documents").as_posix() for p in (server.home / "documents").rglob("*.md")
    }
    assert stored == set(server.added)
    positions: dict[str, list[int]] = {}
    with server.client() as client:
        for document_id, code_ in sorted(server.added.items()):
            body = client.get("/search", params={"q": code_, "per_page": "100"}).json()
            assert body["documents"] == 1, (document_id, body["documents"])
            assert {h["document"] for h in body["hits"]} == {document_id}
        page, pages = 1, 1
        while page <= pages:  # every passage, once: positions 1..n of each document, no repeat, no gap
            body = client.get("/search", params={"q": "", "per_page": "100", "page": str(page)}).json()
            for h in body["hits"]:
                positions.setdefault(h["document"], []).append(h["position"])
            page, pages = page + 1, body["pages"]
    assert set(positions) == set(server.added)
    bad = {d: p for d, p in positions.items() if sorted(p) != list(range(1, len(p) + 1))}
    assert not bad, bad
    assert sorted(p.name for p in server.home.rglob("*.tmp")) == []
    assert (server.home / "index" / "write.lock").read_text(encoding="utf-8") == ""


def _judged(
    outs: list[list[Seen]],
    old: dict[str, Any],
    new: dict[str, Any],
    writer_started: float,
    writer_done: float,
) -> tuple[list[str], int]:
    """What each client saw, judged: old answers then new ones, never a third; and how many overlapped."""
    problems: list[str] = []
    during = 0
    for out in outs:
        state = "old"
        for s in out:
            if s.status != 200:
                problems.append(f"{s.query!r}: HTTP {s.status} {s.body}")
                continue
            if s.body == old[s.query]:
                if state == "new":
                    problems.append(
                        f"{s.query!r}: old answer after a new one (at {s.started - writer_started:.2f}s)"
                    )
                if s.started > writer_done:
                    problems.append(f"{s.query!r}: old answer after the reindex finished")
            elif s.body == new[s.query]:
                state = "new"
            else:
                assert isinstance(s.body, dict)
                problems.append(
                    f"{s.query!r}: neither the old nor the new answer: total {s.body['total']} "
                    f"(old {old[s.query]['total']}, new {new[s.query]['total']}), "
                    f"documents {s.body['documents']}, suggestion {s.body.get('suggestion')!r}"
                )
            if writer_started < s.started and s.ended < writer_done:
                during += 1
    return problems, during
