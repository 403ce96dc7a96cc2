"""A second process that builds part of an index generation while this one builds the rest.

A full build is CPU-bound Python (analysis, then Whoosh's posting writer), so on a machine with two
cores the second one idles. The helper receives whole documents through a bounded queue, writes them
as its own Whoosh segment in a directory of its own, and the builder lists that segment beside its own
in the generation's table of contents: no merge, which in Whoosh would cost as much as the build.

Documents are split deterministically (by passage count, in the order they come), so the same documents
always give the same index. The helper dies with its parent, even on SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .isolation import die_with_parent

NAME = "archive-index-helper"
_QUEUE = 256
_POLL_SECONDS = 0.5


def worth_it() -> bool:
    """A helper only pays where a second core is free."""
    return (os.cpu_count() or 1) > 1


class Helper:
    """`target(directory, documents)` run in a spawned process over the documents sent to it."""

    def __init__(self, target: Callable[[Path, Any], None], directory: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.directory = directory
        self._documents: multiprocessing.Queue[Any] = context.Queue(_QUEUE)
        self._errors: multiprocessing.Queue[str] = context.Queue()
        self._process = context.Process(
            target=_run, args=(target, directory, self._documents, self._errors), name=NAME, daemon=True
        )
        self._process.start()

    def send(self, document: Any) -> None:
        while True:
            try:
                self._documents.put(document, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                self._check_alive()

    def finish(self) -> None:
        """Wait for the helper to commit its part; its error, if it had one, is raised here."""
        self.send(None)
        while self._process.is_alive():
            self._process.join(_POLL_SECONDS)
        self._raise_if_failed()

    def stop(self) -> None:
        """Abandon the part (the caller failed): kill the helper."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._documents.cancel_join_thread()

    def _check_alive(self) -> None:
        if not self._process.is_alive():
            self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        try:
            message = self._errors.get_nowait()
        except queue.Empty:
            message = None
        if message is not None or self._process.exitcode != 0:
            raise RuntimeError(
                f"the second indexing process failed (exit code {self._process.exitcode}): {message or ''}"
            )


def _run(target: Callable[[Path, Any], None], directory: Path, documents: Any, errors: Any) -> None:
    die_with_parent()
    try:
        target(directory, iter(documents.get, None))
    except BaseException as exc:  # reported to the parent, which raises it in the build
        errors.put(f"{type(exc).__name__}: {exc}")
        raise
