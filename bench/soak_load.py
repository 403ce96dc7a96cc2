"""The load of `bench.soak`: the generated French articles, the searches, and the client threads.

Every thread records what it saw in one `Stats`, which `bench.soak_report` renders.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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
    """One paragraph of 3 to 5 made-up sentences about a French investigation."""
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
    """What the clients saw: latencies by kind, statuses, errors, uploads, reindexes, server memory."""

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
        """Record an error (and print it at once)."""
        with self.lock:
            self.errors.append(message)
        print("ERROR", message, file=sys.stderr, flush=True)


def searcher(base: str, stats: Stats, stop: threading.Event, seed: int, started: float) -> None:
    """Search continuously, a random query of QUERIES each time, until `stop`."""
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
    """Upload a new document every `every` seconds until `stop`; retry one refused while busy."""
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
    """Start a full reindex every `every` seconds until `stop`, and wait for its job to end."""
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
    """Sample the server's VmRSS, VmHWM and threads every `every` seconds until `stop` or its exit."""
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
