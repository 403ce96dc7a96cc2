"""The steps of the ingest benchmark, each a few whole `archive` commands timed from outside.

Every command is this checkout's (`python -m archive ...` from the project's root) on an archive home of
its own under the work folder, with no other `ARCHIVE_*` setting. A flag this build does not have (found
from the command's `--help`) makes its step say "not available in this build" instead of failing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ingest_corpus
from .hostile_archive import env_for
from .measure import Measured, timed

ROOT = Path(__file__).resolve().parent.parent
NOT_AVAILABLE = "not available in this build"

TAXONOMY_EDIT = """\
# Ajouté par l'archiviste : le juge des libertés et de la détention, cité dans les codes.
[agency.jld]
label = "Juge des libertés et de la détention"
aliases = ["juge des libertés et de la détention", "JLD"]
"""
"""What an archivist adds to the home's taxonomy.toml before the reindex after a taxonomy edit."""


class StepFailed(RuntimeError):
    """A command of the benchmark failed: its step has no figures (the message ends with its log)."""


@dataclass
class Bench:
    """One run's folders, settings and what this build offers."""

    work: Path
    batch: Path
    repeat: int
    warmup: int = 1
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    features: dict[str, bool] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        """Every command's output, appended."""
        return self.work / "logs"

    def home(self, name: str) -> Path:
        """An empty archive home `name` (whatever was there is removed)."""
        home = self.work / "homes" / name
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        return home

    @property
    def cache(self) -> Path:
        """The commands' XDG cache (the analyzer's lexicon table): the run's own, filled by `warm` before
        anything is timed. The user's is shared with every checkout on the machine, and one whose
        `archive/lexicon.py` or `inflection.py` differs replaces the table there: the next command
        would spend seconds deriving it again (seen: 6 s of CPU inside a timed reindex)."""
        return self.work / "cache"

    def env(self, home: Path) -> dict[str, str]:
        """The environment of a command on `home`: this checkout's code first, no other ARCHIVE_* setting."""
        return {**env_for(home), "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(self.cache)}

    def warm(self) -> None:
        """Derive the lexicon's table into the run's cache (`archive stats` on an empty home loads it)."""
        self.stats(self.home("warm"))

    def archive(self, home: Path, args: list[str], log: str) -> Measured:
        """`python -m archive ARGS` on `home`, timed; StepFailed with the log's end when it exits 2 or worse."""
        done = timed([sys.executable, "-m", "archive", *args], self.env(home), ROOT, self.logs / log)
        if done.returncode not in (0, 1):  # 1: some file rejected, reported in the log and the stats
            tail = (self.logs / log).read_text("utf-8", "replace")[-3000:]
            raise StepFailed(f"archive {' '.join(args)} exited {done.returncode}:\n{tail}")
        return done

    def workers_flag(self, command: str, n: int | None) -> list[str]:
        """`--workers N` when `command` has it (N: all cores when None), else nothing."""
        if not self.features.get(f"{command}_workers"):
            return []
        return ["--workers", str(n or self.workers)]

    def stats(self, home: Path) -> dict[str, Any]:
        """`archive stats --json` of `home`, plus whether an extraction cache was written beside the index."""
        out = subprocess.run(
            [sys.executable, "-m", "archive", "stats", "--json"],
            env=self.env(home),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        body: dict[str, Any] = json.loads(out)
        cache = home / "index" / "extracted"
        body["extraction_cache_files"] = (
            sum(1 for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else 0
        )
        return body


def features() -> dict[str, bool]:
    """Which of issue 15's flags this build has, from the commands' `--help`."""

    def help_of(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", *args, "--help"], cwd=ROOT, capture_output=True, text=True
        )
        return done.stdout

    add, reindex, serve = (
        help_of("archive", "add"),
        help_of("archive", "reindex"),
        help_of("web.cli", "serve"),
    )
    return {
        "add_workers": "--workers" in add,
        "reindex_workers": "--workers" in reindex,
        "scheduler": "--scheduler" in reindex,
        "serve_workers": "--workers" in serve,
    }


def figures(done: Measured, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """A command's figures, with the passages, documents and cache files of the archive it left."""
    row: dict[str, Any] = done.to_json()
    if stats is not None:
        row.update(
            passages=stats["passages"],
            documents=stats["documents"],
            extraction_cache_files=stats["extraction_cache_files"],
        )
    return row


def floor(b: Bench, root: Path, log: str) -> dict[str, Any]:
    """The bare extraction of the files under `root` (`bench.ingest_floor`), timed as a whole process."""
    out = b.logs / f"{log}.json"
    done = timed(
        [sys.executable, "-m", "bench.ingest_floor", str(root), "--out", str(out)],
        b.env(root),
        ROOT,
        b.logs / log,
    )
    if done.returncode != 0:
        raise StepFailed(f"the bare extraction failed: see {b.logs / log}")
    return {**done.to_json(), "formats": json.loads(out.read_text())}


def mix(b: Bench) -> dict[str, list[dict[str, Any]]]:
    """The mixed batch, `repeat` times: floor, add (all workers), reindex after a taxonomy edit, reindex
    with nothing changed, add with one worker; after `warmup` floor runs that are not counted."""
    runs: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("floor", "add", "taxonomy", "unchanged", "add_one")
    }
    for w in range(b.warmup):
        floor(b, b.batch, f"floor-warmup-{w}")
    for r in range(b.repeat):
        print(f"  mix {r + 1}/{b.repeat}", flush=True)
        runs["floor"].append(floor(b, b.batch, f"floor-{r}"))
        home = b.home("mix")
        add = b.archive(
            home, ["add", str(b.batch), "--to", "batch", *b.workers_flag("add", None)], f"add-{r}.log"
        )
        runs["add"].append(figures(add, b.stats(home)))
        (home / "taxonomy.toml").write_text(TAXONOMY_EDIT, "utf-8")
        again = b.archive(home, ["reindex", *b.workers_flag("reindex", None)], f"taxonomy-{r}.log")
        stats = b.stats(home)
        tagged = [v["count"] for v in stats["facets"]["agency"] if v["value"] == "jld"]
        runs["taxonomy"].append({**figures(again, stats), "tagged_by_edit": sum(tagged)})
        same = b.archive(home, ["reindex", *b.workers_flag("reindex", None)], f"unchanged-{r}.log")
        runs["unchanged"].append(figures(same))
        if b.features.get("add_workers"):
            one = b.home("mix-one")
            done = b.archive(
                one, ["add", str(b.batch), "--to", "batch", "--workers", "1"], f"add-one-{r}.log"
            )
            runs["add_one"].append(figures(done, b.stats(one)))
            shutil.rmtree(one)
    return runs


def formats(b: Bench) -> dict[str, dict[str, Any]]:
    """Each format alone: its bare extraction, and `archive add` of its files (all workers) into an empty
    archive; passages from `archive stats`."""
    out: dict[str, dict[str, Any]] = {}
    for fmt in ingest_corpus.SHARES:
        folder = b.batch / fmt
        home = b.home(f"format-{fmt}")
        add = b.archive(home, ["add", str(folder), *b.workers_flag("add", None)], f"format-{fmt}.log")
        out[fmt] = {"floor": floor(b, folder, f"floor-{fmt}"), "add": figures(add, b.stats(home))}
        shutil.rmtree(home)
    return out


def memory(b: Bench, sizes: tuple[int, int]) -> dict[str, Any]:
    """`archive add` of `sizes[0]` then `sizes[1]` tiny text files into empty archives: peak memory; and
    the reindex with nothing changed at each size."""
    out: dict[str, Any] = {"sizes": list(sizes)}
    for n in sizes:
        files = ingest_corpus.tiny(b.work / f"tiny-{n}", n)
        home = b.home(f"tiny-{n}")
        add = b.archive(home, ["add", str(files), *b.workers_flag("add", None)], f"tiny-add-{n}.log")
        same = b.archive(home, ["reindex", *b.workers_flag("reindex", None)], f"tiny-unchanged-{n}.log")
        out[str(n)] = {"add": figures(add, b.stats(home)), "unchanged": figures(same)}
        shutil.rmtree(home)
    return out
