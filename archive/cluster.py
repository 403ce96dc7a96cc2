"""Preparing documents on a Dask distributed cluster, when one machine is not enough.

`cluster_preparer(address, settings, taxonomy)` is a Preparer like the local process pool
(`archive/preparing.py`): `map(jobs)` sends the jobs (document id, file bytes, sidecar bytes) to the
workers of the Dask scheduler at `address`, which run `Pipeline.prepare`, and yields `(document id,
Document | RejectedInput)` in the jobs' order to the single writer here. The choices, and why (README,
"A cluster of machines", says the same for operators):

- **The bytes travel with the tasks; nothing is shared.** The writer reads documents/ (it must: fixity
  is checked on the bytes it reads) and each task carries its files and sidecars. Workers need no archive
  home, no shared file system that may lag behind a write or serve another archive's files. Each file
  crosses the network twice (writer → scheduler → worker), as through a file server. The bytes ride in
  the task rather than scattered beside it: the scheduler keeps every task's recipe, so when a worker
  dies its tasks run again elsewhere with their bytes. Results come back through the scheduler (Dask's
  way for a client that is not a worker): the writer only needs to reach the scheduler's port.
- **Settings and taxonomy go once, not per task**: in a worker plugin (about 100 KB pickled, mostly the
  taxonomy's matchers) that the scheduler hands to every worker when it joins, a nanny's replacement for a
  dead worker included, and that builds the worker's `Pipeline` (`archive/remote.py`). Tasks carry only
  the plugin's name, so they depend on no other task and Dask spreads them over every worker: a task
  result or scattered data that every document depends on sent every document to the worker holding it.
- **Documents go by the handful.** A task prepares up to CHUNK_DOCUMENTS documents (CHUNK_BYTES of files):
  a document takes milliseconds and a Dask task costs about one on the scheduler and a round trip, so one
  task per document left the workers waiting on the scheduler (measured: slower than one process).
- **Order and bounds.** At most `window` documents are on the cluster or waiting here to be yielded
  (default TASKS_PER_THREAD tasks per worker thread), and at most about BYTES_IN_FLIGHT of their bytes.
  Results stream back (those ready fetched together, one round trip) into a reorder buffer and leave it
  in the jobs' order; jobs are pulled from the iterable only as room frees up, so reading documents/ is
  paced by the cluster and memory does not grow with the batch. A slow document holds back the yield of
  the later ones, never memory past the window.
- **A worker that dies mid-batch** (its machine lost, the OOM killer): the scheduler runs the tasks it held
  again on other workers, and the dead worker's nanny starts a fresh one. A task that was on
  `allowed-failures` + 1 workers that all died (Dask's default: 3 + 1) is given up by the scheduler
  (`KilledWorker`): its documents are sent again one per task, so that one deadly file (or bad luck)
  costs only itself, and a single document given up comes back as a `ReaderUnavailable`, not the file's
  fault (a full rebuild never drops an indexed document for it); the batch goes on.
- **The time budget per file** holds on the workers: each runs the reader process of `isolation.py`.
  Dask's nanny starts workers as daemonic processes, which may not start children: workers must run with
  `DASK_DISTRIBUTED__WORKER__DAEMON=False` (or without a nanny); a daemonic worker is refused at connect.
- **Same code everywhere.** `remote.versions()` (a digest of the archive package's files, the versions of
  the Whoosh pin and the readers) is compared at connect with the scheduler's (it unpickles every task)
  and every worker's: any difference refuses the cluster (`ClusterMismatch`). Every task checks it again
  where it runs, so a worker that joins later with other code stops the batch, not slips in a document.
- **An unreachable scheduler** is told within `timeout` seconds: the address is probed (connect, Dask's
  `identity`) before a client is made, as a client pointed at a port where something else listens can
  wait forever. No answer, not a scheduler, no worker in time, lost mid-batch: `SchedulerUnreachable`.

`distributed` (the `cluster` extra) is imported here and in `remote.py` only once a scheduler is set.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import ClusterMismatch, ReaderUnavailable, SchedulerUnreachable, SettingsError
from .preparing import Job, Prepared
from .settings import Settings
from .taxonomy import Taxonomy

if TYPE_CHECKING:
    from distributed import Client, Future, KilledWorker


CONNECT_SECONDS = 10.0
"""Seconds to reach the scheduler, and for a first worker to join it: Dask's own default is 30 s, but a
scheduler on a reachable network answers in milliseconds and its workers join in a few seconds."""

CHUNK_DOCUMENTS = 16
CHUNK_BYTES = 2 * 1024 * 1024
"""Documents in one task, at most, and their bytes (a larger file goes alone): about 60 ms of work for
the mix of bench/, long enough for Dask's per-task cost to stay small, short enough to spread a batch."""

TASKS_PER_THREAD = 3
"""Tasks on the cluster per worker thread: one running, one waiting on the worker, one travelling."""

STALL_SECONDS = 1.0
"""While waiting for results, how often to look whether the client has lost the scheduler for good (it
tries to reconnect for `timeout` seconds first, then closes)."""

BYTES_IN_FLIGHT = 256 * 1024 * 1024
"""File bytes on the cluster at once (the scheduler holds a task's bytes until its result is taken)."""


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
        tasks = TASKS_PER_THREAD * threads
        size = max(1, window or tasks * CHUNK_DOCUMENTS)
        chunk = max(1, min(CHUNK_DOCUMENTS, size // tasks))
        return ClusterPreparer(client, address, plugin.name, size, chunk, settings.max_file_bytes)
    except BaseException:
        client.close()
        raise


class ClusterPreparer:
    """Documents prepared on a Dask cluster: `map` them in order, a bounded window at a time; `close` after."""

    def __init__(
        self, client: Client, address: str, pipeline: str, window: int, chunk: int, max_file_bytes: int
    ) -> None:
        from . import remote

        self.address = address
        self.window = window  # documents on the cluster or waiting to be yielded
        self.chunk = chunk  # documents in one task, at most
        self._client = client
        self._pipeline = pipeline  # the name of the worker plugin that holds it
        self._expected = remote.versions()
        self._batch = 0
        # a task's bytes are part of its graph: no "large graph" warning for files the archive accepts (a
        # task closes once past CHUNK_BYTES, so it holds at most that and one more file)
        self._threshold = CHUNK_BYTES + max_file_bytes + 1024 * 1024

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[str, Prepared]]:
        """`(document id, Document | RejectedInput)` for each job, in the jobs' order, as results arrive."""
        self._batch += 1
        source = iter(jobs)
        flight = _Flight(f"archive-prepare-{uuid.uuid4().hex[:8]}{self._batch}", self._submit)
        try:
            while True:
                while flight.has_room(self.window) and (
                    chunk := _chunk(source, self.chunk, self.window - flight.documents)
                ):
                    flight.send(chunk)
                if not flight.order:
                    return
                head = flight.order[0]
                while head.key not in flight.done:
                    self._receive(flight)
                value = flight.take()
                if isinstance(value, _killed()) and len(head.jobs) > 1:
                    flight.resend_alone(head)  # each document again in a task of its own
                    continue
                yield from zip(head.ids, self._outcomes(head.ids, value), strict=True)
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

    def _submit(self, key: str, jobs: list[Job]) -> Future[list[Prepared]]:
        import dask

        from . import remote

        with dask.config.set({"distributed.admin.large-graph-warning-threshold": self._threshold}):
            return self._client.submit(
                remote.prepare, self._pipeline, self._expected, jobs, key=key, pure=False
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

    def _outcomes(self, ids: list[str], value: object) -> list[Prepared]:
        """A task's results as a Preparer gives them, one per document; the cluster's own failures raised."""
        if isinstance(value, list):
            return value
        if isinstance(value, _killed()):
            reason = (
                f"{value.allowed_failures + 1} workers of the cluster died while preparing this file (Dask's "
                f"allowed-failures is {value.allowed_failures}); not read: see the workers' logs"
            )
            return [ReaderUnavailable(document_id, "reader_unavailable", reason) for document_id in ids]
        if isinstance(value, ClusterMismatch):
            raise ClusterMismatch(self.address, value.workers) from None
        if isinstance(value, asyncio.CancelledError | concurrent.futures.CancelledError):
            raise SchedulerUnreachable(self.address, "the connection to the scheduler was lost mid-batch")
        if isinstance(value, BaseException):
            raise value
        raise TypeError(f"a worker answered {type(value).__name__} for {ids[0]}..., not documents")


@dataclass(frozen=True)
class _Task:
    """One task of a batch: its key, and the jobs it prepares (kept until its results are taken)."""

    key: str
    jobs: list[Job]
    size: int

    @property
    def ids(self) -> list[str]:
        """Its documents' ids, in order."""
        return [job[0] for job in self.jobs]


class _Flight:
    """The tasks of one `map` between submission and yield, in the jobs' order."""

    def __init__(self, prefix: str, submit: Callable[[str, list[Job]], Future[list[Prepared]]]) -> None:
        self.prefix = prefix
        self.submit = submit
        self.order: deque[_Task] = deque()
        self.futures: dict[str, Future[list[Prepared]]] = {}
        self.done: dict[str, object] = {}  # key -> results or exception, until taken
        self.ended: queue.SimpleQueue[str] = (
            queue.SimpleQueue()
        )  # keys of tasks that ended, from Dask's thread
        self.documents = 0
        self.bytes = 0
        self.sent = 0

    def has_room(self, window: int) -> bool:
        """Whether more jobs may be pulled and sent."""
        return self.documents < window and (not self.order or self.bytes < BYTES_IN_FLIGHT)

    def send(self, jobs: list[Job]) -> None:
        """Submit a task for `jobs`, last in the order."""
        task = self._task(jobs)
        self.order.append(task)
        self.documents += len(jobs)
        self.bytes += task.size

    def resend_alone(self, task: _Task) -> None:
        """Submit each of `task`'s jobs (already taken from the order) in a task of its own, in its place."""
        self.order.extendleft(reversed([self._task([job]) for job in task.jobs]))
        self.documents += len(task.jobs)
        self.bytes += task.size

    def settle(self, future: Future[list[Prepared]]) -> None:
        """Record the end of a task whose result was not fetched: its error, its cancellation, or, when it
        is running again (its result was lost with a worker), wait for its next end."""
        if future.status == "error":
            self.done[str(future.key)] = future.exception()
        elif future.status == "cancelled":
            self.done[str(future.key)] = concurrent.futures.CancelledError()
        else:
            future.add_done_callback(self._ended)

    def take(self) -> object:
        """The first task's results, its future let go (the cluster forgets the task)."""
        task = self.order.popleft()
        self.documents -= len(task.jobs)
        self.bytes -= task.size
        del self.futures[task.key]
        return self.done.pop(task.key)

    def _task(self, jobs: list[Job]) -> _Task:
        task = _Task(f"{self.prefix}-{self.sent}", jobs, sum(len(j[1]) + len(j[2] or b"") for j in jobs))
        self.sent += 1
        future = self.submit(task.key, jobs)
        self.futures[task.key] = future
        future.add_done_callback(self._ended)
        return task

    def _ended(self, future: Future[list[Prepared]]) -> None:
        self.ended.put(str(future.key))


def _chunk(source: Iterator[Job], most: int, room: int) -> list[Job]:
    """The next jobs of `source` for one task: up to `most` of them (and `room`), CHUNK_BYTES of files."""
    jobs: list[Job] = []
    size = 0
    while len(jobs) < min(most, room) and size < CHUNK_BYTES and (job := next(source, None)) is not None:
        jobs.append(job)
        size += len(job[1]) + len(job[2] or b"")
    return jobs


def _killed() -> type[KilledWorker]:
    """Dask's KilledWorker: a task whose workers all died, given up by the scheduler."""
    from distributed import KilledWorker

    return KilledWorker


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
