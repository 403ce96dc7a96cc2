"""Two benchmark runs of our archive side by side: whether every query got the same answer, and the timings.

    .venv/bin/python -m bench.compare BEFORE.json AFTER.json [MORE_BEFORE.json MORE_AFTER.json ...]

Each file is a `bench/results/p<N>.json` written by `bench.run`; pairs alternate before/after. A query's
answer is the digest `bench.worker.answer_digest` records (exact total, facet values with their counts,
hit ids in order): a refactoring must keep all of them.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .revisions import percentile


def _load(path: str) -> dict[str, Any]:
    """The archive peer's build and search results of one run."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        "commit": data["source"]["commit"],
        "build": data["build"]["archive"],
        "search": data["search"]["archive"],
    }


def compare(paths: list[str]) -> list[str]:
    """Markdown lines: one row per run, then how many answers differ between each before/after pair."""
    runs = [_load(p) for p in paths]
    lines = [
        "| run | commit | build (s) | full-response p50 (ms) | p95 (ms) | p99 (ms) | peak build RSS (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, run in enumerate(runs):
        ms = [q["ms"] for q in run["search"]["queries"]]
        side = "before" if i % 2 == 0 else "after"
        lines.append(
            f"| {i // 2 + 1} {side} | {run['commit']} | {run['build']['seconds']:.1f} | {statistics.median(ms):.2f} | "
            f"{percentile(ms, 95):.2f} | {percentile(ms, 99):.2f} | {run['build']['peak_rss_mb']:.0f} |"
        )
    for before, after in zip(runs[::2], runs[1::2], strict=False):
        a = {q["id"]: q.get("answer") for q in before["search"]["queries"]}
        b = {q["id"]: q.get("answer") for q in after["search"]["queries"]}
        differ = sorted(k for k in a if a[k] is None or a[k] != b.get(k))
        lines.append(
            f"\n{len(a) - len(differ)} of {len(a)} answers identical; differing: {differ[:20] or 'none'}"
        )
    return lines


def main() -> None:
    """Command line: print the comparison of the runs given."""
    print("\n".join(compare(sys.argv[1:])))


if __name__ == "__main__":
    main()
