"""What a write did: each file's `Outcome` (with the `Rejection` that refused it), the `Report` of an
`add`, `reindex` or `remove`, and the `Problem`s `archive check` finds; `printable` shows a file's name on
one line whatever it holds. `Outcomes` collects a write's outcomes and tells a `Listener` each one as soon
as it can, in the report's order.
"""

from __future__ import annotations

import heapq
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from . import wire

_UNSHOWABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, invisible formatting, undecodable bytes, line breaks


def printable(text: str) -> str:
    """`text` safe to print on one line: controls and invisible characters escaped as Python writes them.

    >>> printable("a\\nb\\x1b[31m.txt"), printable("Procès-verbal.pdf"), printable("\\udcff\\u202e.txt")
    ('a\\\\nb\\\\x1b[31m.txt', 'Procès-verbal.pdf', '\\\\udcff\\\\u202e.txt')
    """
    if text.isprintable():  # none of _UNSHOWABLE: the common case, 100,000 times in a reindex's report
        return text
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _UNSHOWABLE else c
        for c in text
    )


@dataclass(frozen=True)
class Rejection:
    """Why a file cannot be indexed: a stable code for programs and a sentence for people."""

    code: (
        str  # empty, too_large, binary, unsupported_format, undecodable, no_text_layer, unreadable, encrypted
    )
    message: str

    def to_json(self) -> wire.Reason:
        """The reason as the API and the jobs report it."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Outcome:
    """What happened to one file in `add`, `reindex` or `remove`."""

    path: str  # document id, or the given path for files that never entered documents/
    status: wire.Status
    reason: Rejection | None = None
    duplicate_of: str | None = None
    passages: int = 0

    def describe(self) -> str:
        """The outcome on one line, as the CLI prints it."""
        path = printable(self.path)  # a given name may hold a line break: one outcome, one line
        if self.reason:
            return f"{self.status:<9} {path}: {self.reason.message} [{self.reason.code}]"
        if self.duplicate_of:
            return f"{self.status:<9} {path}: same content as {self.duplicate_of}"
        suffix = f" ({self.passages} passages)" if self.passages else ""
        return f"{self.status:<9} {path}{suffix}"

    def to_json(self) -> wire.Outcome:
        """One file's outcome in an upload's answer, with the address of the stored document."""
        stored = self.status in ("added", "unchanged")
        return {
            "path": self.path,
            "status": self.status,
            "reason": self.reason.to_json() if self.reason else None,
            "duplicate_of": self.duplicate_of,
            "passages": self.passages,
            "url": wire.document_path(self.path) if stored else None,
        }


@dataclass(frozen=True)
class Report:
    """What `add`, `reindex` or `remove` did: one outcome per file."""

    outcomes: tuple[Outcome, ...]

    def count(self, status: str) -> int:
        """How many files ended with `status`."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def rejected(self) -> bool:
        """Whether some file was refused."""
        return any(o.status == "rejected" for o in self.outcomes)

    def counts(self) -> wire.Counts:
        """Files per status, every status named."""
        return {
            "added": self.count("added"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "removed": self.count("removed"),
            "duplicate": self.count("duplicate"),
            "rejected": self.count("rejected"),
        }

    def to_json(self) -> wire.Upload:
        """The body of an upload's answer: each file's outcome and the counts."""
        return {"outcomes": [o.to_json() for o in self.outcomes], "counts": self.counts()}


@dataclass(frozen=True)
class Problem:
    """One finding of `archive check`: `error` fails the check, `warning` does not."""

    severity: Literal["error", "warning"]
    path: str
    message: str


Listener = Callable[[Outcome], None]
"""Told each file's outcome of an `add` or `reindex` while it runs (the CLI prints them as they come)."""


class Outcomes:
    """A write's outcomes by their place in its batch, each told to `listener` as soon as every outcome
    before it in the report is known: the listener hears the report's lines, in its order, as they happen.

    A file's place is `open`ed when the write takes it up and its outcome `said` when settled, in any
    order (several files are prepared at once, and a file held behind its twin is settled last); an
    outcome waits only for the open places before it. Places are opened in increasing order."""

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener
        self._said: list[tuple[int, Outcome]] = []
        self._open: list[int] = []  # a heap of opened places, some of them settled since (`_settled`)
        self._settled: set[int] = set()
        self._frontier: float = 0  # no file yet to be taken up has a place below this
        self._waiting: list[tuple[int, int, Outcome]] = []  # (place, order said, outcome): a heap

    def open(self, place: int) -> None:
        """A file at `place` taken up: the outcomes after it wait for its own."""
        if self.listener:
            heapq.heappush(self._open, place)
            self._frontier = max(self._frontier, place + 1)

    def say(self, place: int, outcome: Outcome) -> None:
        """The outcome of the file at `place` (-1 before them all); told when those before it are."""
        self._said.append((place, outcome))
        if self.listener:
            self._settled.add(place)
            heapq.heappush(self._waiting, (place, len(self._said), outcome))
            self._tell()

    def report(self) -> Report:
        """Every outcome in the order of the batch, all of them told by now."""
        self._open.clear()
        self._frontier = math.inf
        self._tell()
        return Report(tuple(o for _, o in sorted(self._said, key=lambda p: p[0])))

    def _tell(self) -> None:
        """Tell the waiting outcomes that no file still open or still to come may precede."""
        while self._open and self._open[0] in self._settled:
            self._settled.discard(heapq.heappop(self._open))
        bound = min(self._open[0], self._frontier) if self._open else self._frontier
        while self._waiting and self._waiting[0][0] < bound and self.listener:
            self.listener(heapq.heappop(self._waiting)[2])
