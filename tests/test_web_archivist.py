"""The archivists' endpoints: auth, uploads and their limits, delete, reindex jobs, search during a reindex."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from archive.lock import WriteLock

from .conftest import WebFactory

AUTH = {"Authorization": "Bearer secret"}
TXT = "Les gendarmes ont saisi des faux billets lors d'un contrôle routier près de Marseille.\n".encode()


def home_of(client: TestClient) -> Path:
    home: Path = client.app.state.settings.home  # type: ignore[attr-defined]
    return home


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def wait_for(client: TestClient, job: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/jobs/{job}").json()
        if body["state"] in ("done", "failed"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"job {job} did not finish")


WRITES = [("POST", "/documents"), ("DELETE", "/documents/2024/blanchiment-lyon.md"), ("POST", "/reindex")]


# ------------------------------------------------------------------ auth


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writing_is_disabled_without_a_configured_token(
    web_client: TestClient, method: str, path: str
) -> None:
    for headers in ({}, AUTH):
        r = web_client.request(
            method, path, headers=headers, files={"file": ("a.txt", TXT)} if path == "/documents" else None
        )
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "writing_disabled"


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer ", "Basic c2VjcmV0", "secret", "Bearer secret2", "Bearer secre"],
)
def test_missing_or_wrong_token_is_401(
    web_app_factory: WebFactory, method: str, path: str, authorization: str | None
) -> None:
    client = web_app_factory()
    before = files_under(home_of(client) / "documents")
    headers = {"Authorization": authorization} if authorization is not None else {}
    files = {"file": ("a.txt", TXT)} if path == "/documents" else None
    r = client.request(method, path, headers=headers, files=files)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert files_under(home_of(client) / "documents") == before


def test_reading_needs_no_token(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    assert client.get("/search?q=blanchiment").status_code == 200
    assert client.get("/documents/2024/blanchiment-lyon.md").status_code == 200
    assert client.get("/health").status_code == 200


# ------------------------------------------------------------------ uploads


def test_upload_with_the_token_stores_and_indexes(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    r = client.post(
        "/documents",
        headers=AUTH,
        data={"folder": "2025"},
        files=[
            ("file", ("faux-billets.txt", TXT)),
            ("file", ("autre.md", b"# Note\n\nUne note sur la contrebande de tabac au port.\n")),
        ],
    )
    assert r.status_code == 201
    body = r.json()
    assert [o["status"] for o in body["outcomes"]] == ["added", "added"]
    assert body["outcomes"][0]["path"] == "2025/faux-billets.txt"
    assert body["outcomes"][0]["url"] == "/documents/2025/faux-billets.txt"
    assert (home_of(client) / "documents" / "2025" / "faux-billets.txt").read_bytes() == TXT
    hits = client.get("/search?q=billets").json()["hits"]
    assert [h["document"] for h in hits] == ["2025/faux-billets.txt"]
    again = client.post(
        "/documents", headers=AUTH, data={"folder": "2025"}, files={"file": ("faux-billets.txt", TXT)}
    )
    assert again.status_code == 200 and again.json()["outcomes"][0]["status"] == "unchanged"
    copy = client.post("/documents", headers=AUTH, files={"file": ("copie.txt", TXT)})
    assert copy.status_code == 200
    assert copy.json()["outcomes"][0] | {"path": None} == {
        "path": None,
        "status": "duplicate",
        "reason": None,
        "duplicate_of": "2025/faux-billets.txt",
        "passages": 0,
        "url": None,
    }


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 415, "unsupported_format"),
        ("tableur.xlsx", b"PK\x03\x04" + b"\x00" * 100, 415, "unsupported_format"),
        ("vide.txt", b"", 422, "empty"),
        ("binaire.txt", b"\x00\x01\x02\x03" * 100, 422, "binary"),
        ("scan.pdf", None, 422, "no_text_layer"),
    ],
)
def test_rejected_uploads(
    web_app_factory: WebFactory, name: str, data: bytes | None, status: int, code: str
) -> None:
    client = web_app_factory()
    if data is None:
        data = (Path(__file__).parent / "fixtures" / name).read_bytes()
    before = files_under(home_of(client) / "documents")
    r = client.post("/documents", headers=AUTH, files={"file": (name, data)})
    assert r.status_code == status
    body = r.json()
    assert body["error"]["code"] == code and name in body["error"]["message"]
    assert body["outcomes"][0]["status"] == "rejected" and body["outcomes"][0]["reason"]["code"] == code
    assert files_under(home_of(client) / "documents") == before


def test_mixed_upload_is_201_with_each_outcome(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    r = client.post("/documents", headers=AUTH, files=[("file", ("ok.txt", TXT)), ("file", ("x.exe", b"MZ"))])
    assert r.status_code == 201
    assert [o["status"] for o in r.json()["outcomes"]] == ["added", "rejected"]


def test_upload_without_file_part_or_multipart(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    r = client.post("/documents", headers=AUTH, files={"folder": (None, "x")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_file"
    r = client.post("/documents", headers={**AUTH, "Content-Type": "text/plain"}, content=b"bonjour")
    assert r.status_code == 415


def test_upload_size_limit_is_413(web_app_factory: WebFactory) -> None:
    client = web_app_factory(max_upload_bytes=2000)
    before = files_under(home_of(client) / "documents")
    r = client.post("/documents", headers=AUTH, files={"file": ("gros.txt", TXT * 40)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="g.txt"\r\n\r\n'
        for _ in range(40):
            yield TXT
        yield b"\r\n--b--\r\n"

    r = client.post(
        "/documents", headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"}, content=chunks()
    )
    assert r.status_code == 413
    assert files_under(home_of(client) / "documents") == before
    small = client.post("/documents", headers=AUTH, files={"file": ("petit.txt", TXT)})
    assert small.status_code == 201


def test_per_file_limit_rejects_with_413(web_app_factory: WebFactory) -> None:
    client = web_app_factory(max_file_bytes=50)
    r = client.post("/documents", headers=AUTH, files={"file": ("long.txt", TXT)})
    assert r.status_code == 413 and r.json()["outcomes"][0]["reason"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("given", "folder", "stored"),
    [
        ("../../evil.txt", None, "evil.txt"),
        ("/etc/passwd.txt", None, "passwd.txt"),
        ("..\\..\\windows.txt", None, "windows.txt"),
        (".cache.txt", None, "cache.txt"),
        ("note.txt", "../../dehors", "dehors/note.txt"),
        ("note.txt", "/abs/olu", "abs/olu/note.txt"),
        ("note.txt", "a/../../b", "a/b/note.txt"),
        ("C:\\temp\\Rapport final.txt", None, "Rapport final.txt"),
    ],
)
def test_hostile_file_names_stay_inside_documents(
    web_app_factory: WebFactory, tmp_path: Path, given: str, folder: str | None, stored: str
) -> None:
    client = web_app_factory()
    home = home_of(client)
    outside = files_under(tmp_path)
    data = {"folder": folder} if folder else {}
    r = client.post("/documents", headers=AUTH, data=data, files={"file": (given, TXT)})
    assert r.status_code == 201, r.text
    assert r.json()["outcomes"][0]["path"] == stored
    assert (home / "documents" / stored).read_bytes() == TXT
    new = files_under(tmp_path) - outside
    assert all(p.startswith(f"{home.name}/documents/") or p.startswith(f"{home.name}/index/") for p in new), (
        new
    )
    assert not any(
        Path(p).name.startswith(".")
        and not p.startswith(f"{home.name}/index/")
        and not p.endswith("manifest-sha256.txt")
        for p in new
    )


@pytest.mark.parametrize("given", ["..", "...", "/", "", "   "])
def test_file_names_with_nothing_left_are_rejected(web_app_factory: WebFactory, given: str) -> None:
    client = web_app_factory()
    r = client.post("/documents", headers=AUTH, files={"file": (given, TXT)})
    assert r.status_code in (400, 422)
    assert "error" in r.json()


# ------------------------------------------------------------------ delete


def test_delete_removes_file_and_passages(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    assert client.get("/search?q=cigarettes").json()["total"] == 1
    r = client.delete("/documents/2023/douane-cigarettes.md", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"id": "2023/douane-cigarettes.md", "status": "removed"}
    assert not (home_of(client) / "documents" / "2023" / "douane-cigarettes.md").exists()
    assert client.get("/search?q=cigarettes").json()["total"] == 0
    assert client.get("/documents/2023/douane-cigarettes.md").status_code == 404
    again = client.delete("/documents/2023/douane-cigarettes.md", headers=AUTH)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert client.delete("/documents/../conftest.py", headers=AUTH).status_code == 404


def test_concurrent_write_gets_409(web_app_factory: WebFactory) -> None:
    client = web_app_factory(write_wait=0.1)  # keep the test fast; the real wait is a few seconds
    with WriteLock(home_of(client) / "index", "another writer"):
        r = client.post("/documents", headers=AUTH, files={"file": ("ok.txt", TXT)})
        assert r.status_code == 409 and r.json()["error"]["code"] == "busy"
        r = client.delete("/documents/2023/douane-cigarettes.md", headers=AUTH)
        assert r.status_code == 409
    assert client.post("/documents", headers=AUTH, files={"file": ("ok.txt", TXT)}).status_code == 201


# ------------------------------------------------------------------ reindex jobs


def test_reindex_job_reports_progress(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    (home_of(client) / "documents" / "2025").mkdir()
    (home_of(client) / "documents" / "2025" / "billets.txt").write_bytes(TXT)
    (home_of(client) / "documents" / "2025" / "vide.txt").write_bytes(b"")
    r = client.post("/reindex", headers=AUTH)
    assert r.status_code == 202
    job = r.json()
    assert job["job"] == job["id"] and job["state"] in ("queued", "running", "done")
    assert r.headers["location"] == f"/jobs/{job['id']}"
    done = wait_for(client, job["job"])
    assert done["state"] == "done"
    assert done["total"] == done["done"] == 7
    assert done["counts"]["added"] == 1 and done["counts"]["unchanged"] == 5
    assert done["errors"] == [
        {"document": "2025/vide.txt", "code": "empty", "message": done["errors"][0]["message"]}
    ]
    assert client.get("/search?q=billets").json()["total"] == 1


def test_unknown_job_is_404(web_client: TestClient) -> None:
    r = web_client.get("/jobs/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_reindex_rejects_a_bad_full_flag(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    assert client.post("/reindex?full=peut-etre", headers=AUTH).status_code == 400


def test_a_second_reindex_while_one_runs_is_409(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    lock = WriteLock(home_of(client) / "index", "test holds the lock")
    with lock:  # the first job waits for the lock, so it is still active when the second one comes
        first = client.post("/reindex", headers=AUTH).json()
        r = client.post("/reindex", headers=AUTH)
        assert r.status_code == 409 and r.json()["job"] == first["job"]
        assert client.get(f"/jobs/{first['job']}").json()["state"] in ("queued", "running")
    assert wait_for(client, first["job"])["state"] == "done"


def test_searches_answer_during_a_full_reindex_and_see_the_new_index_after(
    web_app_factory: WebFactory,
) -> None:
    client = web_app_factory()
    before = client.get("/search?q=&per_page=100").json()
    (home_of(client) / "documents" / "2025").mkdir()
    (home_of(client) / "documents" / "2025" / "billets.txt").write_bytes(TXT)
    lock = WriteLock(home_of(client) / "index", "test holds the lock")
    lock.__enter__()
    try:
        job = client.post("/reindex?full=true", headers=AUTH).json()["job"]
        assert client.get(f"/jobs/{job}").json()["state"] in ("queued", "running")
        during = client.get("/search?q=&per_page=100")  # the reindex is waiting: the old index answers
        assert during.status_code == 200 and during.json()["total"] == before["total"]
    finally:
        lock.__exit__(None, None, None)
    results: list[int] = []
    stop = threading.Event()

    def search_while_indexing() -> None:
        while not stop.is_set():
            r = client.get("/search?q=&per_page=100")
            results.append(r.status_code)
            assert r.json()["total"] in (before["total"], before["total"] + 1)

    worker = threading.Thread(target=search_while_indexing)
    worker.start()
    try:
        state = wait_for(client, job)
    finally:
        stop.set()
        worker.join()
    assert state["state"] == "done" and results and set(results) == {200}
    after = client.get("/search?q=billets").json()  # no restart needed
    assert after["total"] == 1 and after["hits"][0]["document"] == "2025/billets.txt"


def test_reindex_over_an_altered_original_fails_until_changes_are_accepted(
    web_app_factory: WebFactory,
) -> None:
    client = web_app_factory()
    original = home_of(client) / "documents" / "2024" / "blanchiment-lyon.md"
    original.write_text(
        "---\ntitle: Modifié\n---\n\nUn texte modifié à la main parle de pangolins.\n", "utf-8"
    )
    failed = wait_for(client, client.post("/reindex", headers=AUTH).json()["job"])
    assert failed["state"] == "failed" and failed["errors"][0]["code"] == "fixity"
    assert "2024/blanchiment-lyon.md" in failed["errors"][0]["message"]
    assert client.get("/search?q=pangolins").json()["total"] == 0
    done = wait_for(client, client.post("/reindex?accept_changes=true", headers=AUTH).json()["job"])
    assert done["state"] == "done" and done["counts"]["updated"] == 1
    assert client.get("/search?q=pangolins").json()["total"] == 1
