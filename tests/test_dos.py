"""Denial of service within reason: request limits, expensive queries answered, a responsive service.

`test_web_search.py` already checks that bad page/per_page values are 400 and that a CSV export says when
it cuts; this module checks the limits' values, the facet bound, that expensive queries are answered
(every call returns: a hang guard, not a speed limit; bench/ measures speed) and that cheap requests are
answered while other clients' expensive ones are still running on a real `archive serve`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from archive.facets import MAX_FACET_VALUES
from web.app import create_app

from .conftest import HANG_GUARD, archive_env, serving, wait_until, web_build_home, web_settings, within_guard

ROOT = Path(__file__).parent.parent
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
    r = within_guard(client.get, "/search", params={"q": "blanchiment", **params})
    assert r.status_code == status, r.text[:300]
    if status == 200 and "format" not in params:
        body = r.json()
        assert len(body["hits"]) <= 100
        if int(params.get("page", "1")) > body["pages"]:  # past the last page: nothing to rank or render
            assert body["hits"] == []


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
def test_expensive_queries_are_answered(client: TestClient, q: str) -> None:
    r = within_guard(client.get, "/search", params={"q": q, "per_page": "100"})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert len(body["hits"]) <= min(body["total"], 100)


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    """`archive serve` on loopback over the module's home."""
    env = archive_env(home, ARCHIVE_PASSAGE_MIN_WORDS="5")
    with serving(env, home.parent / f"{home.name}-serve.log") as (_, base):
        yield base


def test_service_stays_responsive_while_clients_send_expensive_queries(server: str) -> None:
    """Cheap requests overtake expensive ones: sent after an expensive request, answered before it. A
    service that ran one request at a time, first come first served, would not answer them so; and
    /health, which never waits for a search thread, overtakes even two requests in a row."""
    stop = threading.Event()
    expensive: list[tuple[float, float, int]] = []  # (sent, answered, status)
    cheap: dict[str, list[tuple[float, float, int]]] = {"/health": [], "/search": []}

    def attacker(offset: int) -> None:
        with httpx.Client(base_url=server, timeout=HANG_GUARD) as c:
            i = offset
            while not stop.is_set():
                sent = time.monotonic()
                r = c.get("/search", params={"q": EXPENSIVE[i % len(EXPENSIVE)], "per_page": "100"})
                expensive.append((sent, time.monotonic(), r.status_code))
                i += 1

    def researcher(path: str, params: dict[str, str]) -> None:
        with httpx.Client(base_url=server, timeout=HANG_GUARD) as c:
            while not stop.is_set():
                sent = time.monotonic()
                r = c.get(path, params=params)
                cheap[path].append((sent, time.monotonic(), r.status_code))

    def overtaking(path: str, in_a_row: bool) -> int:
        """Cheap requests answered before an expensive one sent before them (`in_a_row`: sent before
        the same client's previous request, which was answered before it too)."""
        heavy, answers = list(expensive), list(cheap[path])
        count = 0
        for previous, (c0, c1, _) in zip(answers[:1] + answers[:-1], answers, strict=True):
            since = previous[0] if in_a_row else c0
            count += any(e0 < since and c1 < e1 for e0, e1, _ in heavy)
        return count

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(3)]
    threads += [
        threading.Thread(target=researcher, args=("/health", {})),
        threading.Thread(target=researcher, args=("/search", {"q": "blanchiment", "format": "json"})),
    ]
    for t in threads:
        t.start()
    try:
        wait_until(
            lambda: overtaking("/health", in_a_row=True) >= 5 and overtaking("/search", in_a_row=False) >= 5,
            "cheap requests answered while expensive ones sent before them were still running",
            poll=0.2,
        )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=HANG_GUARD)
    assert expensive and {status for *_, status in expensive} == {200}
    for path, answers in cheap.items():
        assert {status for *_, status in answers} == {200}, path
