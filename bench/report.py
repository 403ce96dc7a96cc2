"""Render bench/RESULTS.md from bench/results/*.json (speed), the results' .md files and RESULTS-head/-tail.md.

The .md files come whole (quality, profile, soak, ingest: `python -m bench.ingest`), except hostile.md (a
pointer and its summary).

    .venv/bin/python -m bench.report

Ratios are always from the same run. For times, `r×` = the peer's time ÷ ours (above 1: we are faster);
for build rates, ours ÷ the peer's.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = HERE / "RESULTS.md"
PEER_NAMES = {"archive": "our archive", "whoosh": "naive Whoosh", "fts5": "SQLite FTS5", "tantivy": "Tantivy"}
OTHERS = ("whoosh", "fts5", "tantivy")
CLASSES = (
    "term",
    "term+filter",
    "and",
    "and+filter",
    "phrase",
    "phrase+filter",
    "prefix",
    "prefix+filter",
    "broad",
    "broad+filter",
)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[k]


def stats(rows: list[dict[str, Any]], cls: str | None = None) -> dict[str, float]:
    """p50, p95, p99, mean (ms) and count of the rows' latencies, of one query class or of all."""
    ms = [r["ms"] for r in rows if cls is None or r["class"] == cls]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "n": len(ms),
    }


def _ms(v: float) -> str:
    return f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def _ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:.2g}×" if ours > 0 and peer / ours < 10 else f"{peer / ours:.0f}×"


def _rss(build: dict[str, Any]) -> str:
    child = build.get("children_peak_rss_mb", 0) or 0
    main = f"{build['peak_rss_mb']:,.0f} MB"
    return f"{main} + {child:,.0f} MB" if child >= 1 else main


def scale_section(res: dict[str, Any]) -> list[str]:
    """The section of one scale: build, full response, per-class latencies, HTTP, targets, facet values."""
    build, search = res.get("build", {}), res.get("search", {})
    lines = _run_header(res) + _build_table(build)
    if "archive" not in search:
        return lines
    ours = stats(search["archive"]["queries"])
    lines += _full_response(search, ours) + _by_class(search)
    lines += _http(res, ours)
    lines += _targets(res, ours)
    lines += _distribution(res["corpus"]["distribution"])
    return lines


def _run_header(res: dict[str, Any]) -> list[str]:
    """The scale's title, its run (date, command, core) and its corpus, with the run's notes."""
    corpus = res["corpus"]
    lines = [
        f"## {res['scale']:,} passages",
        "",
        f"Run {res['date']}; command `{res.get('command') or 'make bench'}`; queries `{res['queries_file']}`"
        + (
            f"; core at {res['source']['commit']} (archive/*.py digest {res['source']['archive_digest']})"
            if "source" in res
            else ""
        )
        + ".",
        "",
        f"Corpus: {corpus['documents']:,} documents (one per article), {corpus['passages']:,} passages; "
        "passages by source file: "
        + ", ".join(f"{k} {v:,}" for k, v in corpus["passages_by_source"].items())
        + ".",
        "",
    ]
    return lines + [f"> {note}" for note in res.get("notes", [])] + ([""] if res.get("notes") else [])


def _build_table(build: dict[str, Any]) -> list[str]:
    """Every peer's build: rate, time, size, memory, and our rate over its."""
    peers = [p for p in ("archive", *OTHERS) if p in build]
    ours_b = build.get("archive")
    lines = [
        "### Build",
        "",
        "| peer | passages/s | build time | index size | peak RSS (build, helper) | ours ÷ peer (passages/s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in peers:
        b = build[p]
        ratio = f"{ours_b['passages_per_s'] / b['passages_per_s']:.2f}" if ours_b else "–"
        lines.append(
            f"| {PEER_NAMES[p]} | {b['passages_per_s']:,.0f} | {b['seconds']:.1f} s | "
            f"{b['index_bytes'] / 1e6:,.1f} MB | {_rss(b)} | {ratio} |"
        )
    return [
        *lines,
        "",
        "Peer engines: " + "; ".join(f"{PEER_NAMES[p]} = {build[p]['description']}" for p in peers),
        "",
    ]


def _full_response(search: dict[str, Any], ours: dict[str, float]) -> list[str]:
    """Every peer's full-response latencies over all the queries, as ratios to ours."""
    lines = [
        "### Full response, all 320 queries",
        "",
        "Full response = top 10 with highlights + exact total + multi-select counts for the five facets, "
        "timed in-process around one call, after 10 warm-up queries, one searcher for the whole run.",
        "",
        "| peer | p50 | p95 | p99 | p50 ratio | p95 ratio | p99 ratio | queries with 0 hits | mean total "
        "| peak RSS (search process) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in [q for q in ("archive", *OTHERS) if q in search]:
        rows = search[p]["queries"]
        s = stats(rows)
        zero = sum(1 for r in rows if r["total"] == 0)
        mean_total = statistics.fmean(r["total"] for r in rows)
        rat = ["1×"] * 3 if p == "archive" else [_ratio(s[k], ours[k]) for k in ("p50", "p95", "p99")]
        lines.append(
            f"| {PEER_NAMES[p]} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['p99'])} | "
            f"{rat[0]} | {rat[1]} | {rat[2]} | {zero} | {mean_total:,.0f} | {search[p]['peak_rss_mb']:,.0f} MB |"
        )
    return [*lines, "", "Ratios are peer ÷ ours: above 1 our archive is faster, below 1 slower.", ""]


def _by_class(search: dict[str, Any]) -> list[str]:
    """p50 and p95 of each query class, ours and every other peer's (with its ratio to ours)."""
    lines: list[str] = []
    for metric in ("p50", "p95"):
        lines += [
            f"### {metric} by query class (32 queries each)",
            "",
            "| class | ours | " + " | ".join(PEER_NAMES[p] for p in OTHERS if p in search) + " |",
            "| --- | ---: | " + " | ".join("---:" for p in OTHERS if p in search) + " |",
        ]
        for cls in CLASSES:
            o = stats(search["archive"]["queries"], cls)[metric]
            cells = []
            for p in OTHERS:
                if p in search:
                    v = stats(search[p]["queries"], cls)[metric]
                    cells.append(f"{_ms(v)} ({_ratio(v, o)})")
            lines.append(f"| {cls} | {_ms(o)} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _verdict(ok: bool) -> str:
    return "**holds**" if ok else "**does not hold**"


def _targets(res: dict[str, Any], ours: dict[str, float]) -> list[str]:
    """Issue 4's targets, checked on this run (the latency targets are stated for 200,000 passages)."""
    build, search = res.get("build", {}), res.get("search", {})
    n = res["scale"]
    lines = [
        f"### Issue-4 targets on this run ({n:,} passages"
        + ("; the latency targets are stated for 200,000, shown here for the trend" if n != 200_000 else "")
        + ")",
        "",
    ]
    lines += _peer_targets(build, search, ours)
    lines += _scale_targets(n, build, search, ours)
    lines += _http_targets(res.get("http"), n)
    return [*lines, ""]


def _peer_targets(build: dict[str, Any], search: dict[str, Any], ours: dict[str, float]) -> list[str]:
    """The targets stated against a peer: build 5× naive Whoosh, search 10× it, faster than FTS5."""
    lines: list[str] = []
    if "whoosh" in build:
        r = build["archive"]["passages_per_s"] / build["whoosh"]["passages_per_s"]
        lines.append(
            f"- Build at least 5× naive Whoosh: {_verdict(r >= 5)}: {r:.2f}× "
            f"({build['archive']['passages_per_s']:,.0f} vs {build['whoosh']['passages_per_s']:,.0f} passages/s); "
            f"short by a factor {5 / r:.1f}."
            if r < 5
            else f"- Build at least 5× naive Whoosh: {_verdict(True)}: {r:.2f}×."
        )
    if "whoosh" in search:
        w = stats(search["whoosh"]["queries"])
        r = w["p50"] / ours["p50"]
        lines.append(
            f"- Full-response p50 at least 10× faster than naive Whoosh: {_verdict(r >= 10)}: {r:.1f}×"
            + (f" (needs {10 / r:.2f}× more)." if r < 10 else ".")
        )
    if "fts5" in search:
        f = stats(search["fts5"]["queries"])
        r = f["p50"] / ours["p50"]
        lines.append(
            f"- Full-response p50 faster than FTS5's: {_verdict(r > 1)}: FTS5 p50 ÷ ours = {r:.2f}×."
        )
        broad = [c for c in ("broad", "broad+filter")]
        rb = [
            stats(search["fts5"]["queries"], c)["p50"] / stats(search["archive"]["queries"], c)["p50"]
            for c in broad
        ]
        lines.append(
            f"  Broad queries with facet counts: FTS5 ÷ ours = {rb[0]:.2f}× (broad), {rb[1]:.2f}× (broad+filter)."
        )
    return lines


def _scale_targets(
    n: int, build: dict[str, Any], search: dict[str, Any], ours: dict[str, float]
) -> list[str]:
    """The absolute targets: at 1,000,000 passages build time and p95; below, p95 under 150 ms."""
    ref = stats(search["whoosh"]["queries"])["p95"] if "whoosh" in search else None
    if n >= 1_000_000:
        minutes = build["archive"]["seconds"] / 60 if "archive" in build else float("nan")
        return [
            f"- {n:,} passages indexed in under 15 minutes: {_verdict(minutes < 15)}: {minutes:.1f} min"
            f" ({minutes / 15:.2f}× the limit).",
            f"- p95 of the full response under 400 ms: {_verdict(ours['p95'] < 400)}: {_ms(ours['p95'])}"
            f" ({ours['p95'] / 400:.2f}× the limit).",
        ]
    return [
        f"- p95 under 150 ms: {_verdict(ours['p95'] < 150)}: {_ms(ours['p95'])}"
        + (f" (naive Whoosh's p95 is {ref / ours['p95']:.1f}× that)." if ref else ".")
    ]


def _http_targets(h: dict[str, Any] | None, n: int) -> list[str]:
    """The HTTP targets (rate, errors, p99) and the server's memory, when the load test ran."""
    if not h or "skipped" in h:
        return []
    errors = h["non_2xx"] + h["socket_errors"]
    ok = h["requests_per_s"] >= 100 and errors == 0 and h.get("p99_ms", 1e9) < 500
    trend = "" if n == 200_000 else " (the target is stated for 200,000 passages; shown here for the trend)"
    mem = h["server_after"].get("VmHWM", 0)
    return [
        f"- HTTP ≥ 100 searches/s with 16 clients, zero errors, p99 < 500 ms{trend}: {_verdict(ok)}: "
        f"{h['requests_per_s']:.0f}/s ({h['requests_per_s'] / 100:.2f}× the target), {errors:.0f} errors, "
        f"p99 {_ms(h.get('p99_ms', 0))} ({h.get('p99_ms', 0) / 500:.2f}× the limit).",
        f"- Server memory (target < 2 GB at 1,000,000 passages): {mem:,.0f} MB peak at {n:,} passages "
        f"({mem / 2048:.2f}× the 2 GB budget).",
    ]


def _http(res: dict[str, Any], ours: dict[str, float]) -> list[str]:
    h = res.get("http")
    if not h:
        return []
    if "skipped" in h:
        return ["### HTTP", "", f"Not measured: {h['skipped']}", ""]
    whoosh = stats(res["search"]["whoosh"]["queries"]) if "whoosh" in res.get("search", {}) else None
    lines = [
        "### HTTP (our archive, `archive serve`, wrk from a separate process)",
        "",
        f"`{h['command']}` cycling through the 320 queries as JSON searches, after 20 warm-up requests. "
        "Server and load generator share the 2 cores.",
        "",
        "| requests/s | requests | p50 | p75 | p90 | p99 | non-2xx | socket errors | server RSS peak |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {h['requests_per_s']:.1f} | {h['requests']:,.0f} | {_ms(h.get('p50_ms', 0))} | {_ms(h.get('p75_ms', 0))} | "
        f"{_ms(h.get('p90_ms', 0))} | {_ms(h.get('p99_ms', 0))} | {h['non_2xx']:.0f} | {h['socket_errors']:.0f} | "
        f"{h['server_after'].get('VmHWM', 0):,.0f} MB |",
        "",
    ]
    ratio = f"HTTP p50 under load ÷ our in-process p50: {h.get('p50_ms', 0) / ours['p50']:.1f}×"
    if whoosh:
        ratio += f"; ÷ naive Whoosh's in-process p50: {h.get('p50_ms', 0) / whoosh['p50']:.2f}×"
        ratio += (
            f". Sequential in-process capacity for comparison: ours {1000 / ours['mean']:.0f} searches/s, "
            f"naive Whoosh {1000 / whoosh['mean']:.0f} searches/s (1000 ÷ mean latency)"
        )
    return [*lines, ratio + ".", ""]


def _distribution(dist: dict[str, Any]) -> list[str]:
    lines = [
        "### Synthetic facet values (seeded per document id; every passage carries its document's values)",
        "",
    ]
    for name, d in dist.items():
        top = ", ".join(f"{v} {c:,}" for v, c in d["top"])
        per = ", ".join(f"{k} value(s): {v:,}" for k, v in d["values_per_passage"].items())
        lines.append(
            f"- **{name}**: {d['distinct']} distinct values; most frequent {top}; passages with {per}."
        )
    return [*lines, ""]


def _machine(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    return [
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, Linux {m['kernel']}; "
        f"Python {m['python']}, Whoosh {m['whoosh']}, SQLite {m['sqlite']}. Shared machine; peers run one after "
        "another, each build and each search phase in its own process.",
        "",
    ]


def _hostile() -> list[str]:
    """A short section pointing to results/hostile.md (`python -m bench.hostile`), with its summary table."""
    f = RESULTS / "hostile.md"
    if not f.exists():
        return []
    text = f.read_text()
    date = re.search(r"^- date: ([^;(]+)", text, re.M)
    run = f"run of {date.group(1).strip()} UTC" if date else "undated"
    summary = text.split("\n## Summary", 1)[1].split("\n## ", 1)[0] if "\n## Summary" in text else ""
    table = [line for line in summary.splitlines() if line.startswith("|")]
    return [
        "## Hostile requests (`make bench-hostile`)",
        "",
        "The bounds the service promises against hostile requests (README « Guarantees », docs/web.md "
        "« Limits »), measured by `python -m bench.hostile` through a real `archive serve` on an archive of "
        "the corpus: heavy searches from 4 clients beside a one-word search and `/health`, a facet flood, CSV "
        "exports, a page deep in a long document, `archive add` of degenerate files. Method, every figure "
        f"(median / p95 / max) and findings: [results/hostile.md](results/hostile.md) ({run}).",
        "",
        *table,
        "",
    ]


def write(path: Path = OUT) -> None:
    """Render RESULTS.md: the head, every scale's run, the results' .md files and the tail."""
    runs = sorted((json.loads(p.read_text()) for p in RESULTS.glob("p*.json")), key=lambda r: r["scale"])
    head = (
        (HERE / "RESULTS-head.md").read_text()
        if (HERE / "RESULTS-head.md").exists()
        else "# Benchmark results\n"
    )
    lines = [head.rstrip(), ""]
    if runs:
        lines += _machine(runs[-1])
    for res in runs:
        lines += scale_section(res)
    extras = (
        "quality.md",
        "profile.md",
        "revisions.md",
        "revisions-aa.md",
        "soak.md",
        "hostile.md",
        "ingest.md",
        "RESULTS-tail.md",
    )
    for extra in extras:
        f = (RESULTS / extra) if extra != "RESULTS-tail.md" else HERE / extra
        if extra == "hostile.md":
            lines += _hostile()  # a pointer and its summary: the full results stay in their own file
        elif f.exists():
            lines += [f.read_text().rstrip(), ""]
    path.write_text("\n".join(lines).rstrip() + "\n", "utf-8")


if __name__ == "__main__":
    write()
