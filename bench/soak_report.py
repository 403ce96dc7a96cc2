"""The report of `bench.soak`: outcome, latencies and server memory, as markdown."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from .soak_load import Stats


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile `p` of `values` (rounded index); nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> dict[str, str]:
    """The machine, as the report names it: CPUs, CPU model, memory, kernel, Python."""
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


def report(args: argparse.Namespace, stats: Stats, meta: dict[str, Any], problems: list[str]) -> str:
    """The whole of results/soak.md for this run."""
    lines = _run(args, meta) + _outcome(stats, meta, problems) + _latency(stats) + _memory(stats)
    return "\n".join(lines) + "\n"


def _run(args: argparse.Namespace, meta: dict[str, Any]) -> list[str]:
    m = machine()
    return [
        "# Soak test",
        "",
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


def _outcome(stats: Stats, meta: dict[str, Any], problems: list[str]) -> list[str]:
    total = sum(stats.statuses.values())
    lines = [
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
        for e, n in meta["server_errors"].most_common(10):
            lines.append(f"  - {n} × `{e}`")
    return lines


def _latency(stats: Stats) -> list[str]:
    lines = [
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
    return [
        *lines,
        "",
        "Searches per minute: " + ", ".join(str(stats.per_minute[k]) for k in sorted(stats.per_minute)),
        "",
    ]


def _memory(stats: Stats) -> list[str]:
    lines = [
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
    return lines
