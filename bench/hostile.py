"""Hostile requests against the bounds the service promises (README "Guarantees", docs/web.md "Limits").

Builds an archive from the real French corpus (bench/corpus.py, read in place): `--passages` passages of
one document per article, plus one long document of `--long-passages` passages made of the articles that
come next, indexed with `archive.indexer.build` as `bench.run` does, in a temporary folder. Serves it with
`archive serve` on a free 127.0.0.1 port (ARCHIVE_RATE_LIMIT=off, log to a file) and measures, in one run:

1. a one-word search and `/health` alone, then while 4 clients send heavy requests (64-word quoted
   phrases, wildcards, thousands of terms): nothing starves;
2. the heavy requests themselves: time to answer, the server's `took_ms`, the partial-results note;
3. a 1,700-value facet flood (`year=0&year=1&…`): time to the 400;
4. a CSV export of 10,000 rows alone and 4 at once, and a 5th while 4 stream (503);
5. a page of the long document (`?p=15000`) in JSON and HTML: time and size;
6. `archive add` of degenerate files, once the server has stopped: time per file and outcome.

Every figure is median / p95 / max over repeated requests; every loop is bounded in count and time.
Writes bench/results/hostile.md, then renders bench/RESULTS.md (`bench.report`), which points to it.

    .venv/bin/python -m bench.hostile            # about 5 minutes (`make bench-hostile`)
    .venv/bin/python -m bench.hostile --quick    # fewer repetitions, a 30 s load: about 2 minutes

Not part of `make test`. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from . import corpus, report, run
from .hostile_archive import add_phase, build_home, heavy_queries, memory_mb, serving
from .hostile_report import render
from .hostile_requests import (
    EXPORT_WORD,
    FLOOD,
    HEAVY_CLIENTS,
    JSON,
    LONG_ID,
    QUICK,
    REQUEST_TIMEOUT,
    TRIVIAL,
    Plan,
    Recorder,
    export_phase,
    load_phase,
    page,
    search_url,
    sequential,
)
from .hostile_verdicts import Run, verdicts

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "hostile.md"


def log(message: str) -> None:
    """Print `message` with the time, at once."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Build, serve and measure, write the report (and RESULTS.md); 0 even when a bound does not hold."""
    args = _arguments(argv)
    if not corpus.available():
        raise SystemExit(f"the benchmark corpus is absent: {corpus.CORPUS_DIR}")
    plan = QUICK if args.quick else Plan()
    began = time.monotonic()
    meta = _meta(argv, plan)
    work = Path(tempfile.mkdtemp(prefix="archive-hostile-"))
    home = work / "home"
    try:
        log(f"building {args.passages:,} + {args.long_passages:,} passages in {home}")
        info, documents = build_home(home, args.passages, args.long_passages)
        heavy = heavy_queries(documents)
        reference = "\n\n".join(p.text for d in documents[:40] for p in d.passages)[:2000].rsplit(" ", 1)[0]
        del documents
        log(f"built in {float(str(info['seconds'])):.0f} s; serving")
        rec, memory, export_total, page_number = _measure_http(home, work / "serve.log", heavy, plan)
        server_errors = collections.Counter(
            line.strip()
            for line in (work / "serve.log").read_text("utf-8", "replace").splitlines()
            if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)
        )
        log("archive add of degenerate files")
        adds = add_phase(home, work / "files", plan, reference)
        meta["load_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        meta["digest_end"] = run.source_state()["archive_digest"]
        meta["duration"] = f"{(time.monotonic() - began) / 60:.1f} min"
        result = Run(
            meta, info, heavy, rec, plan, adds, memory, server_errors, f"{export_total:,}", page_number
        )
        _write(result, args.out)
        return 0  # like bench.run, a bound that does not hold is a result, recorded, not a failed run
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--passages", type=int, default=20_000)
    p.add_argument("--long-passages", type=int, default=20_000)
    p.add_argument("--quick", action="store_true", help="fewer repetitions and a 30 s load")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--keep", action="store_true", help="keep the temporary archive home and the server log")
    return p.parse_args(argv)


def _meta(argv: list[str] | None, plan: Plan) -> dict[str, str]:
    """What the report says of the run before it starts: date, command, machine, load, core."""
    machine, source = run.machine(), run.source_state()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(
            [".venv/bin/python -m bench.hostile", *(argv if argv is not None else sys.argv[1:])]
        ),
        "load_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "load_seconds": f"{plan.load_seconds:g}",
        "commit": source["commit"],
        "digest": source["archive_digest"],
        **{k: str(v) for k, v in machine.items()},
    }


def _measure_http(
    home: Path, log_file: Path, heavy: dict[str, str], plan: Plan
) -> tuple[Recorder, dict[str, float], int, int]:
    """Every HTTP measure on `archive serve`: (samples, server memory, export total, long page number)."""
    rec = Recorder()
    with serving(home, log_file) as (server, base):
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as c:
            for url in (search_url(TRIVIAL), f"/documents/{quote(LONG_ID)}?p=1", "/health"):
                c.get(url, headers=JSON)  # the first requests open the generation and fill its caches
            export_total = c.get(search_url(EXPORT_WORD), headers=JSON).json()["total"]
        log("alone: a one-word search, /health")
        sequential(rec, "search alone", base, search_url(TRIVIAL), JSON, plan.alone)
        sequential(rec, "/health alone", base, "/health", JSON, plan.alone)
        log("each heavy request alone")
        for kind, q in heavy.items():
            sequential(
                rec, "heavy alone:" + kind, base, search_url(q, per_page="100"), JSON, plan.heavy_alone
            )
        log(f"under load: {HEAVY_CLIENTS} clients send heavy requests for {plan.load_seconds:g} s")
        load_phase(rec, base, heavy, plan)
        log("facet flood")
        sequential(rec, "facet flood", base, "/search?" + FLOOD, JSON, plan.alone, seconds=120)
        log("exports")
        export_phase(rec, base, plan)
        log("the long document's page")
        page_number = page(rec, base, plan)
        memory = memory_mb(server.pid)
    return rec, memory, export_total, page_number


def _write(result: Run, out: Path) -> None:
    """Write the report to `out` (and RESULTS.md when it is the usual file), print it and what did not hold."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(result), encoding="utf-8")
    if out == OUT:
        report.write()
    print(out.read_text(encoding="utf-8"))
    missed = [v.bound for v in verdicts(result) if not v.holds]
    log(f"done: {out}; bounds not held on this run: {len(missed)} (see its Findings)")


if __name__ == "__main__":
    sys.exit(main())
