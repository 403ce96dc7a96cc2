"""What `archive add` and `archive reindex` show while they run: each file's outcome line as it is settled
(`outcomes.Listener`), and on a terminal a progress line below them.

`shown(label)` picks the display. On a terminal (standard error is one, and standard output is not a pipe
that would print its lines over the progress line, as `| tee` does), `Live` draws a tqdm progress line on
standard error (files done of the total, passages, files per second, time left) and writes the outcome
lines above it. Otherwise `Plain` writes each line to standard output and flushes it at once, so that
`archive add ... | tee add.log` streams; no progress line and no escape codes. The lines and the summary
after them are the same either way.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from .outcomes import Outcome

TICK = 0.1
"""Seconds between two redraws of the progress line, outcome lines written at each: at 20,000 files a
second (an unchanged reindex) a redraw per line would write 50 times more to the terminal than the lines,
and a tenth of a second is as it happens to a reader."""

BAR_FORMAT = (
    "{desc}: {n_fmt}/{total_fmt} files |{bar:10}| {percentage:3.0f}%, {remaining} left{postfix}, "
    "{rate_noinv_fmt}, {elapsed} elapsed"
)
"""The progress line, what matters most first: a narrow terminal cuts it on the right (80 columns show up
to the passages)."""
SMOOTHING = 0.05
"""Weight of the latest redraw in the rate (tqdm's moving average). tqdm's own 0.3 follows each burst: adding
3,500 files of the codes, the time left it gave swung between 2 and 6 minutes in the first 20 seconds
while 45 s were left."""
STARTING = "{desc}: looking over the files... {elapsed}"
"""The progress line until the number of files is known (a reindex first surveys documents/)."""


def shown(label: str) -> Plain:
    """The display for a write named `label` (`add`, `reindex`): `Live` on a terminal, else `Plain`."""
    return Live(label) if _terminal() else Plain()


def _terminal() -> bool:
    """Whether a progress line may be drawn: standard error a terminal, standard output not a pipe."""
    try:
        if not sys.stderr.isatty():
            return False
        mode = os.fstat(sys.stdout.fileno()).st_mode
        return not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))
    except (AttributeError, OSError, ValueError):  # closed, or replaced by an object without a descriptor
        return False


def _sized() -> bool:
    """Whether the terminal says its size: a pseudo-terminal never sized (as `script` makes when it has
    no terminal of its own) says 0 by 0."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns > 0 and size.lines > 0


class Plain:
    """Each outcome's line written to standard output and flushed as it comes."""

    def __init__(self) -> None:
        self.out: TextIO = sys.stdout
        self.gone = False  # the reader of a pipe left (`| head`): the write goes on, unheard

    def tell(self, outcome: Outcome) -> None:
        """Print one file's outcome, now."""
        self._write(outcome.describe() + "\n")

    def advance(self, done: int, total: int) -> None:
        """The write's progress (`write.Progress`): nothing to show without a progress line."""

    def _write(self, text: str) -> None:
        """Write and flush `text`; once the reader has left, nothing more (the write is not stopped)."""
        if self.gone:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:  # as `cli.main` does once the command is over: the rest goes nowhere
            self.gone = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)

    def __enter__(self) -> Plain:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Nothing to put away."""


class Live(Plain):
    """A tqdm progress line on standard error, the outcome lines written above it every `TICK` seconds
    by a thread of its own: a line shows even while a long file is being prepared, and only that thread
    draws, so that a Ctrl-C (raised in the main thread) never interrupts tqdm holding its lock."""

    def __init__(self, label: str) -> None:
        super().__init__()
        sized = _sized()
        from tqdm import tqdm  # only a terminal's add or reindex draws: other commands start without it

        self.bar = tqdm(
            desc=label,
            total=None,
            unit=" files",
            file=sys.stderr,
            leave=False,
            # follows the window as it is resized, unless it has no size (tqdm would then draw nothing)
            dynamic_ncols=sized,
            ncols=None if sized else 80,
            nrows=None if sized else 24,
            mininterval=TICK,
            smoothing=SMOOTHING,
            miniters=1,  # never skips redraws on its own: tqdm's monitor thread would then draw too
            bar_format=STARTING,
        )
        self.lock = threading.Lock()  # guards the five below, shared with the drawing thread
        self.waiting: list[str] = []
        self.done = 0
        self.passages = 0
        self.total: int | None = None
        self.failed: OSError | None = None  # standard output could not be written (full disk...)
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="archive-progress", daemon=True)

    def tell(self, outcome: Outcome) -> None:
        """Count one file's outcome, its line written above the progress line at the next tick."""
        with self.lock:
            if self.failed:  # as `Plain` would have failed: the write stops, and says why
                raise self.failed
            self.waiting.append(outcome.describe())
            if outcome.status != "removed":  # removed documents are not among the files counted
                self.done += 1
                self.passages += outcome.passages

    def advance(self, done: int, total: int) -> None:
        """The write's progress (`write.Progress`): only its total is taken, the files done are counted
        from their outcomes (a file is taken up a few files before it is settled)."""
        with self.lock:
            self.total = total

    def _tick(self) -> None:
        """Until stopped: the waiting lines written, the progress line drawn again, every TICK seconds."""
        while not self.stopped.wait(TICK):
            try:
                self._flush()
            except OSError as e:
                with self.lock:
                    self.failed = e
                return

    def _flush(self) -> None:
        """Write the waiting lines above the progress line, and draw it again (its clock moves on too)."""
        with self.lock:
            if self.waiting and not self.gone:
                self.bar.clear()
                self._write("".join(line + "\n" for line in self.waiting))
            self.waiting.clear()
            self._count()
            self.bar.refresh()

    def _count(self) -> None:
        """Bring the bar to the files counted (the survey may refuse some beyond the total)."""
        if self.total is not None:
            self.bar.bar_format = BAR_FORMAT
            self.bar.total = max(self.total, self.done)
        if self.passages:
            self.bar.set_postfix_str(f"{self.passages:,} passages", refresh=False)
        if self.done > self.bar.n:
            if self.bar.n:
                self.bar.update(self.done - self.bar.n)
            else:  # the first file carries the start-up (workers, lexicon): the rate counts from it
                self.bar.n = self.bar.last_print_n = self.done
                self.bar.last_print_t = time.time()  # tqdm's clock, as its `reset` sets it

    def __enter__(self) -> Live:
        self.bar.refresh()
        self.ticker.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stop the ticker, write the last lines and take the progress line away (on an interrupt too)."""
        self.stopped.set()
        self.ticker.join()
        if not self.failed:
            self._flush()
        self.bar.close()
