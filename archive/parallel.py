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
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .keeper import die_with_parent

NAME = "archive-index-helper"
_BATCH = 64  # documents per message
_PIPE_BYTES = 1 << 20
_PENDING = 512  # messages (about 50 MB) waiting for the pipe: the builder runs ahead of a busy helper
_POLL_SECONDS = 0.5


def worth_it() -> bool:
    """A helper only pays where a second core is free."""
    return (os.cpu_count() or 1) > 1


class Helper:
    """`target(directory, documents)` run in a spawned process over the documents sent to it.

    The builder pickles documents in batches; a thread writes them to the helper's pipe. Each side has
    spells of other work (a segment written takes seconds), so the messages waiting in between are
    allowed to pile up to `_PENDING` rather than make one process wait for the other. (A
    `multiprocessing.Queue` pickles in its feeder thread, which waits for the interpreter lock behind
    the busy builder and starved the helper.)
    """

    def __init__(self, target: Callable[[Path, Any], None], directory: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.directory = directory
        reader, self._writer = context.Pipe(duplex=False)
        _widen(self._writer)
        self._errors: multiprocessing.Queue[str] = context.Queue()
        self._batch: list[Any] = []
        self._pending: queue.Queue[bytes | None] = queue.Queue(_PENDING)
        self._broken = False
        self._ended = False
        self._process = context.Process(
            target=_run, args=(target, directory, reader, self._errors), name=NAME, daemon=True
        )
        self._process.start()
        reader.close()  # only the helper reads: if it dies, writing fails instead of blocking
        self._sender = threading.Thread(target=self._send_pending, name=NAME + "-sender", daemon=True)
        self._sender.start()

    def send(self, document: Any) -> None:
        """Give the helper a document (sent in batches of `_BATCH`)."""
        self._batch.append(document)
        if len(self._batch) >= _BATCH:
            self._flush()

    def end(self) -> None:
        """No more documents: the helper writes its last segment while this process writes its own
        (telling it only in `finish` left it idle for as long: 3 s of 38 at 200,000 passages)."""
        if not self._ended:
            self._ended = True
            self._flush()
            self._put(pickle.dumps(None))  # the end of the documents, for the helper
            self._put(None)  # the end of the messages, for the sender

    def finish(self) -> None:
        """Wait for the helper to commit its part; its error, if it had one, is raised here."""
        self.end()
        while self._sender.is_alive():
            self._sender.join(_POLL_SECONDS)
            self._check_alive()
        self._writer.close()
        while self._process.is_alive():
            self._process.join(_POLL_SECONDS)
        self._raise_if_failed()

    def stop(self) -> None:
        """Abandon the part (the caller failed): kill the helper."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._broken = True
        with contextlib.suppress(queue.Full):
            self._pending.put_nowait(None)
        self._sender.join(_POLL_SECONDS * 10)
        self._writer.close()

    def _flush(self) -> None:
        if self._batch:
            data = pickle.dumps(self._batch, pickle.HIGHEST_PROTOCOL)
            self._batch = []
            self._put(data)

    def _put(self, data: bytes | None) -> None:
        while True:
            self._check_alive()
            try:
                self._pending.put(data, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                pass

    def _send_pending(self) -> None:
        """In the sender thread: write the messages to the pipe until the last one or a broken pipe."""
        while True:
            data = self._pending.get()
            if data is None or self._broken:
                return
            try:
                self._writer.send_bytes(data)
            except OSError:  # the helper is gone (BrokenPipeError); the builder is told by _check_alive
                self._broken = True
                return

    def _check_alive(self) -> None:
        """Raise if the helper failed or stopped reading. It may exit normally once it has read the
        end of the documents, while the sender thread is still winding down: that is not a failure."""
        if self._broken or self._process.exitcode not in (None, 0):
            self._process.join(_POLL_SECONDS * 10)
            self._raise_if_failed()
            raise RuntimeError("the second indexing process stopped reading")

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
    # The part is committed and its files closed. Exit without tearing down the interpreter: freeing
    # the millions of objects of a build took a second, while the builder waited for the exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _received(reader: Any) -> Iterator[Any]:
    while True:
        batch = pickle.loads(reader.recv_bytes())
        if batch is None:
            return
        yield from batch
