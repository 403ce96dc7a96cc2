"""The ingest benchmark (issue 15): files through `archive add` / `archive reindex`, against their bare extraction.

    .venv/bin/python -m bench.ingest                      # `make bench-ingest`: 2,000 files, 3 runs, minutes
    .venv/bin/python -m bench.ingest --files 200 --repeat 2 --skip serve,memory

In one run: a seeded mixed batch (`bench/ingest_corpus.py`), its bare single-process extraction (the floor,
`bench/ingest_floor.py`), `archive add` into an empty archive on all cores and on one, `archive reindex`
after a taxonomy edit and with nothing changed (`--repeat` times each, in turn), each format added alone,
the peak memory of adding 10× more files, a full rebuild through a Dask LocalCluster, and `archive serve
--workers 1` against `--workers 2` under wrk. A flag this build lacks makes its step say so.

Writes bench/results/ingest.json and ingest.md, then bench/RESULTS.md (`bench.report`). Generated files and
archive homes go to --work (default bench/data/ingest/, git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import corpus, ingest_corpus, ingest_report, ingest_scale, ingest_steps, report, run

HERE = Path(__file__).resolve().parent
STEPS = ("formats", "memory", "cluster", "serve")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=ingest_corpus.DEFAULT_FILES, help="files in the mixed batch")
    p.add_argument("--seed", type=int, default=ingest_corpus.SEED)
    p.add_argument("--repeat", type=int, default=3, help="runs of each command of the mix, in turn")
    p.add_argument("--warmup", type=int, default=1, help="bare extractions run first and not counted")
    p.add_argument("--memory-files", default="1000,10000", help="the two batch sizes of the memory step")
    p.add_argument("--serve-passages", type=int, default=200_000)
    p.add_argument("--http-seconds", type=int, default=20)
    p.add_argument("--skip", default="", help=f"steps left out, comma-separated: {','.join(STEPS)}")
    p.add_argument("--work", type=Path, default=HERE / "data" / "ingest")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where ingest.json and ingest.md go")
    p.add_argument("--no-render", action="store_true", help="leave bench/RESULTS.md alone")
    a = p.parse_args(argv)
    unknown = set(filter(None, a.skip.split(","))) - set(STEPS)
    if unknown:
        p.error(f"--skip: unknown steps {sorted(unknown)}; the steps are {', '.join(STEPS)}")
    if a.files < len(ingest_corpus.SHARES) or a.repeat < 1:
        p.error("--files needs at least one file of each format, --repeat at least 1")
    return a


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def measure(a: argparse.Namespace) -> dict[str, Any]:
    """Every step the arguments ask for: the results as ingest.json holds them."""
    skip = set(filter(None, a.skip.split(",")))
    batch_dir = a.work / f"batch-{a.files}-{a.seed}"
    _log(f"batch of {a.files} files in {batch_dir}")
    # in a process of its own: the corpus's rows (200 MB) must not stay here, under every command's ru_maxrss
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ingest_corpus",
            f"--files={a.files}",
            f"--seed={a.seed}",
            f"--out={batch_dir}",
        ],
        check=True,
        cwd=HERE.parent,
    )
    files = json.loads((batch_dir / ingest_corpus.STAMP).read_text())["files"]
    size = sum(
        p.stat().st_size for p in batch_dir.rglob("*") if p.is_file() and p.name != ingest_corpus.STAMP
    )
    b = ingest_steps.Bench(a.work, batch_dir, a.repeat, a.warmup, features=ingest_steps.features())
    _log(f"features of this build: {b.features}")
    b.warm()
    result: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.ingest", *(sys.argv[1:] if a.argv is None else a.argv)]),
        "machine": run.machine(),
        "source": run.source_state(),
        "settings": {
            "files": a.files,
            "seed": a.seed,
            "repeat": a.repeat,
            "warmup": a.warmup,
            "workers": b.workers,
        },
        "features": b.features,
        "batch": {"files": files, "bytes": size},
        "load": {"start": _load()},
    }
    _log("the mixed batch")
    result["mix"] = ingest_steps.mix(b)
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "formats": lambda: ingest_steps.formats(b),
        "memory": lambda: ingest_steps.memory(b, _sizes(a.memory_files)),
        "cluster": lambda: ingest_scale.cluster(b, a.work / "homes" / "mix"),
        "serve": lambda: ingest_scale.serve(b, a.serve_passages, a.http_seconds),
    }
    for name, step in steps.items():
        if name not in skip:
            _log(name)
            try:
                result[name] = step()
            except Exception as e:  # one step's failure (a flag half-built, a port taken) keeps the others
                traceback.print_exc()
                result[name] = {"skipped": f"failed: {type(e).__name__}: {str(e).strip()[:300]}"}
    result["load"]["end"] = _load()
    return result


def _load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _sizes(text: str) -> tuple[int, int]:
    small, large = (int(v) for v in text.split(","))
    return small, large


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write its results; the results."""
    a = arguments(argv)
    a.argv = argv
    if not corpus.available():
        raise SystemExit(f"the corpus is not at {corpus.CORPUS_DIR}: set BENCH_CORPUS to ../shared/corpus")
    result = measure(a)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "ingest.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    (a.out / "ingest.md").write_text(ingest_report.render(result), "utf-8")
    if not a.no_render:
        report.write()
    _log(f"done: {a.out / 'ingest.md'}")
    return result


if __name__ == "__main__":
    main()
