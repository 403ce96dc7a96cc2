"""The `archive` command: thin over `archive.home.Archive`.

Exit codes: 0 all good, 1 some input rejected or a check failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import progress, readout
from .errors import ArchiveError, UsageError, relative_to_home
from .home import Archive
from .outcomes import Report, printable
from .request import SearchRequest
from .settings import ENVIRONMENT, Settings

EXAMPLES = """\
examples:
  archive add ~/inbox/communique.pdf ~/inbox/article.html --to 2024
  archive reindex                 # index new, changed and removed files of documents/
  archive reindex --full          # rebuild everything beside the live index, then swap
  archive reindex --full --scheduler tcp://10.0.0.5:8786   # prepare the documents on a Dask cluster
  archive search 'blanchiment aggravé' --agency eurojust
  archive search '"garde à vue" mineurs' --year 2023 --json
  archive search ''               # browse everything, newest first
  archive check                   # fixity of the originals and consistency of the index
"""

Extension = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def build_parser(extend: Extension | None = None) -> argparse.ArgumentParser:
    """The `archive` command line: the core's commands, and those `extend` adds (the web layer's)."""
    env_help = "\n".join(f"  {name:<26} {text}" for name, text in ENVIRONMENT.items())
    parser = argparse.ArgumentParser(
        prog="archive",
        description="A searchable full-text archive of French documents.",
        epilog=f"{EXAMPLES}\nenvironment:\n{env_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--home", type=Path, help="archive home (default: $ARCHIVE_HOME or the current directory)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "add", "copy files into documents/ and index them", cmd_add)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders to add")
    p.add_argument("--to", dest="folder", metavar="FOLDER", help="folder inside documents/ (e.g. 2024)")
    _scheduler_argument(p)
    _workers_argument(p)

    p = _command(sub, "reindex", "bring the index in line with documents/", cmd_reindex)
    p.add_argument("--full", action="store_true", help="rebuild a complete new index and swap it in")
    _workers_argument(p)
    p.add_argument(
        "--accept-changes",
        action="store_true",
        help="index originals that differ from the fixity manifest (edited or deleted by hand) and record them",
    )
    _scheduler_argument(p)

    _search_arguments(_command(sub, "search", "search passages", cmd_search))

    p = _command(sub, "remove", "remove a document from documents/ and the index", cmd_remove)
    p.add_argument("document_id", metavar="DOC_ID", help="path relative to documents/, e.g. 2024/note.md")

    _command(sub, "check", "verify fixity and index consistency (exit 1 on any problem)", cmd_check)

    p = _command(sub, "stats", "documents, passages and facet counts", cmd_stats)
    p.add_argument("--json", action="store_true")

    if extend:
        extend(sub)
    return parser


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    func: Callable[[argparse.Namespace, Settings], int],
) -> argparse.ArgumentParser:
    """A subcommand running `func`, its docstring the help text."""
    p = sub.add_parser(
        name, help=summary, description=_doc(func), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.set_defaults(func=func)
    return p


def _scheduler_argument(p: argparse.ArgumentParser) -> None:
    """`--scheduler ADDRESS`: the documents prepared on a Dask cluster (README, "A cluster of machines")."""
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="prepare the documents on the Dask cluster of this scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default: $ARCHIVE_SCHEDULER; unset: on this machine)",
    )


def _workers_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="processes reading and preparing files (default: $ARCHIVE_INGEST_WORKERS or the number of cores)",
    )


def _positive(raw: str) -> int:
    """A whole number of 1 or more, for argparse (which exits 2 with the message otherwise)."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {raw!r}")
    return value


def _search_arguments(p: argparse.ArgumentParser) -> None:
    """The query, filters, sort and paging of `archive search`."""
    p.add_argument(
        "query", metavar="QUERY", help="words, \"phrases\", OR, NOT, prefix*, field:value ('' browses)"
    )
    p.add_argument(
        "--agency", action="append", default=[], metavar="ID", help="filter by agency (repeatable)"
    )
    p.add_argument(
        "--offence", action="append", default=[], metavar="ID", help="filter by offence (repeatable)"
    )
    p.add_argument("--year", action="append", default=[], metavar="Y", help="filter by year (repeatable)")
    p.add_argument("--source", action="append", default=[], metavar="S", help="filter by source (repeatable)")
    p.add_argument("--type", action="append", default=[], metavar="T", help="filter by type (repeatable)")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="only documents dated on or after (ISO)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="only documents dated on or before (ISO)")
    p.add_argument("--sort", choices=["relevance", "newest", "oldest"], default="relevance")
    p.add_argument("--limit", type=int, default=10, metavar="N", help="hits per page (1-100, default 10)")
    p.add_argument("--page", type=int, default=1, metavar="P", help="page of hits (default 1)")
    p.add_argument(
        "--every-passage",
        action="store_true",
        help="list every matching passage in rank order (by default at most 2 of one document)",
    )
    p.add_argument(
        "--no-correct",
        dest="correct",
        action="store_false",
        help="search exactly what was typed (by default a query matching nothing searches its correction)",
    )
    p.add_argument("--json", action="store_true", help="print the JSON of the HTTP API's /search")


def _doc(func: Callable[..., Any]) -> str:
    return (func.__doc__ or "").strip()


def main(argv: Sequence[str] | None = None, extend: Extension | None = None) -> int:
    """Run one command; its exit code: 0 all good, 1 rejected input or a failed check, 2 usage error."""
    parser = build_parser(extend)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(home=args.home, scheduler=getattr(args, "scheduler", None))
    except ValueError as e:
        print(f"archive: {e}", file=sys.stderr)
        return 2
    try:
        result: int = args.func(args, settings)
        return result
    except UsageError as e:
        print(f"archive: {e}", file=sys.stderr)
        return 2
    except ArchiveError as e:  # busy, not found, fixity, reader failed, storage...
        print(f"archive: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `archive search '' | head -1`: the reader left, nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as e:  # full disk, read-only storage, permissions: the live index is left as it was
        shown = relative_to_home(e.filename, settings.home)  # the home's files by their place in it
        if shown is None and e.filename:
            shown = printable(str(e.filename))  # a file of the user's own, given on the command line
        where = f" ({shown})" if shown else ""
        print(
            f"archive: cannot complete: {e.strerror or e}{where}; the live index is unchanged",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("archive: interrupted; the live index is unchanged or fully updated", file=sys.stderr)
        return 130


def _print_json(value: Mapping[str, Any]) -> int:
    """Print a model's `to_json()`, as the HTTP API sends it (but indented)."""
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _summary(report: Report) -> int:
    """After the outcome lines (`progress` printed them as they came): the counts, and the exit code."""
    counts = ", ".join(
        f"{report.count(s)} {s}"
        for s in ("added", "updated", "unchanged", "removed", "duplicate", "rejected")
        if report.count(s)
    )
    print(counts or "nothing to do")
    return 1 if report.rejected else 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Copy files into documents/ (never over a different file of the same name) and index them.

    Rejected files (empty, binary, unknown format, PDF without text layer...) are reported and not copied.
    Each file's line is printed as soon as it is settled; on a terminal a progress line stays below them.

      archive add rapport.pdf communique.md --to 2024
      archive add ~/inbox --workers 2
    """
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    with progress.shown("add") as shown:  # on a terminal, says at once that the command runs
        archive = Archive(_with_workers(settings, args.workers))
        try:
            report = archive.add(args.paths, args.folder, progress=shown.advance, listener=shown.tell)
        finally:
            archive.close()
    return _summary(report)


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Index new and changed files of documents/ and drop removed ones; --full rebuilds beside and swaps.

    Each document's line is printed as soon as it is settled; on a terminal a progress line stays below.

    archive reindex
    archive reindex --full     # after editing taxonomy.toml
    archive reindex --accept-changes   # after editing or deleting originals by hand
    archive reindex --full --scheduler tcp://10.0.0.5:8786   # on a Dask cluster
    archive reindex --full --workers 4
    """
    with progress.shown("reindex") as shown:
        archive = Archive(_with_workers(settings, args.workers))
        try:
            report = archive.reindex(
                full=args.full,
                progress=shown.advance,
                accept_changes=args.accept_changes,
                listener=shown.tell,
            )
        finally:
            archive.close()
    return _summary(report)


def _with_workers(settings: Settings, workers: int | None) -> Settings:
    """`settings` with `--workers`, when given, instead of `ARCHIVE_INGEST_WORKERS`."""
    return settings if workers is None else replace(settings, ingest_workers=workers)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search passages: AND by default, "phrases", OR, NOT, prefix*, title:, agency:, offence:, year:.

    archive search 'blanchiment aggravé' --agency eurojust
    archive search '' --offence proxenetisme --sort newest --json
    """
    filters = {
        name: tuple(getattr(args, name))
        for name in ("agency", "offence", "year", "source", "type")
        if getattr(args, name)
    }
    request = SearchRequest(
        query=args.query,
        filters=filters,
        date_from=args.date_from,
        date_to=args.date_to,
        sort=args.sort,
        page=args.page,
        per_page=args.limit,
        crowding=not args.every_passage,
        correct=args.correct,
    )
    archive = Archive(settings)
    try:
        results = archive.search(request)
    finally:
        archive.close()
    if args.json:
        return _print_json(results.to_json())
    readout.write(results)
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a document: its file, sidecar, manifest line and passages.

    archive remove 2024/communique.md
    """
    archive = Archive(settings)
    try:
        print(archive.remove(args.document_id).describe())
    finally:
        archive.close()
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Verify every original against the fixity manifest and the index against documents/.

    Errors (altered, missing, unrecorded or unindexed files, orphaned index entries) exit 1;
    warnings (unindexable files, duplicates, corrupt entries of the extraction cache) do not.
    The extraction cache's size is said before the summary.

      archive check
    """
    archive = Archive(settings)
    try:
        problems = archive.check()
        cache = archive.extraction_cache()
    finally:
        archive.close()
    for p in problems:
        print(f"{p.severity:<7} {printable(p.path)}: {p.message}")
    off = "" if settings.extraction_cache else " (off: ARCHIVE_EXTRACTION_CACHE)"
    entries = f"{cache.entries} entr{'y' if cache.entries == 1 else 'ies'}"
    print(f"extraction cache: {entries}, {cache.bytes / 1e6:.1f} MB in index/extracted/{off}")
    errors = sum(p.severity == "error" for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)" if problems else "all good")
    return 1 if errors else 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """Documents, passages, index size and facet counts.

    archive stats --json
    """
    archive = Archive(settings)
    try:
        stats = archive.stats()
        failed = archive.health()
    finally:
        archive.close()
    if args.json:
        return _print_json(stats.to_json(failed))
    print(
        f"{stats.documents} documents, {stats.passages} passages, index {stats.index_bytes / 1e6:.1f} MB "
        f"(schema {stats.schema_version}, built {stats.built_at or 'never'})"
    )
    if failed:
        print(f"  degraded since {failed.get('since')}: {failed.get('what')} failed: {failed.get('reason')}")
    for name, values in stats.facets.items():
        top = ", ".join(f"{f.label} ({f.count})" for f in values[:8])
        print(f"  {name}: {top or '-'}")
    return 0
