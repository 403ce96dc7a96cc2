"""`Write.prepare_all`: the one road from files to documents, taken one job at a time."""

from __future__ import annotations

from collections.abc import Iterator

from archive.errors import RejectedInput
from archive.home import Archive
from archive.models import Document
from archive.preparing import Job
from archive.write import Write

from .conftest import SMALL_ARCHIVE


def _write(archive: Archive) -> Write:
    return Write(archive.settings, archive.store, archive.pipeline, archive.searcher)


def test_jobs_are_taken_as_results_are_asked_for_and_come_back_in_order(archive: Archive) -> None:
    write = _write(archive)
    taken: list[str] = []
    names = ["b.md", "vide.txt", "a.txt", "binaire.txt"]
    contents = [SMALL_ARCHIVE["2023/eurojust-blanchiment.md"].encode(), b"", b"Les douaniers.\n", bytes(256)]

    def jobs() -> Iterator[Job]:
        for name, data in zip(names, contents, strict=True):
            taken.append(name)
            yield name, data, None

    results = write.prepare_all(jobs())
    assert taken == []  # nothing read before a result is asked for
    first = next(results)
    # read ahead by the workers, never more than their window (two jobs each: `preparing`)
    assert taken[0] == "b.md" and 1 <= len(taken) <= 2 * write.settings.ingest_workers
    assert write.prepared == 1
    assert isinstance(first[1], Document) and first[1].id == "b.md"
    rest = list(results)
    assert [name for name, _ in [first, *rest]] == names
    outcomes = {name: result for name, result in rest}
    assert isinstance(outcomes["vide.txt"], RejectedInput) and outcomes["vide.txt"].reason_code == "empty"
    assert isinstance(outcomes["a.txt"], Document)  # a rejection is a result: the batch goes on
    assert isinstance(outcomes["binaire.txt"], RejectedInput)
    assert write.prepared == len(names) and write.unread == []
