"""`archive check`: the fixity of every original against the manifest, and the index against the documents.

Errors say the archive is not what it recorded (altered, missing, unrecorded, unindexed or orphaned files,
an index to rebuild); warnings say what needs no repair (duplicates, refused names, leftovers of a killed
writer, a failed write that the next successful one clears, a corrupt entry of the extraction cache).
Nothing is written but the extraction cache's entry of a file `check` had to read (derived data).
"""

from __future__ import annotations

from pathlib import Path

from . import fixity, health, indexer
from .documents import Store
from .errors import RejectedInput
from .extracted import DIRECTORY, NOT_AN_ENTRY, ExtractedCache
from .fixity import Diff
from .names import BAD_NAME
from .outcomes import Problem, printable
from .pipeline import Pipeline
from .searcher import Searcher


def check(store: Store, index_dir: Path, pipeline: Pipeline, searcher: Searcher) -> list[Problem]:
    """Every problem of the archive, errors and warnings, in the order a person reads them."""
    problems = _health(index_dir)
    diff = fixity.diff(store)
    problems += _fixity(diff)
    problems += _refused(diff)
    problems += _leftovers(store, index_dir)
    problems += _extracted(pipeline.extracted)
    why = indexer.needs_full_rebuild(index_dir, pipeline.taxonomy.fingerprint)
    if why:
        return [
            *problems,
            Problem("error", "index/", f"index must be rebuilt ({why}): run `archive reindex`"),
        ]
    return problems + _index(diff, store, pipeline, searcher)


def _health(index_dir: Path) -> list[Problem]:
    """The last write's failure, until a write succeeds."""
    failed = health.read(index_dir)
    if not failed:
        return []
    return [
        Problem(
            "warning",
            "index/",
            f"the last write ({failed.get('what')}, {failed.get('since')}) failed: "
            f"{failed.get('reason')}; the next successful write clears this",
        )
    ]


def _fixity(diff: Diff) -> list[Problem]:
    """Originals that cannot be read, are not recorded, differ from the manifest or are gone."""
    problems: list[Problem] = []
    for document_id in diff.ids:
        error = diff.unreadable.get(document_id)
        if error is not None:  # gone or swapped for a link since the scan
            problems.append(
                Problem("error", printable(document_id), f"cannot read: {error.strerror or error}")
            )
        elif document_id not in diff.manifest:
            problems.append(
                Problem("error", document_id, "not in the fixity manifest (new file? run `archive reindex`)")
            )
        elif diff.altered(document_id):
            problems.append(Problem("error", document_id, "altered: its SHA-256 differs from the manifest"))
    for document_id in diff.missing():  # present but refused for its name: said by `_refused`
        problems.append(
            Problem("error", printable(document_id), "missing: listed in the manifest but not in documents/")
        )
    return problems


def _refused(diff: Diff) -> list[Problem]:
    """Paths the walk refused: never read, never indexed, never served."""
    problems: list[Problem] = []
    for path, rejection in diff.refused.items():
        prefix = "cannot be indexed: " if rejection == BAD_NAME else ""
        problems.append(
            Problem("warning", printable(path), f"{prefix}{rejection.message} [{rejection.code}]")
        )
    return problems


def _leftovers(store: Store, index_dir: Path) -> list[Problem]:
    """Temporary files a killed writer left in documents/ and index/."""
    problems = [
        Problem("warning", name, "temporary file left by an interrupted write; the next write removes it")
        for name in store.leftovers()
    ]
    stale = [p.name for p in index_dir.glob("*.tmp")] if index_dir.is_dir() else []
    problems.extend(
        Problem("warning", f"index/{name}", "left over by an interrupted write; the next reindex removes it")
        for name in stale
    )
    return problems


MAX_CACHE_WARNINGS = 20
"""Corrupt cache entries named one by one; past this, one line counts the others (a whole cache gone bad
would otherwise bury the archive's own problems under 100,000 lines)."""


def _extracted(cache: ExtractedCache) -> list[Problem]:
    """Corrupt entries of the extraction cache: warnings, not errors. The cache is derived data that every
    read verifies and replaces, so no corrupt entry reaches the index and nothing needs repair; but bytes
    that changed on their own in index/ are a sign of storage going bad, worth a person's look."""
    corrupt = cache.survey().corrupt
    problems = [
        Problem(
            "warning",
            printable(path),
            f"corrupt extraction cache entry ({why}): ignored, and replaced when the file is next read "
            "(`archive reindex --full` does it now)"
            if why != NOT_AN_ENTRY
            else f"{why} in the extraction cache: ignored, and removed by the next reindex",
        )
        for path, why in corrupt[:MAX_CACHE_WARNINGS]
    ]
    if len(corrupt) > MAX_CACHE_WARNINGS:
        problems.append(
            Problem(
                "warning",
                f"index/{DIRECTORY}/",
                f"{len(corrupt) - MAX_CACHE_WARNINGS} more corrupt entries of the extraction cache, ignored",
            )
        )
    return problems


def _index(diff: Diff, store: Store, pipeline: Pipeline, searcher: Searcher) -> list[Problem]:
    """The index against the documents: each indexed once, up to date and whole; nothing orphaned."""
    problems: list[Problem] = []
    records = searcher.records()
    counts = searcher.passage_counts()
    for document_id, sha in diff.shas.items():
        first = diff.duplicates.get(document_id)
        if first is not None:
            problems.append(Problem("warning", document_id, f"same content as {first}: indexed once"))
            continue
        record = records.get(document_id)
        if record is None:
            problems.append(_unindexed(document_id, store, pipeline))
            continue
        if record.get("sha256") != sha:
            problems.append(
                Problem("error", document_id, "index out of date for this file: run `archive reindex`")
            )
        if counts.get(document_id, 0) != record.get("passages"):
            problems.append(
                Problem(
                    "error",
                    document_id,
                    f"index holds {counts.get(document_id, 0)} passages, expected {record.get('passages')}",
                )
            )
    for document_id in sorted(set(records) - set(diff.ids)):
        problems.append(
            Problem("error", printable(document_id), "orphaned: indexed but no longer in documents/")
        )
    return problems


def _unindexed(document_id: str, store: Store, pipeline: Pipeline) -> Problem:
    """A document the index lacks: an error, unless it cannot be indexed at all (then why)."""
    try:
        pipeline.prepare(document_id, *store.read(document_id, pipeline.settings.max_file_bytes))
    except RejectedInput as e:
        return Problem("warning", document_id, f"cannot be indexed: {e.reason} [{e.reason_code}]")
    return Problem("error", document_id, "not indexed: run `archive reindex`")
