"""Denial of service within reason: request limits, expensive queries within the budget, a responsive service.

`test_web_search.py` already checks that bad page/per_page values are 400 and that a CSV export says when
it cuts; this module checks the limits' values, the facet bound, the cost of expensive queries and that
cheap requests keep answering while other clients send expensive ones to a real `archive serve`.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from archive.searcher import MAX_FACET_VALUES, WHOOSH_BUDGET
from web.app import create_app

from .conftest import web_build_home, web_settings

ROOT = Path(__file__).parent.parent
CHEAP_SECONDS = 1.5
WORDS = (
    "blanchiment aggravé escroquerie contrebande cigarettes douane gendarmerie tribunal condamné enquête "
    "saisie réseau trafic stupéfiants corruption fraude fiscale proxénétisme association malfaiteurs"
).split()


def _corpus(n: int) -> dict[str, str]:
    """n small documents, each with its own source (for the facet bound) and a few paragraphs."""
    docs = {}
    for i in range(n):
        paragraphs = [
            " ".join(
                WORDS[(i * 7 + j * 3 + k) % len(WORDS)] + f" mot{(i * 31 + j * 7 + k) % 900}"
                for k in range(30)
            )
            for j in range(3)
        ]
        docs[f"{2000 + i % 25}/doc-{i:03d}.md"] = (
            f"---\ntitle: Document {i}\ndate: {2000 + i % 25}-01-0{1 + i % 9}\nsource: Source {i:03d}\n"
            f"type: type-{i % 60}\n---\n\n" + "\n\n".join(paragraphs) + "\n"
        )
    return docs


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return web_build_home(tmp_path_factory.mktemp("dos-home"), _corpus(80))


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"per_page": "100"}, 200),
        ({"per_page": "101"}, 400),
        ({"per_page": str(10**12)}, 400),
        ({"page": "10000"}, 200),
        ({"page": "10001"}, 400),
        ({"page": "9" * 400}, 400),
        ({"page": "10000", "per_page": "100"}, 200),
        ({"page": "10001", "format": "csv"}, 400),
        ({"per_page": "101", "format": "csv"}, 400),
    ],
)
def test_page_size_and_deep_pagination_limits(
    client: TestClient, params: dict[str, str], status: int
) -> None:
    started = time.perf_counter()
    r = client.get("/search", params={"q": "blanchiment", **params})
    assert r.status_code == status, r.text[:300]
    assert time.perf_counter() - started < CHEAP_SECONDS
    if status == 200 and "format" not in params:
        assert len(r.json()["hits"]) <= 100


def test_csv_export_states_its_limit(client: TestClient) -> None:
    r = client.get("/search", params={"q": "", "format": "csv"})
    assert r.status_code == 200
    assert int(r.headers["x-export-limit"]) <= 10_000
    assert int(r.headers["x-total-count"]) >= 1
    rows = [line for line in r.text.splitlines() if line and not line.startswith("#")]
    assert len(rows) - 1 <= int(r.headers["x-export-limit"])


def test_facet_values_per_facet_are_bounded(client: TestClient) -> None:
    body = client.get("/search", params={"q": "", "source": ["Source 079", "Source 000"]}).json()
    sources = body["facets"]["source"]
    assert len(sources) <= MAX_FACET_VALUES + 2  # the most frequent, plus the selected ones
    assert {"Source 079", "Source 000"} <= {f["value"] for f in sources}
    assert all(len(values) <= MAX_FACET_VALUES + 2 for values in body["facets"].values())
    assert len(client.get("/search", params={"q": ""}).json()["facets"]["type"]) <= MAX_FACET_VALUES


EXPENSIVE = [
    "*a*",
    "?*?*?*",
    "*e* *i* *o* *u*",
    " OR ".join(f"mot{i}" for i in range(64)),
    " OR ".join(f"*{i}*" for i in range(64)),
    '"' + " ".join(WORDS * 10) + '"',
    " ".join(f'"{a} {b}"' for a, b in itertools.pairwise(WORDS)),
    " ".join(f"{w}~2" for w in WORDS),
    "year:[0 TO 9999] " + " OR ".join(f"title:*{c}*" for c in "abcdefghij"),
]


@pytest.mark.parametrize("q", EXPENSIVE)
def test_expensive_queries_finish_within_the_budget(client: TestClient, q: str) -> None:
    started = time.perf_counter()
    r = client.get("/search", params={"q": q, "per_page": "100"})
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text[:300]
    assert elapsed < WHOOSH_BUDGET + 0.5, f"{elapsed:.2f} s for {q[:60]!r}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    """`archive serve` on loopback over the module's home."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_PASSAGE_MIN_WORDS": "5"}
    env.pop("ARCHIVE_TOKEN", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web.cli",
            "--home",
            str(home),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "archive serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_service_stays_responsive_while_clients_send_expensive_queries(server: str) -> None:
    stop = threading.Event()
    expensive_statuses: list[int] = []
    cheap: list[tuple[str, int, float]] = []

    def attacker(offset: int) -> None:
        with httpx.Client(base_url=server, timeout=30) as c:
            i = offset
            while not stop.is_set():
                r = c.get("/search", params={"q": EXPENSIVE[i % len(EXPENSIVE)], "per_page": "100"})
                expensive_statuses.append(r.status_code)
                i += 1

    def researcher(path: str, params: dict[str, str]) -> None:
        with httpx.Client(base_url=server, timeout=30) as c:
            while not stop.is_set():
                started = time.perf_counter()
                r = c.get(path, params=params)
                cheap.append((path, r.status_code, time.perf_counter() - started))
                time.sleep(0.05)

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(3)]
    threads += [
        threading.Thread(target=researcher, args=("/health", {})),
        threading.Thread(target=researcher, args=("/search", {"q": "blanchiment", "format": "json"})),
    ]
    for t in threads:
        t.start()
    time.sleep(6)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert expensive_statuses and set(expensive_statuses) == {200}, set(expensive_statuses)
    assert len(cheap) >= 10
    assert all(status == 200 for _, status, _ in cheap)
    slowest = max(cheap, key=lambda c: c[2])
    assert slowest[2] < CHEAP_SECONDS, f"a cheap request took {slowest[2]:.2f} s: {slowest[0]}"
