"""The HTTP side of `bench.hostile`: what is sent to the served archive, and every answer timed.

Each measure records `Sample`s under a name in a `Recorder`; `Plan` says how many times each runs.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import httpx

from archive import PARTIAL_NOTE, SEARCH_DEADLINE

PARTIAL = PARTIAL_NOTE.format(seconds=SEARCH_DEADLINE)
LONG_ID = "registres/registre-long.txt"
TRIVIAL = "blanchiment"
EXPORT_WORD = "article"  # in about 45 % of the passages: a ranked export cut at its 10,000-row limit
FLOOD = "&".join(f"year={i}" for i in range(1700))
HEAVY_CLIENTS = 4
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
    """One request: its time to the last byte, its status, and what its answer said."""

    seconds: float
    status: int
    took_ms: float | None = None  # the server's own time, from a JSON search body
    partial: bool = False  # the answer carries the partial-results note
    size: int = 0  # body bytes, decoded
    wire: int = 0  # body bytes as sent (gzip when accepted)
    detail: str = ""  # an error code, a header, an outcome


@dataclass
class Recorder:
    """The samples of every measure, by name, from any thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: dict[str, list[Sample]] = field(default_factory=lambda: collections.defaultdict(list))

    def add(self, name: str, sample: Sample) -> None:
        """Record one sample of the measure `name`."""
        with self.lock:
            self.samples[name].append(sample)

    def __getitem__(self, name: str) -> list[Sample]:
        with self.lock:
            return list(self.samples.get(name, []))


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
    """The URL of a search for `q` with these parameters."""
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
    """Exports alone, 4 at once, and a 5th while 4 stream (refused), each round bounded."""
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
