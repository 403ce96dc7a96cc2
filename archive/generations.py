"""Index generations as a reader sees them: the live one opened, reopened, lent and retired.

A generation is one committed state of the index (a directory named by `CURRENT`, see indexer.py) with
its Whoosh searchers and the caches that live as long as it (posting arrays, document records, the
vocabulary). `Generations` follows the live one: it reopens when another generation or a new Whoosh
commit is live, and closes a replaced one when its last user leaves, so a reader never sees a
half-written index and a slow one never loses the files it reads.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.searching import Searcher as WhooshSearcher

from . import copylinks, postings
from .codec.reader import open_index
from .cursor import State
from .deadline import SEARCH_DEADLINE, Deadline
from .idsets import Ids
from .indexer import live_generation, read_meta
from .schema import SCHEMA_VERSION
from .vocabulary import FILE as VOCABULARY_FILE
from .vocabulary import Vocabulary

SEARCHERS = 4
"""Whoosh searchers per generation: requests beyond this many at once wait for one (bounded memory)."""

LINKS_LOOKED_FOR = 1.0
"""Seconds between two looks for a commit's copy links not saved yet (searches meanwhile find copies)."""

_RECORDS_CACHED = 4096  # document records kept unpickled per generation before the cache starts over


@dataclass
class Generation:
    """One committed state of the index: Whoosh searchers (one per thread) and caches that live as long.

    Whoosh searchers read files with seek-and-read, so threads never share one (what the codec reads
    itself, stored fields and posting lists, it reads with positional reads from the primary reader);
    the arrays and caches are read-only once built. A generation replaced by a newer one is closed when
    its last user leaves.
    """

    path: Path
    ix: Any
    primary: WhooshSearcher
    users: int = 0
    retired: bool = False
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[WhooshSearcher] = field(default_factory=list)
    _idle: queue.SimpleQueue[WhooshSearcher] = field(default_factory=queue.SimpleQueue)
    _build_lock: threading.Lock = field(default_factory=threading.Lock)
    _arrays: postings.Arrays | None = None
    _records: dict[str, dict[str, Any]] | None = None
    _record_cache: dict[int, dict[str, Any]] = field(default_factory=dict)
    _vocabulary: Vocabulary | None = None
    _vocabulary_stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file it was loaded from
    _links: copylinks.Links | None = None
    _links_due: float = 0.0  # when to look for them again

    @property
    def vocabulary(self) -> Vocabulary:
        """The words of this generation as written (for prefixes, wildcards and suggestions), loaded again
        when its file changes: an incremental reindex saves it just after its Whoosh commit, so a search
        in between would otherwise keep the previous words until the next commit."""
        try:
            st = (self.path / VOCABULARY_FILE).stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._vocabulary is None or stamp != self._vocabulary_stamp:
            self._vocabulary = Vocabulary.load(self.path)
            self._vocabulary_stamp = stamp
        return self._vocabulary

    @property
    def state(self) -> State:
        """What this object reads: the generation's name and its Whoosh commit (what cursors are tied to)."""
        return self.path.name, int(self.primary.reader().generation())

    @property
    def searcher(self) -> WhooshSearcher:
        """The Whoosh searcher this thread borrowed (see `borrowed`), else the primary one."""
        mine: WhooshSearcher | None = getattr(self._local, "searcher", None)
        return mine if mine is not None else self.primary

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[None]:
        """Lend this thread one of at most SEARCHERS Whoosh searchers for the duration of a request."""
        if getattr(self._local, "searcher", None) is not None:  # nested use in the same thread
            yield
            return
        try:
            mine = self._idle.get_nowait()
        except queue.Empty:
            with self._build_lock:
                fresh = len(self._opened) < SEARCHERS
                if fresh:
                    mine = self.ix.searcher()
                    self._opened.append(mine)
            if not fresh:
                mine = self._idle.get()  # every searcher is busy: wait for one
        self._local.searcher = mine
        try:
            yield
        finally:
            self._local.searcher = None
            self._idle.put(mine)

    @property
    def arrays(self) -> postings.Arrays:
        """The posting arrays of this generation (see postings.py), built on first use."""
        if self._arrays is None:
            with self._build_lock:
                if self._arrays is None:
                    self._arrays = postings.Arrays.load(self.primary.reader())
        return self._arrays

    @property
    def links(self) -> copylinks.Links | None:
        """The copies of this commit's passages found when it was written (copylinks.py), or None: looked
        for again at most every LINKS_LOOKED_FOR seconds, as an update saves them just after its commit."""
        if self._links is None and time.monotonic() >= self._links_due:
            self._links_due = time.monotonic() + LINKS_LOOKED_FOR
            self._links = copylinks.load(self.path, self.arrays.reader.generation())
        return self._links

    def close(self) -> None:
        """Close every Whoosh searcher and the index (once no request uses the generation)."""
        for searcher in self._opened:
            searcher.close()
        self.primary.close()
        self.ix.close()

    def docs(self, q: wq.Query, deadline: Deadline | None = None, within: Ids | None = None) -> Ids:
        """The passages matching a query: from the arrays, or from Whoosh, stopped at the deadline.

        With `within`, the answer is exact inside `within` (phrases are verified only there).
        """
        arrays = self.arrays
        try:
            found = arrays.evaluate(q, deadline, within)
        except postings.Unsupported:
            deadline = deadline or Deadline(SEARCH_DEADLINE)
            collector = _timed(self.searcher.collector(limit=None, scored=False), deadline)
            if collector is None:
                return np.empty(0, dtype=np.int64)
            try:
                self.searcher.search_with_collector(q, collector)
            except TimeLimit:
                deadline.cut = True
            found = np.fromiter(collector.results().docs(), dtype=np.int64)
            found.sort()
        return arrays.passages(found)

    def ranked(
        self,
        scoring: wq.Query,
        candidates: Ids,
        needed: int,
        deadline: Deadline,
        after: tuple[float, int] | None,
    ) -> list[tuple[int, float]]:
        """The best `needed` (docnum, score) of `candidates` as Whoosh ranks them, for the queries our
        arrays cannot score (spans); with `after` (score, docnum), those ranked after it. Stopped at the
        deadline with the best found so far; with no time left, the candidates in index order."""
        limit = needed if after is None else None  # resuming: every score, to keep those after it
        collector = _timed(self.searcher.collector(limit=limit, filter=set(candidates.tolist())), deadline)
        if collector is None:  # no time left to rank: the matches in index order
            rest = candidates if after is None else candidates[candidates > after[1]]
            return [(d, 0.0) for d in rest[:needed].tolist()]
        try:
            self.searcher.search_with_collector(scoring, collector)
        except TimeLimit:  # the best hits found so far
            deadline.cut = True
        out = [(hit.docnum, _score(hit.score)) for hit in collector.results()]
        if after is not None:  # Whoosh orders as `Arrays.top` does: score descending, then docnum
            score, docnum = after
            out = [(d, s) for d, s in out if s < score or (s == score and d > docnum)]
        return out

    def stored(self, docnum: int) -> dict[str, Any]:
        """A passage's or record's stored fields (`codec.reader.StoredFields`: any thread, no searcher)."""
        return self.arrays.stored(docnum)

    def record(self, docnum: int) -> dict[str, Any]:
        """One document record (metadata of a hit's document), unpickled once per generation."""
        found = self._record_cache.get(docnum)  # one read: another thread may clear the cache meanwhile
        if found is None:
            if len(self._record_cache) > _RECORDS_CACHED:
                self._record_cache.clear()
            found = self._record_cache[docnum] = self.stored(docnum)["data"]
        return found

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """Every indexed document's record (metadata, fingerprint, passage count), by document id."""
        if self._records is None:
            records: dict[str, dict[str, Any]] = {}
            for docnum in self.arrays.records:
                stored = self.stored(int(docnum))
                records[stored["doc"]] = stored["data"]
            self._records = records
        return self._records


@dataclass(frozen=True)
class IndexVersion:
    """One committed state of the index: `tag` names it, `committed` is when it was committed (epoch s)."""

    tag: str
    committed: float


class Generations:
    """The live generation of one index directory, shared by the requests of a process. Thread-safe."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.lock = threading.RLock()
        self._gen: Generation | None = None

    def close(self) -> None:
        """Retire the open generation (closed now, or when its last user leaves)."""
        with self.lock:
            if self._gen:
                self._retire(self._gen)
                self._gen = None

    def current(self) -> Generation | None:
        """The live generation, reopened when another generation or a new Whoosh commit is live."""
        with self.lock:
            path = live_generation(self.index_dir)
            gen = self._gen
            if gen is not None and (gen.path != path or not _up_to_date(gen)):
                self._retire(gen)
                gen = self._gen = None
            if gen is None and path is not None:
                if read_meta(path).get("schema_version") != SCHEMA_VERSION:
                    return None  # never misread an index of another schema: `reindex` rebuilds it
                ix = open_index(path)
                gen = self._gen = Generation(path, ix, ix.searcher())
            return gen

    def outdated(self) -> bool:
        """Whether the live generation was written with another schema (an older archive): `reindex` rebuilds it."""
        path = live_generation(self.index_dir)
        return path is not None and read_meta(path).get("schema_version") != SCHEMA_VERSION

    def _retire(self, gen: Generation) -> None:
        gen.retired = True
        if gen.users == 0:
            gen.close()

    def acquire(self) -> Generation | None:
        """The live generation, kept open for the caller (until `release`) even if a newer one goes live."""
        with self.lock:
            gen = self.current()
            if gen is not None:
                gen.users += 1
            return gen

    def release(self, gen: Generation) -> None:
        """Give back a generation from `acquire`: closed now if it was retired and this was its last user."""
        with self.lock:
            gen.users -= 1
            if gen.retired and gen.users == 0:
                gen.close()

    @contextlib.contextmanager
    def use(self) -> Iterator[Generation | None]:
        """The live generation with a Whoosh searcher lent to this thread, for one request."""
        gen = self.acquire()
        try:
            if gen is None:
                yield gen
            else:
                with gen.borrowed():
                    yield gen
        finally:
            if gen is not None:
                self.release(gen)

    def version(self) -> IndexVersion | None:
        """The live index's latest commit, without searching; None when there is no readable index.

        Changes with every commit: a full rebuild swaps in another generation, an incremental one adds
        a Whoosh commit (a new table of contents) to the same generation. Never older than what a
        search started afterwards reads, since the live state only moves forward.
        """
        for _ in range(3):
            with self.lock:
                gen = self.current()
                if gen is None:
                    return None
                try:
                    number = gen.ix.latest_generation()
                    committed = gen.ix.last_modified()
                except OSError:  # a newer commit removed that table of contents meanwhile: look again
                    continue
                return IndexVersion(f"{gen.path.name}.{number}", committed)
        return None


def _timed(collector: Any, deadline: Deadline) -> Any:
    """A Whoosh collector stopped at the deadline (TimeLimit), or None when no time is left (noted)."""
    budget = deadline.remaining()
    if budget is None:
        return collector
    if budget <= 0:
        deadline.cut = True
        return None
    return TimeLimitCollector(collector, budget, use_alarm=False)


def _score(value: object) -> float:
    """A hit's relevance score; sorted searches carry sort keys instead, and score 0."""
    return float(value) if isinstance(value, int | float) else 0.0


def _up_to_date(gen: Generation) -> bool:
    try:
        return bool(gen.primary.up_to_date())
    except OSError:
        return False
