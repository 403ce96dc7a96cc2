"""Settings (archive/settings.py): the only input of the service, each knob from its `ARCHIVE_*` variable."""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path

import pytest

from archive.errors import ArchiveError, SettingsError
from archive.settings import ENVIRONMENT, Settings


def test_defaults_are_the_measured_ones(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    assert (settings.write_wait, settings.reindex_wait) == (5.0, 10.0)
    assert (settings.search_threads, settings.export_limit) == (2, 10_000)
    assert settings.ingest_workers == Settings(home=tmp_path).ingest_workers == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    ("variable", "raw", "field", "value"),
    [
        ("ARCHIVE_WRITE_WAIT", "0.5", "write_wait", 0.5),
        ("ARCHIVE_WRITE_WAIT", "0", "write_wait", 0.0),  # a write that never waits: 409 at once
        ("ARCHIVE_REINDEX_WAIT", "30", "reindex_wait", 30.0),
        ("ARCHIVE_SEARCH_THREADS", "4", "search_threads", 4),
        ("ARCHIVE_EXPORT_LIMIT", "500", "export_limit", 500),
        ("ARCHIVE_INGEST_WORKERS", "1", "ingest_workers", 1),
        ("ARCHIVE_INGEST_WORKERS", "6", "ingest_workers", 6),
    ],
)
def test_knobs_come_from_the_environment(variable: str, raw: str, field: str, value: object) -> None:
    assert getattr(Settings.from_env({variable: raw}), field) == value


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("ARCHIVE_WRITE_WAIT", "soon"),
        ("ARCHIVE_WRITE_WAIT", "-1"),
        ("ARCHIVE_REINDEX_WAIT", "nan"),
        ("ARCHIVE_REINDEX_WAIT", "inf"),
        ("ARCHIVE_SEARCH_THREADS", "0"),
        ("ARCHIVE_SEARCH_THREADS", "1.5"),
        ("ARCHIVE_EXPORT_LIMIT", "lots"),
        ("ARCHIVE_INGEST_WORKERS", "0"),
        ("ARCHIVE_INGEST_WORKERS", "-2"),
        ("ARCHIVE_INGEST_WORKERS", "all"),
        ("ARCHIVE_MAX_FILE_MB", "-3"),
        ("ARCHIVE_BASE_URL", "ftp://example.org"),
        ("ARCHIVE_CORS_ORIGINS", "*,https://a.example.org"),
        ("ARCHIVE_RATE_LIMIT", "many"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=variable) as refused:
        Settings.from_env({variable: raw})
    assert refused.value.variable == variable
    assert isinstance(refused.value, ArchiveError) and isinstance(refused.value, ValueError)


def test_flags_win_over_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"ARCHIVE_EXPORT_LIMIT": "500"}, home=tmp_path, export_limit=3)
    assert settings.export_limit == 3 and settings.home == tmp_path.resolve()


def test_every_knob_has_a_variable() -> None:
    derived = {"home", "token", "max_file_bytes", "max_upload_bytes"}  # named otherwise: _HOME, _TOKEN, _MB
    variables = {f"ARCHIVE_{f.name.upper()}" for f in dataclasses.fields(Settings) if f.name not in derived}
    assert variables <= set(ENVIRONMENT)


def test_settings_are_the_only_input_of_the_app() -> None:
    from web.app import create_app

    assert list(inspect.signature(create_app).parameters) == ["settings"]


def test_the_app_takes_its_knobs_from_settings(web_home: Path) -> None:
    from starlette.testclient import TestClient

    from web.app import create_app

    from .conftest import web_settings

    with TestClient(create_app(web_settings(web_home, search_threads=3, export_limit=7))) as client:
        state = client.app.state  # type: ignore[attr-defined]
        assert state.searches.total_tokens == 3 and state.settings.export_limit == 7
