"""Smaller HTTP holes: forged log lines, believed proxy headers, server paths in answers.

Each test's docstring says what an attacker does and what happened before the fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from archive.errors import IndexMissing, StorageError

from .conftest import WebFactory, archive_env, serving

AUTH = {"Authorization": "Bearer secret"}
TXT = "Les gendarmes ont saisi des faux billets lors d'un contrôle routier près de Marseille.\n".encode()


def home_of(client: TestClient) -> Path:
    home: Path = client.app.state.settings.home  # type: ignore[attr-defined]
    return home


# ---------------------------------------------------------------- the access log


@pytest.mark.parametrize(
    "path",
    [
        "/search%0A127.0.0.1%20%22GET%20/admin%22%20200%200.1ms",
        "/documents/x%0D%0Ay",
        "/%1B%5B2J%1B%5BHeffacé",
        "/a%E2%80%A8b",  # U+2028, a line separator for some log readers
    ],
)
def test_a_control_character_in_the_path_cannot_forge_a_log_line(
    web_client: TestClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """`GET /search%0A127.0.0.1 "GET /admin" 200 0.1ms`: the path is percent-decoded before logging.

    Before: the access log wrote the decoded line feed, so the request showed as two log lines, the
    second one forged (and ESC sequences reached the terminal of whoever tails the log).
    """
    with caplog.at_level(logging.INFO, logger="web.access"):
        web_client.get(path)
    [line] = [r.getMessage() for r in caplog.records if r.name == "web.access"]
    assert line.isprintable() and len(line.splitlines()) == 1, line
    assert re.fullmatch(r'\S+ "GET /(?:[^"\\]|\\.)*" 404 \d+\.\dms', line), line  # quotes escaped: one field
    assert "\\x0a" in line or "\\x0d" in line or "\\x1b" in line or "\\u2028" in line


# ---------------------------------------------------------------- proxy headers


Serve = Callable[..., tuple[str, Path]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start `archive serve` (a real uvicorn) with extra environment; yields (base URL, log file)."""

    started = 0

    def start(**env: str) -> tuple[str, Path]:
        nonlocal started
        started += 1
        home = tmp_path / f"home{started}"
        (home / "documents").mkdir(parents=True)
        log = tmp_path / f"{home.name}-serve.log"
        _, base = servers.enter_context(serving(archive_env(home, **env), log))
        return base, log

    with contextlib.ExitStack() as servers:
        yield start


def access_line(log: Path, marker: str) -> str:
    """The access-log line of the request whose path holds `marker` (written once the response is sent)."""
    deadline = time.monotonic() + 30
    while True:
        found = [line for line in log.read_text("utf-8", "replace").splitlines() if marker in line]
        if found:
            return found[0]
        assert time.monotonic() < deadline, log.read_text("utf-8", "replace")
        time.sleep(0.02)


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(serve: Serve) -> None:
    """`curl -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Forwarded-Proto: https'` straight at `archive serve`.

    Before: uvicorn believes these headers from 127.0.0.1 (and from whatever $FORWARDED_ALLOW_IPS says)
    by default, so anyone on the machine could pick the client address the log (and any per-client
    limit) sees. Now nobody's are believed unless ARCHIVE_TRUSTED_PROXIES names the proxy.
    """
    headers = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}
    base, log = serve(FORWARDED_ALLOW_IPS="*")  # uvicorn's own knob: not ours
    httpx.get(f"{base}/openapi.json?sans-proxy", headers=headers, timeout=30)
    line = access_line(log, "sans-proxy")
    assert line.split('"')[0].strip().endswith(" 127.0.0.1"), line
    assert "6.6.6.6" not in line

    base, log = serve(ARCHIVE_TRUSTED_PROXIES="127.0.0.1")
    httpx.get(f"{base}/openapi.json?via-proxy", headers=headers, timeout=30)
    line = access_line(log, "via-proxy")
    assert line.split('"')[0].strip().endswith(" 6.6.6.6"), line


# ---------------------------------------------------------------- server paths in answers


def test_storage_errors_name_files_relative_to_the_home() -> None:
    """A full disk while writing documents/2024/x.txt.

    Before: `cannot complete: No space left on device (/srv/archive/documents/2024/x.txt)`, absolute path
    and all, in the HTTP answer, the job and `/health`.
    """
    home = Path("/srv/archive")
    error = OSError(28, "No space left on device", str(home / "documents" / "2024" / "x.txt"))
    message = str(StorageError("add", error, home))
    assert "(documents/2024/x.txt)" in message and "/srv" not in message
    assert "/srv" not in str(StorageError("add", OSError(28, "No space left on device", "/etc/elsewhere")))
    assert "/srv" not in str(IndexMissing("/srv/archive/index"))


def test_failed_writes_show_no_server_path(web_app_factory: WebFactory) -> None:
    """An upload and a reindex job that fail on the storage (here: a folder where the new manifest goes).

    Before: the 507 answer, `GET /jobs/{id}` (readable by anyone) and `/health` carried
    `Is a directory (/home/.../documents/.manifest-sha256.txt.1234.tmp)`.
    """
    client = web_app_factory()
    home = home_of(client)
    (home / "documents" / f".manifest-sha256.txt.{os.getpid()}.tmp").mkdir()  # the server is this process
    r = client.post("/documents", headers=AUTH, files={"file": ("note.txt", TXT)})
    assert r.status_code == 507 and r.json()["error"]["code"] == "storage", r.text
    assert "documents/.manifest-sha256.txt" in r.text and str(home) not in r.text

    job = client.post("/reindex?full=true", headers=AUTH).json()["job"]
    deadline = time.monotonic() + 60
    while (body := client.get(f"/jobs/{job}").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert body["state"] == "failed" and body["errors"][0]["code"] == "storage"
    assert "documents/.manifest-sha256.txt" in body["errors"][0]["message"]
    assert str(home) not in str(body)
    assert str(home) not in client.get("/health").text


def test_a_name_taken_is_409_not_507(web_app_factory: WebFactory) -> None:
    """Uploading a different file under a name already stored.

    Before: 422, and 507 with an absolute path when the name was taken between check and write (that
    race is tested in test_attack_files.py).
    """
    client = web_app_factory()
    r = client.post(
        "/documents", headers=AUTH, data={"folder": "2024"}, files={"file": ("blanchiment-lyon.md", TXT)}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"
    assert str(home_of(client)) not in r.text
