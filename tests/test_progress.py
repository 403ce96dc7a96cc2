"""`archive add` and `archive reindex` say each file's outcome as it happens (issue 14 §6).

The core tells a listener each outcome in the report's order as soon as every one before it is known
(`outcomes.Outcomes`): checked against the report itself, on real adds and reindexes. The command is then
driven as a user drives it, in real processes: piped, each line arrives while a later file cannot even
be read yet (a FIFO the test opens only after reading the line), with no escape codes; on a
pseudo-terminal, a progress line shows, the lines and the summary are the same, an interrupt exits 130
and leaves the archive as it was.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from archive import intake
from archive.home import Archive
from archive.outcomes import Outcome, Outcomes, Report
from archive.request import SearchRequest
from archive.settings import Settings
from archive.write import writing

from .conftest import (
    HANG_GUARD,
    SMALL_ARCHIVE,
    Watched,
    archive_env,
    restore_signals,
    within_guard,
    write_documents,
)
from .test_intake import ReadAhead

ROOT = Path(__file__).resolve().parent.parent

TEXTS = {
    "premier.md": "---\ntitle: Saisie au port du Havre\ndate: 2022-09-14\n---\n\n"
    "Les douaniers ont découvert 800 kilos de cocaïne dans un conteneur de bananes.\n",
    "second.md": "---\ntitle: Blanchiment à Lyon\ndate: 2024-06-27\n---\n\n"
    "La gendarmerie a démantelé un réseau de blanchiment aggravé qui recyclait l'argent de la drogue.\n",
    "dernier.md": "---\ntitle: Escroquerie aux faux placements\ndate: 2022-11-15\n---\n\n"
    "Europol et Eurojust coordonnent une enquête pour escroquerie en bande organisée.\n",
}


# ---------------------------------------------------------------- the core: outcomes told in order


@st.composite
def _batches(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    """A batch of `n` places and the events of one write over it: places opened in increasing order
    (some never, as a reindex skips files it does not prepare), each said once after it was opened and in
    any order; outcomes said at -1 first and at `n` last, as a reindex says refused and removed files."""
    n = draw(st.integers(0, 12))
    events: list[tuple[str, int]] = [("say", -1)] * draw(st.integers(0, 2))
    opened = [p for p in range(n) if draw(st.booleans()) or p == 0]
    unsaid: list[int] = []
    for place in opened:
        events.append(("open", place))
        unsaid.append(place)
        while unsaid:
            if not draw(st.booleans()):
                break
            events.append(("say", unsaid.pop(draw(st.integers(0, len(unsaid) - 1)))))
    events += [("say", p) for p in draw(st.permutations(unsaid))]
    events += [("say", n)] * draw(st.integers(0, 2))
    return n, events


@hypothesis_settings(max_examples=300, deadline=None)
@given(_batches())
def test_a_listener_hears_the_report_in_its_order_as_soon_as_it_can(
    batch: tuple[int, list[tuple[str, int]]],
) -> None:
    _, events = batch
    told: list[Outcome] = []
    outcomes = Outcomes(told.append)
    opened: set[int] = set()
    settled: set[int] = set()
    for i, (event, place) in enumerate(events):
        if event == "open":
            outcomes.open(place)
            opened.add(place)
            continue
        outcomes.say(place, Outcome(f"{place}/{i}", "added"))
        settled.add(place)
        # everything before the first place still open or still to come has been told
        waiting = [p for p in opened if p not in settled]
        bound = min([*waiting, max(opened, default=-1) + 1])
        assert len(told) == sum(1 for e, p in events[: i + 1] if e == "say" and p < bound)
    report = outcomes.report()
    assert told == list(report.outcomes)
    assert [int(o.path.split("/")[0]) for o in report.outcomes] == sorted(p for e, p in events if e == "say")


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Archive]:
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    archive = Archive(Settings(home=home))
    yield archive
    archive.close()


@pytest.mark.parametrize("kind", [Watched, ReadAhead], ids=["in-turn", "read-ahead"])
def test_an_add_tells_every_outcome_in_the_order_of_its_report(
    empty: Archive, tmp_path: Path, kind: type[Watched]
) -> None:
    """Twins held behind the first of them, a duplicate, rejections, a sidecar travelling with its
    document: the listener hears the report, line for line, even when every file is read before any is
    prepared."""
    inbox = tmp_path / "inbox"
    files: dict[str, str | bytes] = {
        "a/note.txt": "Les douaniers du Havre ont saisi quatre tonnes de cigarettes de contrebande.\n",
        "b/note.txt": "Les douaniers du Havre ont saisi quatre tonnes de cigarettes de contrebande.\n",
        "c/copie.txt": "Les douaniers du Havre ont saisi quatre tonnes de cigarettes de contrebande.\n",
        "d/vide.txt": "",
        "d/image.bin": "\x00\x01",
        "e/rapport.md": TEXTS["second.md"],
        "e/rapport.md.meta.toml": 'title = "Rapport"\n',
        "f/seul.meta.toml": 'title = "Seul"\n',
        **{f"g/{name}": text for name, text in TEXTS.items()},
    }
    write_documents(inbox, files)  # under inbox/documents/
    paths = [p for name in sorted(files) if (p := inbox / "documents" / name).parent.name != "g"]
    paths.append(inbox / "documents" / "g")
    write = kind(empty)
    listing = intake.files_under(paths, None)
    told: list[Outcome] = []
    totals: set[int] = set()
    with writing(write, "add", 0.0):
        report = intake.store_and_index(
            write,
            intake.from_paths(listing),
            intake.batch_size(listing),
            lambda done, total: totals.add(total),
            told.append,
        )
    assert told == list(report.outcomes)
    assert totals == {len(report.outcomes)} == {len(files) - 1}  # the sidecar travels with its document
    assert {o.status for o in told} == {"added", "unchanged", "duplicate", "rejected"}


def test_a_reindex_tells_every_outcome_in_the_order_of_its_report(tmp_path: Path) -> None:
    home = tmp_path
    (home / "documents").mkdir()
    write_documents(home, dict(SMALL_ARCHIVE))
    archive = Archive(Settings(home=home))
    try:
        first: list[Outcome] = []
        assert archive.reindex(listener=first.append).outcomes == tuple(first)
        names = sorted(SMALL_ARCHIVE)
        (home / "documents" / names[0]).unlink()  # removed
        (home / "documents" / names[1]).write_text(TEXTS["dernier.md"], encoding="utf-8")  # updated
        write_documents(home, {"depot/vide.txt": "", "depot/copie.md": SMALL_ARCHIVE[names[2]], **TEXTS})
        os.symlink(home / "documents" / names[2], home / "documents" / "lien.txt")  # refused by the walk
        told: list[Outcome] = []
        report = archive.reindex(listener=told.append, accept_changes=True)
        assert told == list(report.outcomes)
        assert {o.status for o in told} == {
            "added",
            "updated",
            "unchanged",
            "removed",
            "duplicate",
            "rejected",
        }
        full: list[Outcome] = []
        assert archive.reindex(full=True, listener=full.append).outcomes == tuple(full)
    finally:
        archive.close()


# ---------------------------------------------------------------- the command, in real processes


class Output:
    """Everything a child writes to one descriptor (a pipe or a pseudo-terminal), read by a thread as
    it comes, so that the test waits for what it expects without ever blocking past HANG_GUARD."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError as e:  # EIO: the pseudo-terminal's last writer has gone
                if e.errno != errno.EIO:
                    raise
                chunk = b""
            with self._changed:
                self.data += chunk
                self.ended = not chunk
                self._changed.notify_all()
            if not chunk:
                return

    def wait_for(self, seen: Callable[[bytes], bool], what: str) -> bytes:
        """What was read once `seen` holds of it; fails if the writer ends first or after HANG_GUARD s."""
        with self._changed:
            if not self._changed.wait_for(lambda: seen(self.data) or self.ended, HANG_GUARD):
                pytest.fail(f"waited {HANG_GUARD:g} s for {what}; read so far: {self.data!r}")
            if not seen(self.data):
                pytest.fail(f"the output ended before {what}: {self.data!r}")
            return self.data

    def rest(self) -> bytes:
        """Everything, once the writer has closed its end."""
        return self.wait_for(lambda _: self.ended, "the end of the output")


def screen(raw: bytes) -> list[str]:
    """The lines a terminal shows after `raw`: carriage returns go back to the start of the line and
    what follows overwrites it (all the progress line uses); blank lines left out."""
    lines = []
    for chunk in raw.decode("utf-8").split("\n"):
        cells: list[str] = []
        column = 0
        for char in chunk:
            if char == "\r":
                column = 0
                continue
            cells[column : column + 1] = [char]
            column += 1
        if line := "".join(cells).rstrip():
            lines.append(line)
    return lines


def terminal() -> tuple[int, int]:
    """A pseudo-terminal (controller, device) of 100 columns by 30 lines."""
    controller, device = pty.openpty()
    fcntl.ioctl(device, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    return controller, device


def archive_cli(home: Path, *args: str, stdout: int, stderr: int) -> subprocess.Popen[bytes]:
    """`python -m archive ARGS` over `home`, from this checkout, its output where given (buffered as a
    user's is: a PYTHONUNBUFFERED of ours would hide a missing flush)."""
    env = {k: v for k, v in archive_env(home, NO_COLOR="1").items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen(
        [sys.executable, "-m", "archive", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=restore_signals,
    )


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Three files to add, the last a FIFO: the command blocks reading it until the test feeds it."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name, text in TEXTS.items():
        if name != "dernier.md":
            (folder / name).write_text(text, encoding="utf-8")
    os.mkfifo(folder / "dernier.md")
    return folder


@pytest.fixture
def new_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    return home


def three_files(inbox: Path) -> list[str]:
    """The three files, the FIFO last; one worker, so that the first two are settled before it is read."""
    return [str(inbox / name) for name in TEXTS] + ["--workers", "1"]


def feed(inbox: Path) -> None:
    """Open the FIFO the command is blocked on, write the last file through it and close it."""

    def write() -> None:
        with open(inbox / "dernier.md", "wb") as fifo:  # waits for the command to open it
            fifo.write(TEXTS["dernier.md"].encode("utf-8"))

    within_guard(write)


EXPECTED = ["added     premier.md (1 passages)", "added     second.md (1 passages)"]
LAST = "added     dernier.md (1 passages)"


@pytest.mark.parametrize("stderr", ["pipe", "terminal"])
def test_piped_add_streams_each_line_as_it_happens_without_escape_codes(
    new_home: Path, inbox: Path, stderr: str
) -> None:
    """`archive add ... | tee log`: the first lines come while the last file cannot even be read (the
    command is blocked on the FIFO until the test has read them). With standard error on a terminal but
    standard output piped, as `| tee` does, no progress line either: it would be drawn over tee's lines."""
    controller, device = terminal() if stderr == "terminal" else os.pipe()
    reader, writer = os.pipe()
    proc = archive_cli(new_home, "add", *three_files(inbox), stdout=writer, stderr=device)
    os.close(writer)
    os.close(device)
    out, err = Output(reader), Output(controller)
    try:
        first = out.wait_for(lambda d: d.count(b"\n") >= 2, "the first two outcome lines")
        assert first.decode().splitlines() == EXPECTED and proc.poll() is None
        feed(inbox)
        assert proc.wait(HANG_GUARD) == 0
        assert out.rest().decode().splitlines() == [*EXPECTED, LAST, "3 added"]
        assert b"\x1b" not in out.data and b"\r" not in out.data
        assert err.rest() == b""
    finally:
        proc.kill()
        os.close(reader)
        os.close(controller)


def test_a_terminal_shows_a_progress_line_and_the_same_lines(new_home: Path, inbox: Path) -> None:
    controller, device = terminal()
    proc = archive_cli(new_home, "add", *three_files(inbox), stdout=device, stderr=device)
    os.close(device)
    out = Output(controller)
    try:
        shown = out.wait_for(
            lambda d: b"add: 2/3 files |" in d and b"second.md" in d,
            "the first two lines and a progress line counting them",
        )
        assert b"2 passages" in shown and proc.poll() is None  # still blocked on the FIFO
        feed(inbox)
        assert proc.wait(HANG_GUARD) == 0
        lines = screen(out.rest())
        assert lines == [*EXPECTED, LAST, "3 added"]  # the progress line is gone, the rest as piped
    finally:
        proc.kill()
        os.close(controller)


def test_a_reindex_on_a_terminal_says_the_same_as_piped(new_home: Path, tmp_path: Path) -> None:
    write_documents(new_home, {name: text for name, text in TEXTS.items()})
    piped = subprocess.run(
        [sys.executable, "-m", "archive", "reindex"],
        cwd=ROOT,
        env=archive_env(new_home),
        capture_output=True,
        timeout=HANG_GUARD * 4,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode().splitlines() == [
        *(f"added     {name} (1 passages)" for name in sorted(TEXTS)),
        "3 added",
    ]
    write_documents(new_home, {"vide.txt": ""})
    controller, device = terminal()
    proc = archive_cli(new_home, "reindex", stdout=device, stderr=device)
    os.close(device)
    out = Output(controller)
    try:
        assert proc.wait(HANG_GUARD * 4) == 1  # the empty file
        raw = out.rest()
        assert re.search(rb"reindex: [0-4]/4 files \|", raw), raw
        assert screen(raw) == [
            *(f"unchanged {name} (1 passages)" for name in sorted(TEXTS)),
            "rejected  vide.txt: empty file [empty]",
            "3 unchanged, 1 rejected",
        ]
    finally:
        proc.kill()
        os.close(controller)


def test_a_reader_that_leaves_does_not_stop_the_add(new_home: Path, inbox: Path) -> None:
    """`archive add ... | head -1`: the pipe closes after the first lines; the add goes on and commits."""
    with archive_cli(
        new_home, "add", *three_files(inbox), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            assert within_guard(proc.stdout.readline).decode() == EXPECTED[0] + "\n"
            proc.stdout.close()  # the next line the command writes finds no reader
            feed(inbox)
            assert proc.wait(HANG_GUARD) == 0
            assert b"Traceback" not in proc.stderr.read()
        finally:
            proc.kill()
    stats = subprocess.run(
        [sys.executable, "-m", "archive", "stats", "--json"],
        cwd=ROOT,
        env=archive_env(new_home),
        capture_output=True,
        timeout=HANG_GUARD * 4,
    )
    assert json.loads(stats.stdout)["documents"] == 3


def test_ctrl_c_on_a_terminal_exits_130_and_leaves_the_archive_as_it_was(tmp_path: Path, inbox: Path) -> None:
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    write_documents(home, dict(SMALL_ARCHIVE))
    archive = Archive(Settings(home=home))
    try:
        archive.reindex()
        before = archive.search(SearchRequest("")).total
    finally:
        archive.close()
    controller, device = terminal()
    proc = archive_cli(home, "add", *three_files(inbox), stdout=device, stderr=device)
    os.close(device)
    out = Output(controller)
    try:
        out.wait_for(lambda d: b"second.md" in d, "the first two outcome lines")
        proc.send_signal(signal.SIGINT)  # blocked on the FIFO, mid-add
        assert proc.wait(HANG_GUARD) == 130
        lines = screen(out.rest())
        assert lines == [*EXPECTED, "archive: interrupted; the live index is unchanged or fully updated"]
    finally:
        proc.kill()
        os.close(controller)
    archive = Archive(Settings(home=home))
    try:
        assert archive.search(SearchRequest("")).total == before
        assert not (home / "documents" / "premier.md").exists()  # the add was undone
        assert archive.check() == []
    finally:
        archive.close()


def test_the_report_of_an_add_is_unchanged(empty: Archive, tmp_path: Path) -> None:
    """A listener changes nothing of what is stored or reported."""
    (tmp_path / "a.md").write_text(TEXTS["premier.md"], encoding="utf-8")
    report = empty.add([tmp_path / "a.md"], listener=lambda _: None)
    assert report == Report((Outcome("a.md", "added", passages=1),))
