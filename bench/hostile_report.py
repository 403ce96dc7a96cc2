"""The report of `bench.hostile`: the bounds' summary, the tables of every measure, the findings."""

from __future__ import annotations

import collections
import statistics

from archive import DEFAULT_SEARCH_THREADS as SEARCH_THREADS
from archive import SEARCH_DEADLINE, budget

from . import report
from .hostile_requests import EXPORT_WORD, FLOOD, HEAVY_CLIENTS, LONG_ID, PARTIAL, TRIVIAL, Sample
from .hostile_verdicts import (
    LIMIT,
    WAIT,
    Run,
    fmt_bytes,
    fmt_seconds,
    fmt_statuses,
    heavy_samples,
    verdicts,
)


def summary(values: list[float]) -> str:
    """median / p95 / max (nearest-rank p95)."""
    if not values:
        return "– / – / –"
    return " / ".join(
        fmt_seconds(v) for v in (statistics.median(values), report.percentile(values, 95), max(values))
    )


def _row(name: str, samples: list[Sample], *extra: str) -> str:
    cells = [name, str(len(samples)), summary([s.seconds for s in samples]), fmt_statuses(samples), *extra]
    return "| " + " | ".join(cells) + " |"


def _short(q: str, width: int = 70) -> str:
    q = q.replace("|", "\\|")
    return f"`{q}`" if len(q) <= width else f"`{q[: width - 1]}…` ({len(q):,} chars)"


def render(r: Run) -> str:
    """The whole of results/hostile.md for this run."""
    sections = (_header, _summary, _load, _heavy_table, _flood_and_exports, _page, _adds)
    lines = [line for section in sections for line in section(r)]
    return "\n".join(lines + findings(r)) + "\n"


def _header(r: Run) -> list[str]:
    m = r.meta
    info = r.info
    return [
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
    ]


def _summary(r: Run) -> list[str]:
    lines = [
        "## Summary: the bounds, checked on this run",
        "",
        "| bound (README « Guarantees », docs/web.md « Limits ») | on this run | measured |",
        "| --- | --- | --- |",
    ]
    for v in verdicts(r):
        lines.append(f"| {v.bound} | {'**holds**' if v.holds else '**does not hold**'} | {v.measured} |")
    return lines


def _load(r: Run) -> list[str]:
    rec = r.rec
    return [
        "",
        f"## 1. Searches while {HEAVY_CLIENTS} clients send heavy requests",
        "",
        f"A one-word search (`/search?q={TRIVIAL}`, JSON, 10 hits) and `/health`, each from its own client, one "
        f"request every 0.25 s after the previous answer, first alone, then for {r.meta['load_seconds']} s while "
        f"{HEAVY_CLIENTS} clients send the heavy requests of section 2 back to back (per_page=100).",
        "",
        "| request | n | median / p95 / max | statuses |",
        "| --- | ---: | --- | --- |",
        _row(f"`{TRIVIAL}` alone", rec["search alone"]),
        _row(f"`{TRIVIAL}` under load", rec["search under load"]),
        _row("`/health` alone", rec["/health alone"]),
        _row("`/health` under load", rec["/health under load"]),
    ]


def _heavy_table(r: Run) -> list[str]:
    lines = [
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
        alone, loaded = r.rec["heavy alone:" + kind], r.rec["heavy:" + kind]
        took = [x.took_ms / 1000 for x in loaded if x.took_ms is not None]
        lines.append(
            f"| {kind} | {_short(q)} | {fmt_seconds(max((x.took_ms or 0) / 1000 for x in alone)) if alone else '–'} | "
            f"{len(loaded)} | {summary([x.seconds for x in loaded])} | "
            f"{fmt_seconds(statistics.median(took)) + ' / ' + fmt_seconds(max(took)) if took else '–'} | "
            f"{sum(x.partial for x in alone + loaded)} / {len(alone + loaded)} | {fmt_statuses(alone + loaded)} |"
        )
    return lines


def _flood_and_exports(r: Run) -> list[str]:
    rec = r.rec
    flood = rec["facet flood"]
    lines = [
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
    return lines


def _page(r: Run) -> list[str]:
    lines = [
        "",
        "## 5. A page of the long document",
        "",
        f"`/documents/{LONG_ID}?p=15000` (passage 15,000 of {r.info['long_passages']:,}: page {r.page_number} "
        "of 200 passages), alone. Size: the body as decoded, and as sent gzipped.",
        "",
        "| request | n | median / p95 / max | statuses | body (decoded / gzipped) |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for name in ("document page (JSON)", "document page (HTML)"):
        s = r.rec[name]
        size = f"{fmt_bytes(s[0].size)} / {fmt_bytes(s[0].wire)}" if s else "–"
        lines.append(_row(name, s, size))
    return lines


_FILES = {
    "reference.txt": "French text of the corpus (reference)",
    "one-word.txt": "one 10 MB word (`a` × 10,000,000)",
    "dots.txt": "2 MB of dots",
    "brackets.md": "4 × (`[` × 200,000, `>` × 100,000)",
}


def _adds(r: Run) -> list[str]:
    total = int(str(r.info["passages"])) + int(str(r.info["long_passages"]))
    lines = [
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
    for name, (nbytes, runs) in r.adds.items():
        cpu = [a.cpu for a in runs]
        cpu_text = fmt_seconds(statistics.median(cpu)) + " / " + fmt_seconds(max(cpu)) if cpu else "–"
        lines.append(
            f"| `{name}`: {_FILES[name]} | {fmt_bytes(nbytes)} | {len(runs)} | {summary([a.seconds for a in runs])} | "
            f"{cpu_text} | {budget(nbytes):.1f} s | "
            f"{', '.join(sorted({str(a.code) for a in runs}))} | {'; '.join(sorted({a.outcome for a in runs}))} |"
        )
    return lines


def findings(r: Run) -> list[str]:
    """What did not hold, with its figures and how to see it again; nothing when every bound held."""
    out = _deadline_finding(r)
    searches = r.rec["search under load"]
    if searches and max(s.seconds for s in searches) > WAIT:
        alone = max((s.seconds for s in r.rec["search alone"]), default=float("nan"))
        out.append(
            f"- **A one-word search waited up to {max(s.seconds for s in searches):.1f} s** behind the heavy "
            f"searches (alone: {fmt_seconds(alone)}); the "
            f"turns it waits for are as long as the heavy searches that hold the threads, so the "
            f"{WAIT:g} s the deadline implies hold only if the deadline bounds every search."
        )
    for v in verdicts(r):
        if not v.holds and not v.explained:
            out.append(f"- **Not held: {v.bound}.** Measured: {v.measured}.")
    return ["", "## Findings", "", *(out or ["Every bound checked here held on this run."])]


def _deadline_finding(r: Run) -> list[str]:
    """The heavy searches that held a thread past the deadline without saying so, and how to see one."""
    over: dict[str, list[Sample]] = collections.defaultdict(list)
    for kind, sample in heavy_samples(r):
        if (sample.took_ms or 0) > LIMIT * 1000 and not sample.partial:
            over[kind].append(sample)
    if not over:
        return []
    alone = {k: max((s.took_ms or 0) / 1000 for s in r.rec["heavy alone:" + k]) for k in over}
    shortest = min(over, key=lambda k: len(r.heavy[k]))
    return [
        f"- **The {SEARCH_DEADLINE:g} s deadline does not bound every query text.** "
        + "; ".join(
            f"`{k}`: {len(v)} answers over {LIMIT:g} s of server time without the note, up to "
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
