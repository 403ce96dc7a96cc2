"""What runs on the Dask workers of `archive/cluster.py`: the pipeline they hold, the task, the fitness check.

Only the workers of a cluster and the client that connects to them import this module (it imports
`distributed`, the `cluster` extra); `archive/cluster.py` reaches it lazily.

The settings and taxonomy reach each worker once, through a worker plugin: the scheduler keeps the plugin
and hands it to every worker that joins, including the one a nanny starts in place of a dead worker, and
the plugin builds the worker's `Pipeline`. A document's task then carries only the plugin's name, its
file and its sidecar, and depends on no other task's result. (A task result or scattered data that every
document depends on is worse: Dask places a task where its inputs are, so every document went to the one
worker holding the pipeline; and scattered data has no recipe, so it is lost with its last holder.)
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from .errors import ClusterMismatch, RejectedInput
from .pipeline import Pipeline
from .preparing import Job, Prepared
from .settings import Settings
from .taxonomy import Taxonomy

SHAPING = (
    "whoosh-reloaded",
    "trafilatura",
    "lxml",
    "lxml_html_clean",
    "pypdf",
    "charset-normalizer",
    "python-frontmatter",
    "PyYAML",
    "markdown-it-py",
)
"""The distributions whose version shapes a `Document` (the index pin, the readers): the same on every machine."""

DAEMONIC = (
    "a daemonic process, which may not start the reader process: run `dask worker` with "
    "DASK_DISTRIBUTED__WORKER__DAEMON=False (or --no-nanny)"
)

_PIPELINES: dict[str, Pipeline] = {}
"""On a worker: the pipelines its plugins built, by plugin name (one per connected writer)."""


class PipelinePlugin(WorkerPlugin):
    """The settings and taxonomy of one writer, turned into a `Pipeline` on every worker that joins."""

    def __init__(self, name: str, settings: Settings, taxonomy: Taxonomy) -> None:
        self.name = name
        self.settings = settings
        self.taxonomy = taxonomy

    def setup(self, worker: object) -> None:
        """Build this writer's pipeline in the worker's process, without an extraction cache: the writer's
        `index/extracted/` is on the writer's machine (a path there may not exist here, or be another
        archive's), and nothing on a worker outlives its tasks."""
        _PIPELINES[self.name] = Pipeline(replace(self.settings, extraction_cache=False), self.taxonomy)

    def teardown(self, worker: object) -> None:
        """Forget it once the writer is done."""
        _PIPELINES.pop(self.name, None)


def prepare(pipeline: str, expected: dict[str, str], jobs: list[Job]) -> list[Prepared]:
    """On a worker: each job prepared by the pipeline of plugin `pipeline`, or why it was refused.

    ClusterMismatch when this worker cannot prepare them as the writer's machine would."""
    reason = unfit(expected)
    found = _PIPELINES.get(pipeline)
    if found is None and not reason:
        reason = "never received this writer's settings and taxonomy (its worker plugin did not run)"
    if reason or found is None:
        raise ClusterMismatch("", {get_worker().address: reason})
    return [_prepare(found, *job) for job in jobs]


def _prepare(
    pipeline: Pipeline, document_id: str, data: bytes, sidecar: bytes | None
) -> Prepared:
    try:
        return pipeline.prepare(document_id, data, sidecar)
    except RejectedInput as refused:
        return refused


def unfit(expected: dict[str, str]) -> str:
    """Why this process cannot prepare documents as `expected` (the writer's `versions()`) says; '' if it can."""
    if multiprocessing.current_process().daemon:
        return DAEMONIC
    return compare(versions(), expected)


def compare(theirs: dict[str, str], expected: dict[str, str]) -> str:
    """What differs between another machine's `versions()` and the writer's, said for the writer; '' if none."""
    differ = [
        f"{name} {theirs.get(name)} (here {want})"
        for name, want in expected.items()
        if theirs.get(name) != want
    ]
    return "runs " + ", ".join(differ) if differ else ""


@functools.cache
def versions() -> dict[str, str]:
    """`archive code`: a digest of the archive package's own files; then the version of each SHAPING one."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    found = {"archive code": digest.hexdigest()[:16]}
    for name in SHAPING:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found
