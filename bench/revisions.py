"""Two revisions of the core side by side: this tree's benchmark harness on each revision's `archive/`.

    .venv/bin/python -m bench.revisions --before 15e13aa --after . --passages 200000 --rounds 3
    make bench-compare BEFORE=15e13aa AFTER=.            # the same, with the Makefile's defaults

A revision is a git commit (its `archive/` exported with `git archive` under --work) or `.`, this
working tree. Each revision prepares the corpus with its own code (`bench.run.prepare`) and builds its
index once (`bench.worker build`); both are kept under --work, named by a digest of the revision's
`archive/` sources, and reused by later runs. Then the query mix (`bench/queries.json`) is searched on
every side in turn, in its own process each time (`bench.worker search --repeat`), `--rounds` times:
before, after, after-off, before, after, after-off... so that a slow moment of the machine falls on
every side alike. The `after` revision is also searched with issue 14's work switched off on the same
index and code (`--off`, default `crowding+excerpts`: the plain passage ranking, hits without excerpts;
see `BENCH_ARCHIVE_OFF` in bench/peers/archive_peer.py), which isolates its cost from the other changes
between the revisions (the analyzer, the segment size).

The timed call is the full response `/search` answers in JSON: `Archive.search` (top 10 with
highlights and excerpts, crowding, exact total, facet counts) and the body's `to_json()`. Printed, and
written to --out (.json with every run, .md with the tables): p50, p95, p99 of each side in each round,
their medians over the rounds, and whether the sides that must agree did (`answer`: total, facets and
hit ids; `shown`: highlights and excerpts, see `bench.worker`).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Side:
    """One column of the comparison: a revision's core, with some of its work switched off."""

    label: str
    source: Path  # a directory holding the revision's archive/ package (and this tree's bench/)
    off: str = ""  # BENCH_ARCHIVE_OFF


def source(revision: str, work: Path) -> Path:
    """The directory to run `revision`'s core from: this tree for `.`, else its export under `work`."""
    if revision == ".":
        return ROOT
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = work / "src" / commit[:12]
    if not (target / "archive" / "__init__.py").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        tar = subprocess.run(["git", "archive", commit, "archive"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=tar.stdout, check=True)
    bench = target / "bench"
    if bench.is_symlink() and bench.resolve() != HERE.resolve():  # another checkout's harness (or gone)
        bench.unlink()
    if not bench.exists():
        bench.symlink_to(HERE, target_is_directory=True)  # the same harness on every side
    return target


def digest(src: Path) -> str:
    """A digest of a core's sources: what its prepared corpus and index are kept under."""
    h = hashlib.sha256()
    for f in sorted((src / "archive").rglob("*")):
        if f.is_file() and f.suffix in (".py", ".toml"):
            h.update(f.relative_to(src).as_posix().encode() + f.read_bytes())
    return h.hexdigest()[:12]


def _python(src: Path, args: list[str], log: Path, off: str = "") -> None:
    """Run `python args` from `src` (its archive/ first on the path), output to `log`."""
    env = {**os.environ, "PYTHONPATH": str(src), "BENCH_ARCHIVE_OFF": off}
    with open(log, "w") as out:
        subprocess.run(
            [sys.executable, *args], cwd=src, env=env, stdout=out, stderr=subprocess.STDOUT, check=True
        )


def built(src: Path, passages: int, work: Path) -> Path:
    """The directory of `src`'s index of `passages` passages, prepared and built once per core."""
    place = work / str(passages) / digest(src)
    place.mkdir(parents=True, exist_ok=True)
    data = place / "data.pkl"
    if not data.exists():
        print(f"[{time.strftime('%H:%M:%S')}] {src}: preparing {passages} passages", flush=True)
        prep = (
            "import sys; from pathlib import Path; from bench.run import prepare; "
            "prepare(int(sys.argv[1]), Path(sys.argv[2]))"
        )
        _python(src, ["-c", prep, str(passages), str(place)], place / "prepare.log")
    if not (place / "build.json").exists():
        print(f"[{time.strftime('%H:%M:%S')}] {src}: building", flush=True)
        shutil.rmtree(place / "archive", ignore_errors=True)
        (place / "archive").mkdir()
        out = place / "build.json.partial"
        _python(
            src,
            [
                "-m",
                "bench.worker",
                "build",
                "--peer",
                "archive",
                "--data",
                str(data),
                "--dir",
                str(place / "archive"),
                "--out",
                str(out),
            ],
            place / "build.log",
        )
        out.rename(place / "build.json")
    return place


@contextlib.contextmanager
def quiet(lock: Path | None) -> Iterator[None]:
    """Hold `lock` exclusively (waiting for the jobs holding it shared), or nothing without one."""
    if lock is None:
        yield
        return
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile `p` (0-100) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(run: dict[str, Any]) -> dict[str, float]:
    """p50, p95, p99 and the mean of one search run's per-query times (ms), the p50 of their CPU times
    (`cpu50`: what the search itself spent, whatever else the machine was running), and the p50 of each
    query's first time (`first50`: its first search in the process, the caches of its terms and
    passages cold after the warm-up, as `make bench` times each query once; NaN for a run saved without
    each time)."""
    ms = [q["ms"] for q in run["queries"]]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms),
        "cpu50": percentile([q.get("cpu_ms", math.nan) for q in run["queries"]], 50),
        "first50": percentile([q.get("ms_all", [math.nan])[0] for q in run["queries"]], 50),
    }


def agreement(a: dict[str, Any], b: dict[str, Any], key: str) -> int:
    """How many queries two runs answered alike (`key`: answer or shown)."""
    theirs = {q["id"]: q.get(key) for q in b["queries"]}
    return sum(q.get(key) is not None and q.get(key) == theirs.get(q["id"]) for q in a["queries"])


_FIGURES = ("p50", "p95", "p99", "mean", "cpu50", "first50")


def _row(label: str, figures: dict[str, float], *more: str) -> str:
    """One table row: a label, the figures in ms, and `more` cells."""
    return "| " + " | ".join([label, *(f"{figures[k]:.2f}" for k in _FIGURES), *more]) + " |"


def report(sides: list[Side], runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Markdown: each side's figures per round and over the rounds, then which answers agree."""
    head = "| p50 (ms) | p95 (ms) | p99 (ms) | mean (ms) | CPU p50 (ms) | first p50 (ms) |"
    lines = [f"| side, round {head}", "| --- " + "| ---: " * len(_FIGURES) + "|"]
    medians: dict[str, dict[str, float]] = {}
    for side in sides:
        rows = [summary(r) for r in runs[side.label]]
        lines += [_row(f"{side.label}, {i + 1}", s) for i, s in enumerate(rows)]
        medians[side.label] = {k: statistics.median(s[k] for s in rows) for k in _FIGURES}
    first = medians[sides[0].label]
    lines += [
        "",
        f"| side (median of the rounds) {head} p50 / {sides[0].label} | first p50 / {sides[0].label} |",
        "| --- " + "| ---: " * (len(_FIGURES) + 2) + "|",
    ]
    lines += [
        _row(
            s.label,
            medians[s.label],
            f"{medians[s.label]['p50'] / first['p50']:.2f}",
            f"{medians[s.label]['first50'] / first['first50']:.2f}",
        )
        for s in sides
    ]
    lines.append("")
    base_rounds = [summary(r) for r in runs[sides[0].label]]
    for side in sides[1:]:  # each round's ratio: the spread of the rounds is the noise of this machine
        for key, name in (("p50", "p50"), ("first50", "first p50")):
            ratios = [summary(r)[key] / b[key] for r, b in zip(runs[side.label], base_rounds, strict=True)]
            lines.append(
                f"- {side.label} ÷ {sides[0].label}, {name}, round by round: "
                + ", ".join(f"{x:.2f}" for x in ratios)
                + f" (median {statistics.median(ratios):.2f})"
            )
    lines.append("")
    for side in sides:  # every round of a side answers alike; and each side against the first
        one, n = runs[side.label][0], len(runs[side.label][0]["queries"])
        steady = min(agreement(one, r, "answer") for r in runs[side.label])
        base = runs[sides[0].label][0]
        lines.append(
            f"- {side.label}: {steady} of {n} answers the same in every round; against {sides[0].label}: "
            f"{agreement(one, base, 'answer')} answers, {agreement(one, base, 'shown')} highlights and "
            "excerpts alike"
        )
    return lines


def alternate(
    sides: list[Side], places: dict[Path, Path], rounds: int, repeat: int
) -> dict[str, list[dict[str, Any]]]:
    """`rounds` rounds of the query mix on every side in turn, each run in a process of its own."""
    runs: dict[str, list[dict[str, Any]]] = {side.label: [] for side in sides}
    for r in range(rounds):
        for i, side in enumerate(sides):
            place = places[side.source]
            out = place / f"search-{i}-{r}.json"
            print(f"[{time.strftime('%H:%M:%S')}] round {r + 1}: {side.label}", flush=True)
            search = ["-m", "bench.worker", "search", "--peer", "archive", "--dir", str(place / "archive")]
            search += ["--queries", str(HERE / "queries.json"), "--repeat", str(repeat), "--out", str(out)]
            _python(side.source, search, place / f"search-{i}-{r}.log", side.off)
            runs[side.label].append(json.loads(out.read_text()))
    return runs


def main() -> None:
    """Command line: build what is missing, alternate the sides' search runs, print and write the report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, help="a git revision, or . for this working tree")
    p.add_argument("--after", default=".", help="a git revision, or . for this working tree (default)")
    p.add_argument("--passages", type=int, default=200000)
    p.add_argument("--rounds", type=int, default=3, help="0: prepare and build only")
    p.add_argument("--repeat", type=int, default=3, help="runs of the mix in one search process")
    p.add_argument(
        "--off",
        default="crowding+excerpts",
        help="after-side variants with work switched off, comma-separated (crowding, excerpts, "
        "crowding+excerpts); empty for none",
    )
    p.add_argument("--work", type=Path, default=HERE / "data" / "revisions")
    p.add_argument("--out", type=Path, default=HERE / "results" / "revisions")
    p.add_argument("--quiet-lock", type=Path, help="a lock file held exclusively during the search rounds")
    a = p.parse_args()
    before, after = source(a.before, a.work), source(a.after, a.work)
    sides = [Side("before", before), Side("after", after)]
    sides += [Side(f"after, {v} off", after, v.replace("+", ",")) for v in a.off.split(",") if v]
    places = {src: built(src, a.passages, a.work) for src in dict.fromkeys(s.source for s in sides)}
    with quiet(a.quiet_lock):
        runs = alternate(sides, places, a.rounds, a.repeat)
    if not a.rounds:  # --rounds 0: prepare and build only
        return
    lines = report(sides, runs)
    print("\n".join(lines))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "before": a.before,
        "after": a.after,
        "passages": a.passages,
        "rounds": a.rounds,
        "repeat": a.repeat,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cores": {s.label: digest(s.source) for s in sides},
    }
    a.out.with_suffix(".json").write_text(json.dumps({**meta, "runs": runs}, ensure_ascii=False))
    title = f"## Two revisions side by side: {a.before} and {a.after}, {a.passages:,} passages (`make bench-compare`)"
    command = f"`python -m bench.revisions {' '.join(sys.argv[1:])}` ({meta['date']})"
    a.out.with_suffix(".md").write_text("\n".join([title, "", command, "", *lines, ""]))


if __name__ == "__main__":
    main()
