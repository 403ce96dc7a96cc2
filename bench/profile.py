"""Where our search spends its time: cProfile over the broad queries (with and without facet filters).

    .venv/bin/python -m bench.profile [--passages 200000]

Profiles the largest scale already built under bench/data/ unless --passages is given; writes
bench/results/profile.md (included in RESULTS.md).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
from pathlib import Path

from . import queries
from .peers.archive_peer import ArchivePeer

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "profile.md"


def largest_scale(work: Path) -> int:
    """The largest scale with an index of ours under `work` (bench/data/)."""
    scales = [
        int(p.parent.parent.parent.name)
        for p in work.glob("*/archive/index/CURRENT")
        if p.parent.parent.parent.name.isdigit()
    ]
    if not scales:
        raise SystemExit("no archive index under bench/data/: run `make bench` first")
    return max(scales)


def profile(n: int, work: Path, top: int = 25) -> str:
    """The profile section: cProfile's top functions over the broad queries at `n` passages."""
    mix = [q for q in queries.load() if q.kind == "broad"]
    peer = ArchivePeer()
    peer.open(work / str(n) / "archive")
    for q in mix[:5]:  # warm the per-generation caches, as a running server has them
        peer.search(q)
    profiler = cProfile.Profile()
    profiler.enable()
    for q in mix:
        peer.search(q)
    profiler.disable()
    lines = [
        f"## Profile of our search: {len(mix)} broad queries (half with a facet filter) at {n:,} passages",
        "",
        "`python -m bench.profile` (cProfile; its overhead inflates Python-heavy code, so read the shares, "
        "not the absolute times).",
        "",
    ]
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats(key)
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        lines += [
            f"### Top {top} by {title} (total own time {total:.2f} s)",
            "",
            "| function | calls | own s | own % | cumulative s |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][2 if key == "tottime" else 3])  # type: ignore[attr-defined]
        for (file, line, func), (_cc, nc, tt, ct, _callers) in entries[:top]:
            where = f"{Path(file).name}:{line}" if line else file
            lines.append(f"| `{func}` ({where}) | {nc:,} | {tt:.3f} | {100 * tt / total:.1f} | {ct:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    """Profile our search at the largest built scale (or `--passages`) into results/profile.md."""
    p = argparse.ArgumentParser()
    p.add_argument("--passages", type=int)
    p.add_argument("--work", type=Path, default=HERE / "data")
    a = p.parse_args()
    n = a.passages or largest_scale(a.work)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(profile(n, a.work))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
