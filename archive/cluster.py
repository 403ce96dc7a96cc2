"""Preparing documents on a Dask distributed cluster, when one machine is not enough.

`cluster_preparer(address, settings, taxonomy)` is a Preparer, the interface of the local process pool
(`archive/preparing.py`): `map(jobs)` sends each job (document id, file bytes, sidecar bytes) to the
workers of the Dask scheduler at `address`, which run `Pipeline.prepare` there, and yields
`(document id, Document | RejectedInput)` in the jobs' order to the single writer on this machine. The
choices, and why (README, "A cluster of machines", says the same for operators):

- **The bytes travel with the tasks; nothing is shared.** The writer reads documents/ (it must: fixity
  is checked on the bytes it reads) and each task carries its file and sidecar. Workers need no archive
  home, no shared file system, no mount that may lag behind a write or serve another archive's files: a
  worker machine holds the code and nothing of the archive. Each file crosses the network twice (writer
  → scheduler → worker), as it would through a file server, and is at most ARCHIVE_MAX_FILE_MB. The
  bytes ride in the task itself rather than scattered beside it because the scheduler keeps every
  task's recipe: when a worker dies its tasks run again elsewhere with their bytes, nothing is lost.
  Results come back through the scheduler too (Dask's way for a client that is not a worker): the
  writer's machine only needs to reach the scheduler's port.
- **Settings and taxonomy go once, not per task**: in a worker plugin (about 100 KB pickled, mostly the
  taxonomy's matchers) that the scheduler hands to every worker when it joins, a nanny's replacement for a
  dead worker included, and that builds the worker's `Pipeline` (`archive/remote.py`). Tasks carry only
  the plugin's name, so they depend on no other task and Dask spreads them over every worker: a task
  result or scattered data that every document depends on sent every document to the worker holding it.
- **Order and bounds.** At most `window` documents are on the cluster or waiting here to be yielded
  (default WINDOW_PER_THREAD per worker thread, at least MIN_WINDOW), and at most about BYTES_IN_FLIGHT of
  their bytes. Results stream back (those ready fetched together, one round trip) into a reorder buffer
  and leave it in the jobs' order; jobs are pulled from the iterable only as room frees up, so reading
  documents/ is paced by the cluster and memory does not grow with the batch. A slow document holds back
  the yield of the later ones, never memory past the window.
- **A worker that dies mid-batch** (its machine lost, the OOM killer): the scheduler runs the tasks it held
  again on other workers, and the dead worker's nanny starts a fresh one. A task that was on
  `allowed-failures` + 1 workers that all died (Dask's default: 3 + 1) is given up by the scheduler
  (`KilledWorker`); it comes back as a `ReaderUnavailable` for that one document, not the file's fault
  (a full rebuild never drops an indexed document for it), and the batch goes on.
- **The time budget per file** holds on the workers as here: each worker runs the reader process of
  `archive/isolation.py`. Dask's nanny starts worker processes as daemons, and a daemonic process may not
  start children, so workers must run with `distributed.worker.daemon: False`
  (`DASK_DISTRIBUTED__WORKER__DAEMON=False dask worker ...`) or without a nanny; a daemonic worker is
  refused at connect.
- **Same code everywhere.** `remote.versions()` digests the archive package's own files and names the
  versions of the libraries that shape a `Document` (the Whoosh pin, the readers); it is computed here, on
  the scheduler (which unpickles every task, so it must import this archive too) and on every worker at
  connect, and any difference refuses the cluster (`ClusterMismatch`, naming the machines). Every task
  checks it again where it runs: a worker that joins later or restarts from other code stops the batch
  rather than slipping in a different document.
- **An unreachable scheduler** is told within `timeout` seconds (CONNECT_SECONDS): the address is probed
  (connect, then Dask's `identity`) before any client is made, because a client pointed at a port that
  is not a Dask scheduler can wait forever. No answer, not a scheduler, no worker joining it in time, or
  the scheduler lost mid-batch: `SchedulerUnreachable`, and nothing is written.

`distributed` is imported only here, and only when a scheduler is set (the `cluster` extra).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import ClusterMismatch, ReaderUnavailable, RejectedInput, SchedulerUnreachable, SettingsError
from .models import Document
from .settings import Settings
from .taxonomy import Taxonomy

if TYPE_CHECKING:
    from distributed import Client, Future

Job = tuple[str, bytes, bytes | None]
"""document id, the file's bytes, its sidecar's bytes (or None): what `archive/preparing.py` calls a Job."""

Prepared = Document | RejectedInput
"""What one job gives: the document, or why it was refused."""

CONNECT_SECONDS = 10.0
"""Seconds to reach the scheduler, and for a first worker to join it: Dask's own default is 30 s, but a
scheduler on a reachable network answers in milliseconds and its workers join in a few seconds."""

WINDOW_PER_THREAD = 4
MIN_WINDOW = 8
"""Documents in flight or waiting to be yielded, per worker thread: two keep a thread busy while a result
travels back; the other two let documents finish out of order behind a slow one before yields stall."""

STALL_SECONDS = 1.0
"""While waiting for results, how often to look whether the client has lost the scheduler for good (it
tries to reconnect for `timeout` seconds first, then closes)."""

BYTES_IN_FLIGHT = 256 * 1024 * 1024
"""File bytes on the cluster at once (the scheduler holds each task's bytes until its result is taken):
a window of large PDFs stays within this, past one file."""


def preparer_for(settings: Settings, taxonomy: Taxonomy) -> ClusterPreparer | None:
    """The Preparer the settings ask for: the cluster's when `settings.scheduler` is set; None otherwise."""
    if settings.scheduler is None:
        return None
    return cluster_preparer(settings.scheduler, settings, taxonomy)


def cluster_preparer(
    address: str,
    settings: Settings,
    taxonomy: Taxonomy,
    window: int | None = None,
    timeout: float = CONNECT_SECONDS,
) -> ClusterPreparer:
    """A Preparer over the Dask cluster at `address`, its workers checked; SchedulerUnreachable or
    ClusterMismatch when it cannot be used, within about `timeout` seconds."""
    _probe(address, timeout)
    from distributed import Client

    from . import remote

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as e:  # gone between the probe and now
        raise SchedulerUnreachable(address, f"the connection failed ({type(e).__name__}: {e})") from None
    try:
        threads = _check_workers(client, address, timeout)
        plugin = remote.PipelinePlugin(f"archive-pipeline-{uuid.uuid4().hex}", settings, taxonomy)
        client.register_plugin(plugin)
        size = window or max(MIN_WINDOW, WINDOW_PER_THREAD * threads)
        return ClusterPreparer(client, address, plugin.name, max(1, size), settings.max_file_bytes)
    except BaseException:
        client.close()
        raise


class ClusterPreparer:
    """Documents prepared on a Dask cluster: `map` them in order, a bounded window at a time; `close` after."""

    def __init__(self, client: Client, address: str, pipeline: str, window: int, max_file_bytes: int) -> None:
        from . import remote

        self.address = address
        self.window = window
        self._client = client
        self._pipeline = pipeline  # the name of the worker plugin that holds it
        self._expected = remote.versions()
        self._batch = 0
        # a task's bytes are part of its graph: no "large graph" warning for a file the archive accepts
        self._threshold = max_file_bytes + 1024 * 1024

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[str, Prepared]]:
        """`(document id, Document | RejectedInput)` for each job, in the jobs' order, as results arrive."""
        self._batch += 1
        source = iter(jobs)
        flight = _Flight(f"archive-prepare-{uuid.uuid4().hex[:8]}{self._batch}")
        try:
            while True:
                while flight.has_room(self.window) and (job := next(source, None)) is not None:
                    flight.send(job, self._submit)
                if not flight.order:
                    return
                key, document_id, _ = flight.order[0]
                while key not in flight.done:
                    self._receive(flight)
                yield document_id, self._outcome(document_id, flight.take())
        finally:  # done, failed or abandoned: the cluster forgets what is left of the batch
            if flight.futures:
                with contextlib.suppress(Exception):  # the scheduler gone, or the client closed already
                    self._client.cancel(list(flight.futures.values()))

    def close(self) -> None:
        """Let go of the cluster: the pipeline its workers hold for us, and the connection."""
        with contextlib.suppress(Exception):  # a scheduler already gone: nothing of ours is left there
            self._client.unregister_worker_plugin(self._pipeline)
        self._client.close()

    def __enter__(self) -> ClusterPreparer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _submit(self, key: str, job: Job) -> Future[Prepared]:
        import dask

        from . import remote

        document_id, data, sidecar = job
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": self._threshold}):
            return self._client.submit(
                remote.prepare,
                self._pipeline,
                self._expected,
                document_id,
                data,
                sidecar,
                key=key,
                pure=False,
            )

    def _receive(self, flight: _Flight) -> None:
        """Wait for tasks of the batch to end, then take what they hold: the results of all those that ended
        in one round trip, the errors from the client's own records."""
        try:
            keys = [flight.ended.get(timeout=STALL_SECONDS)]
        except queue.Empty:
            if self._client.status in ("closing", "closed"):
                raise SchedulerUnreachable(
                    self.address, "the connection to the scheduler was lost mid-batch"
                ) from None
            return
        while not flight.ended.empty():
            keys.append(flight.ended.get_nowait())
        ended = {k: flight.futures[k] for k in keys if k in flight.futures}
        finished = {k: f for k, f in ended.items() if f.status == "finished"}
        try:
            values = self._client.gather(finished, errors="skip") if finished else {}
        except (OSError, asyncio.CancelledError, concurrent.futures.CancelledError) as e:
            raise SchedulerUnreachable(
                self.address, f"its results could not be fetched ({type(e).__name__})"
            ) from None
        flight.done.update((k, v) for k, v in values.items() if v is not None)
        for key, future in ended.items():
            if key not in flight.done:
                flight.settle(future)

    def _outcome(self, document_id: str, value: object) -> Prepared:
        """The task's result as a Preparer gives it; the cluster's own failures raised."""
        from distributed import KilledWorker

        if isinstance(value, Document | RejectedInput):
            return value
        if isinstance(value, KilledWorker):
            return ReaderUnavailable(
                document_id,
                "reader_unavailable",
                f"{value.allowed_failures + 1} workers of the cluster died while preparing this file (Dask's "
                f"allowed-failures is {value.allowed_failures}); not read: see the workers' logs",
            )
        if isinstance(value, ClusterMismatch):
            raise ClusterMismatch(self.address, value.workers) from None
        if isinstance(value, asyncio.CancelledError | concurrent.futures.CancelledError):
            raise SchedulerUnreachable(self.address, "the connection to the scheduler was lost mid-batch")
        if isinstance(value, BaseException):
            raise value
        raise TypeError(f"a worker answered {type(value).__name__} for {document_id}, not a document")


class _Flight:
    """The documents of one `map` between submission and yield, in the jobs' order."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.order: deque[tuple[str, str, int]] = deque()  # key, document id, bytes
        self.futures: dict[str, Future[Prepared]] = {}
        self.done: dict[str, object] = {}  # key -> result or exception, until yielded
        self.ended: queue.SimpleQueue[str] = (
            queue.SimpleQueue()
        )  # keys of tasks that ended, from Dask's thread
        self.bytes = 0
        self.sent = 0

    def has_room(self, window: int) -> bool:
        """Whether one more job may be pulled and sent."""
        return len(self.order) < window and (not self.order or self.bytes < BYTES_IN_FLIGHT)

    def send(self, job: Job, submit: Callable[[str, Job], Future[Prepared]]) -> None:
        """Submit `job` through `submit(key, job)` and keep its place in the order."""
        key = f"{self.prefix}-{self.sent}"
        self.sent += 1
        size = len(job[1]) + len(job[2] or b"")
        future = submit(key, job)
        self.order.append((key, job[0], size))
        self.futures[key] = future
        self.bytes += size
        future.add_done_callback(self._ended)

    def settle(self, future: Future[Prepared]) -> None:
        """Record the end of a task whose result was not fetched: its error, its cancellation, or, when it
        is running again (its result was lost with a worker), wait for its next end."""
        if future.status == "error":
            self.done[str(future.key)] = future.exception()
        elif future.status == "cancelled":
            self.done[str(future.key)] = concurrent.futures.CancelledError()
        else:
            future.add_done_callback(self._ended)

    def take(self) -> object:
        """The first document's result, its future let go (the cluster forgets the task)."""
        key, _, size = self.order.popleft()
        self.bytes -= size
        del self.futures[key]
        return self.done.pop(key)

    def _ended(self, future: Future[Prepared]) -> None:
        self.ended.put(str(future.key))


# ---------------------------------------------------------------- connecting


def _probe(address: str, seconds: float) -> None:
    """SchedulerUnreachable unless a Dask scheduler answers at `address` within `seconds`; SettingsError
    when `distributed` (the `cluster` extra) is not installed."""
    try:
        from distributed.comm.core import connect
        from distributed.security import Security
    except ImportError:
        raise SettingsError(
            "ARCHIVE_SCHEDULER",
            "a Dask scheduler is set (ARCHIVE_SCHEDULER or --scheduler) but the `distributed` package is not "
            "installed: pip install 'archive[cluster]'",
        ) from None

    async def identity() -> object:
        comm = await connect(address, timeout=seconds, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        answer = asyncio.run(asyncio.wait_for(identity(), seconds))
    except TimeoutError:
        raise SchedulerUnreachable(address, f"no answer within {seconds:g} s") from None
    except OSError as e:
        raise SchedulerUnreachable(address, f"cannot connect ({e})") from None
    except Exception as e:  # a server of another kind: garbage where a Dask message was expected
        raise SchedulerUnreachable(
            address, f"what answers there is not a Dask scheduler ({type(e).__name__})"
        ) from None
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise SchedulerUnreachable(address, "what answers there is not a Dask scheduler")


def _check_workers(client: Client, address: str, seconds: float) -> int:
    """The cluster's worker threads, once the scheduler is found fit, a worker has joined and all are fit."""
    from . import remote

    try:  # the scheduler unpickles every task: it needs this archive's code as much as the workers do
        scheduler = remote.compare(client.run_on_scheduler(remote.versions), remote.versions())
    except Exception as e:
        scheduler = _unfit(e)
    if scheduler:
        raise ClusterMismatch(address, {f"the scheduler ({address})": scheduler})
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise SchedulerUnreachable(address, f"no worker joined the scheduler within {seconds:g} s") from None
    answers = client.run(remote.unfit, remote.versions(), on_error="return")
    unfit = {worker: _unfit(answer) for worker, answer in answers.items() if answer}
    if unfit:
        raise ClusterMismatch(address, unfit)
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1


def _unfit(answer: object) -> str:
    """A machine's answer to `remote.unfit`, or the error it raised instead, as a reason."""
    if isinstance(answer, BaseException):
        return f"cannot run this archive's code ({type(answer).__name__}: {answer})"
    return str(answer)
