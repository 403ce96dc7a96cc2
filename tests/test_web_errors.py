"""The error table (web/errors.py): every core exception has an answer, and routes and jobs give the same one."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import cast

import pytest
from starlette.testclient import TestClient

import archive
from archive import errors as core
from archive.home import Archive
from archive.settings import Settings
from web import errors, wire
from web.jobs import Jobs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "web.md"

SAMPLES: dict[type[core.ArchiveError], core.ArchiveError] = {
    core.ArchiveError: core.ArchiveError("something of ours went wrong"),
    core.UsageError: core.UsageError("per_page must be between 1 and 100", "per_page"),
    core.DocumentNotFound: core.DocumentNotFound("2024/absent.txt"),
    core.ArchiveBusy: core.ArchiveBusy("reindex, pid 12"),
    core.CursorExpired: core.CursorExpired("gen-20261130T101500123456", 2),
    core.IndexMissing: core.IndexMissing("/srv/archive/index"),
    core.RejectedInput: core.RejectedInput("2024/vide.txt", "empty", "empty file"),
    core.ReaderUnavailable: core.ReaderUnavailable("2024/a.pdf", "reader_crashed", "the reader crashed"),
    core.ReaderFailed: core.ReaderFailed("reindex", [("2024/a.pdf", "the reader crashed")]),
    core.FixityError: core.FixityError(["2024/a.txt"], ["2024/b.txt"]),
    core.StorageError: core.StorageError("reindex", OSError(28, "No space left on device")),
    core.TaxonomyError: core.TaxonomyError("/srv/archive/taxonomy.toml", "agency.x: unknown parent 'y'"),
    core.SettingsError: core.SettingsError("ARCHIVE_EXPORT_LIMIT", "ARCHIVE_EXPORT_LIMIT must be positive"),
    core.SchedulerUnreachable: core.SchedulerUnreachable("tcp://10.0.0.1:8786", "no answer within 10 s"),
    core.ClusterMismatch: core.ClusterMismatch(
        "tcp://10.0.0.1:8786", {"tcp://10.0.0.2:40331": "archive code 1f2e3d4c5b6a, here 0a1b2c3d4e5f"}
    ),
}
"""One instance of every core exception class, as the core raises it."""


def _every_archive_error() -> set[type[core.ArchiveError]]:
    """Every subclass of ArchiveError the archive package defines, in whatever module."""
    for module in pkgutil.walk_packages(archive.__path__, "archive."):
        if not module.name.endswith("__main__"):  # the command line itself, which runs when imported
            importlib.import_module(module.name)
    found: set[type[core.ArchiveError]] = set()
    todo: list[type[core.ArchiveError]] = [core.ArchiveError]
    while todo:
        kind = todo.pop()
        if kind.__module__.startswith("archive.") and kind not in found:
            found.add(kind)
            todo.extend(kind.__subclasses__())
    return found


def test_every_core_exception_has_an_answer() -> None:
    missing = {k.__qualname__ for k in _every_archive_error()} - {k.__qualname__ for k in errors.ANSWERS}
    assert missing == set(), f"add these to web/errors.py ANSWERS: {sorted(missing)}"
    assert set(SAMPLES) == set(errors.ANSWERS)


def test_the_settings_and_taxonomy_errors_are_core_errors() -> None:
    assert issubclass(core.TaxonomyError, core.ArchiveError)
    assert issubclass(core.SettingsError, core.ArchiveError)
    assert issubclass(core.SettingsError, ValueError)  # as settings errors always were


@pytest.mark.parametrize("kind", list(errors.ANSWERS), ids=lambda k: k.__name__)
def test_answers_are_well_formed(kind: type[core.ArchiveError]) -> None:
    answer = errors.ANSWERS[kind]
    assert 400 <= answer.status < 600
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", answer.code)
    assert answer.french.strip() and answer.french.endswith(".")


def test_only_an_unnamed_bug_is_an_internal_error() -> None:
    internal = [k.__name__ for k, a in errors.ANSWERS.items() if a.code == "internal_error"]
    assert internal == ["ArchiveError"]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (core.FixityError, 409, "fixity"),
        (core.TaxonomyError, 500, "bad_taxonomy"),
        (core.SettingsError, 500, "bad_settings"),
        (core.ReaderUnavailable, 503, "reader_unavailable"),
        (core.RejectedInput, 422, "empty"),  # a refused file answers under its reason's code
        (core.UsageError, 400, "bad_parameter"),
    ],
)
def test_answers(kind: type[core.ArchiveError], status: int, code: str) -> None:
    answer = errors.from_archive(SAMPLES[kind])
    assert (answer.status, answer.code) == (status, code)


@pytest.mark.parametrize(
    ("reason", "status", "code"),
    [
        ("name_taken", 409, "name_taken"),
        ("too_large", 413, "too_large"),
        ("unsupported_format", 415, "unsupported_format"),
        ("reader_crashed", 503, "reader_unavailable"),
        ("binary", 422, "binary"),
    ],
)
def test_a_refused_file_answers_by_its_reason(reason: str, status: int, code: str) -> None:
    answer = errors.from_archive(core.RejectedInput("a.txt", reason, "refused"))
    assert (answer.status, answer.code) == (status, code)


def test_messages_never_show_the_archive_home(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    error = core.TaxonomyError(str(settings.taxonomy_path), "not valid TOML")
    answer = errors.from_archive(error, settings)
    assert str(tmp_path) not in answer.message and answer.message == "taxonomy.toml: not valid TOML"


@pytest.mark.parametrize("kind", list(SAMPLES), ids=lambda k: k.__name__)
def test_routes_answer_from_the_table(
    web_client: TestClient, monkeypatch: pytest.MonkeyPatch, kind: type[core.ArchiveError]
) -> None:
    def fail() -> None:
        raise SAMPLES[kind]

    monkeypatch.setattr(web_client.app.state.archive, "stats", fail)  # type: ignore[attr-defined]
    expected = errors.from_archive(SAMPLES[kind], web_client.app.state.settings)  # type: ignore[attr-defined]
    r = web_client.get("/health", headers={"Accept": "application/json"})
    assert r.status_code == expected.status
    assert r.json() == expected.to_json()
    assert set(r.json()) <= {"error", "parameter"} and set(r.json()["error"]) == {"code", "message"}


class _FailingArchive:
    """An archive whose reindex raises `error`."""

    def __init__(self, settings: Settings, error: Exception) -> None:
        self.settings = settings
        self.error = error

    def reindex(self, **_: object) -> None:
        raise self.error


def _failed_job(settings: Settings, error: Exception) -> wire.Job:
    jobs = Jobs(cast(Archive, _FailingArchive(settings, error)))
    job = jobs.start_reindex(full=False)
    jobs.join()
    return wire.job(job)


@pytest.mark.parametrize("kind", list(SAMPLES), ids=lambda k: k.__name__)
def test_jobs_report_what_the_http_answer_says(tmp_path: Path, kind: type[core.ArchiveError]) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    answer = errors.from_archive(SAMPLES[kind], settings)
    job = _failed_job(settings, SAMPLES[kind])
    assert job["state"] == "failed"
    assert job["errors"] == [{"code": answer.code, "message": answer.message}]


def test_a_job_that_fails_unexpectedly_reports_an_internal_error(tmp_path: Path) -> None:
    job = _failed_job(Settings.from_env({}, home=tmp_path), RuntimeError("/srv/secret"))
    assert job["errors"] == [{"code": "internal_error", "message": errors.INTERNAL.message}]


def test_the_docs_name_every_error_code() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    codes = {a.code for a in errors.ANSWERS.values()} | {a.code for a in errors.REJECTIONS.values()}
    assert sorted(c for c in codes if f"`{c}`" not in docs) == []
