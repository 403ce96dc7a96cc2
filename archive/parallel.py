"""A second process that builds part of an index generation while this one builds the rest.

A full build is CPU-bound Python (analysis, then Whoosh's posting writer), so on a machine with two
cores the second one idles. The helper receives whole documents through a pipe, writes them
as its own Whoosh segment in a directory of its own, and the builder lists that segment beside its own
in the generation's table of contents: no merge, which in Whoosh would cost as much as the build.

Documents are split deterministically (by passage count, in the order they come), so the same documents
always give the same index. The helper dies with its parent, even on SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import pickle
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .isolation import die_with_parent

NAME = "archive-index-helper"
_BATCH = 64  # documents per message
_PIPE_BYTES = 1 << 20  # room for about ten messages: the builder never waits for a helper that keeps up
_POLL_SECONDS = 0.5


def worth_it() -> bool:
    """A helper only pays where a second core is free."""
    return (os.cpu_count() or 1) > 1


class Helper:
    """`target(directory, documents)` run in a spawned process over the documents sent to it.

    Documents go in pickled batches through a pipe written by the caller's own thread: a feeder thread
    (`multiprocessing.Queue`) would wait for the interpreter lock behind the busy builder and starve
    the helper.
    """

    def __init__(self, target: Callable[[Path, Any], None], directory: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.directory = directory
        reader, self._writer = context.Pipe(duplex=False)
        _widen(self._writer)
        self._errors: multiprocessing.Queue[str] = context.Queue()
        self._batch: list[Any] = []
        self._process = context.Process(
            target=_run, args=(target, directory, reader, self._errors), name=NAME, daemon=True
        )
        self._process.start()
        reader.close()  # only the helper reads: if it dies, writing fails instead of blocking

    def send(self, document: Any) -> None:
        self._batch.append(document)
        if len(self._batch) >= _BATCH:
            self._flush()

    def finish(self) -> None:
        """Wait for the helper to commit its part; its error, if it had one, is raised here."""
        self._flush()
        self._write(pickle.dumps(None))
        self._writer.close()
        while self._process.is_alive():
            self._process.join(_POLL_SECONDS)
        self._raise_if_failed()

    def stop(self) -> None:
        """Abandon the part (the caller failed): kill the helper."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._writer.close()

    def _flush(self) -> None:
        if self._batch:
            data = pickle.dumps(self._batch, pickle.HIGHEST_PROTOCOL)
            self._batch = []
            self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            self._writer.send_bytes(data)
        except OSError:  # the helper is gone (BrokenPipeError): say why
            self._process.join(_POLL_SECONDS * 10)
            self._raise_if_failed()
            raise RuntimeError("the second indexing process stopped reading") from None

    def _raise_if_failed(self) -> None:
        try:
            message = self._errors.get_nowait()
        except queue.Empty:
            message = None
        if message is not None or self._process.exitcode != 0:
            raise RuntimeError(
                f"the second indexing process failed (exit code {self._process.exitcode}): {message or ''}"
            )


def _widen(connection: Any) -> None:
    """A bigger pipe buffer where Linux allows it (the default 64 KB holds one batch)."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _run(target: Callable[[Path, Any], None], directory: Path, reader: Any, errors: Any) -> None:
    die_with_parent()
    try:
        target(directory, _received(reader))
    except BaseException as exc:  # reported to the parent, which raises it in the build
        errors.put(f"{type(exc).__name__}: {exc}")
        raise


def _received(reader: Any) -> Iterator[Any]:
    while True:
        batch = pickle.loads(reader.recv_bytes())
        if batch is None:
            return
        yield from batch
