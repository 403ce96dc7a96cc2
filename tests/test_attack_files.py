"""Files outside the archive and names it cannot carry: symbolic links and control characters.

Each test's docstring says what an attacker (or a careless sync) does and what happened before the fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive.documents import Staged, Store
from archive.errors import DocumentNotFound, RejectedInput
from archive.home import Archive
from archive.settings import Settings

from .conftest import WebFactory, web_settings

AUTH = {"Authorization": "Bearer secret"}
SECRET = "zorglubissime"  # a word no document of the archive holds
TEXT = "Les gendarmes ont saisi des faux billets lors d'un contrôle routier près de Marseille.\n"
OUTSIDE_TEXT = f"Mot de passe de l'administrateur : {SECRET}. Ne jamais publier ce fichier.\n"
ARCHIVE = Path(sys.executable).with_name("archive")


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    environment["ARCHIVE_HOME"] = str(home)
    return subprocess.run([str(ARCHIVE), *args], env=environment, capture_output=True, text=True, timeout=120)


def files_under(root: Path) -> set[str]:
    """Every path under root, but the manifest (which any write rewrites)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} - {"manifest-sha256.txt"}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the archive home, holding a secret."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(OUTSIDE_TEXT, encoding="utf-8")
    (folder / "secret.toml").write_text(f'title = "{SECRET}"\n', encoding="utf-8")
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "documents" / "2024").mkdir(parents=True)
    (home / "documents" / "2024" / "vrai.txt").write_text(TEXT, encoding="utf-8")
    return home


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    from web.app import create_app

    with TestClient(create_app(web_settings(home, "secret")), raise_server_exceptions=False) as c:
        yield c


def reindex(home: Path) -> dict[str, tuple[str, str]]:
    archive = Archive(web_settings(home))
    try:
        report = archive.reindex()
    finally:
        archive.close()
    return {o.path: (o.status, o.reason.code if o.reason else "") for o in report.outcomes}


def check(home: Path) -> list[tuple[str, str, str]]:
    archive = Archive(web_settings(home))
    try:
        return [(p.severity, p.path, p.message) for p in archive.check()]
    finally:
        archive.close()


# ---------------------------------------------------------------- symbolic links inside documents/


def test_a_symlink_to_a_file_outside_is_never_indexed_served_or_exported(home: Path, outside: Path) -> None:
    """`ln -s /etc/passwd documents/2024/lien.txt`, or a symlinked folder, or a symlinked sidecar.

    Before: scan followed them (`is_file()` follows links), so the outside file's text was indexed and
    served by the document page, the search hits and the CSV export, and a linked sidecar's TOML became
    the document's title.
    """
    docs = home / "documents"
    (docs / "2024" / "lien.txt").symlink_to(outside / "secret.txt")
    (docs / "ailleurs").symlink_to(outside, target_is_directory=True)
    (docs / "2024" / "vrai.txt.meta.toml").symlink_to(outside / "secret.toml")
    (docs / "2024" / "boucle.txt").symlink_to(docs / "2024" / "vrai.txt")  # even a link inside
    outcomes = reindex(home)
    assert outcomes["2024/lien.txt"] == ("rejected", "symlink")
    assert outcomes["ailleurs"] == ("rejected", "symlink")
    assert outcomes["2024/boucle.txt"] == ("rejected", "symlink")
    assert outcomes["2024/vrai.txt"] == ("added", "")
    assert set(Store(docs).read_manifest()) == {"2024/vrai.txt"}

    from web.app import create_app

    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as c:
        assert c.get("/search", params={"q": SECRET, "format": "json"}).json()["total"] == 0
        for q in ("administrateur", ""):  # words of the outside file, and everything
            found = c.get("/search", params={"q": q, "format": "json"})
            assert found.status_code == 200 and SECRET not in found.text
            assert {h["document"] for h in found.json()["hits"]} <= {"2024/vrai.txt"}
            csv = c.get("/search", params={"q": q, "format": "csv"})
            assert csv.status_code == 200 and SECRET not in csv.text and "publier" not in csv.text
        for path in ("2024/lien.txt", "ailleurs/secret.txt", "2024/boucle.txt"):
            for url in (f"/documents/{path}", f"/documents/{path}/original"):
                r = c.get(url, headers={"Accept": "application/json"})
                assert r.status_code == 404 and SECRET not in r.text, url
        page = c.get("/documents/2024/vrai.txt", headers={"Accept": "application/json"})
        assert page.status_code == 200 and SECRET not in page.text  # the linked sidecar was not read

    warnings = {path: message for severity, path, message in check(home) if severity == "warning"}
    assert {"2024/lien.txt", "ailleurs", "2024/boucle.txt", "2024/vrai.txt.meta.toml"} <= set(warnings)
    assert all("symbolic link: never indexed" in warnings[p] for p in ("2024/lien.txt", "ailleurs"))
    assert [p for p in check(home) if p[0] == "error"] == []


def test_archive_check_lists_each_symlink_as_a_warning(home: Path, outside: Path) -> None:
    """`archive check` on a home with a linked file and a linked folder.

    Before: it said nothing (the linked file was indexed like any other), exit 0.
    """
    (home / "documents" / "lien.txt").symlink_to(outside / "secret.txt")
    (home / "documents" / "ailleurs").symlink_to(outside, target_is_directory=True)
    assert run(home, "reindex").returncode == 1  # the links are reported as rejected
    result = run(home, "check")
    assert result.returncode == 0, result.stdout + result.stderr  # warnings only
    assert "warning lien.txt: symbolic link: never indexed" in result.stdout
    assert "warning ailleurs: symbolic link: never indexed" in result.stdout
    assert SECRET not in result.stdout


def test_replacing_an_original_by_a_link_is_a_missing_original(home: Path, outside: Path) -> None:
    """An indexed original swapped for a link to another file.

    Before: the link was followed and the other file's content indexed in its place (as "altered").
    Now the original counts as missing: reindex refuses until `--accept-changes`, and never reads the link.
    """
    reindex(home)
    original = home / "documents" / "2024" / "vrai.txt"
    original.unlink()
    original.symlink_to(outside / "secret.txt")
    result = run(home, "reindex")
    assert result.returncode == 1 and "missing: 2024/vrai.txt" in result.stderr
    assert ("error", "2024/vrai.txt", "missing: listed in the manifest but not in documents/") in check(home)


def test_document_lookup_refuses_links(home: Path, outside: Path) -> None:
    """`GET /documents/lien.txt/original` where lien.txt links to a file inside or outside documents/.

    Before: `path_of` followed a link that stayed inside documents/ and served its target.
    """
    docs = home / "documents"
    (docs / "dedans.txt").symlink_to(docs / "2024" / "vrai.txt")
    (docs / "dossier").symlink_to(docs / "2024", target_is_directory=True)
    (docs / "dehors.txt").symlink_to(outside / "secret.txt")
    store = Store(docs)
    for document_id in ("dedans.txt", "dossier/vrai.txt", "dehors.txt"):
        with pytest.raises(DocumentNotFound):
            store.path_of(document_id)
    assert store.path_of("2024/vrai.txt") == docs / "2024" / "vrai.txt"


# ---------------------------------------------------------------- writes through a symbolic link


@pytest.mark.parametrize("folder", ["evil", "evil/sous", "2024/evil"])
def test_upload_into_a_symlinked_folder_is_refused(
    home: Path, outside: Path, client: TestClient, folder: str
) -> None:
    """`curl -F folder=evil -F file=@x.txt` where documents/evil -> /tmp/outside (or a deeper folder is one).

    Before: `mkdir(parents=True)` and `open()` followed the link and wrote the upload outside documents/.
    """
    link = home / "documents" / folder.split("/sous")[0]
    link.symlink_to(outside, target_is_directory=True)
    before = files_under(outside)
    r = client.post(
        "/documents", headers=AUTH, data={"folder": folder}, files={"file": ("note.txt", TEXT.encode())}
    )
    assert r.status_code == 422, r.text
    outcome = r.json()["outcomes"][0]
    assert outcome["status"] == "rejected" and outcome["reason"]["code"] == "symlink"
    assert "symbolic link" in outcome["reason"]["message"] and str(outside) not in r.text
    assert str(home) not in r.text
    assert files_under(outside) == before


def test_archive_add_to_a_symlinked_folder_is_refused(home: Path, outside: Path, tmp_path: Path) -> None:
    """`archive add note.txt --to evil` where documents/evil -> /tmp/outside.

    Before: the file was copied to /tmp/outside/note.txt and recorded as documents/evil/note.txt.
    """
    (home / "documents" / "evil").symlink_to(outside, target_is_directory=True)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text(TEXT, encoding="utf-8")
    (inbox / "secret.txt").write_text("Un autre fichier du même dossier, sur la douane du Havre.\n")
    before = files_under(outside)
    result = run(home, "add", str(inbox / "note.txt"), "--to", "evil")
    assert result.returncode == 1
    assert "[symlink]" in result.stdout and "evil is a symbolic link" in result.stdout
    result = run(home, "add", str(inbox), "--to", "evil")  # a folder: everything under it refused
    assert result.returncode == 1 and "added" not in result.stdout.replace("0 added", "")
    assert files_under(outside) == before
    assert "evil/note.txt" not in Store(home / "documents").read_manifest()


def test_a_folder_swapped_for_a_link_after_the_check_is_still_refused(home: Path, outside: Path) -> None:
    """A folder replaced by a link between the path check and the write (a race with a local user).

    Before: `open(tmp, "wb")` followed whatever the path was at that instant. Now folders are opened one
    by one with O_NOFOLLOW, so the swapped folder is refused and nothing lands outside.
    """
    docs = home / "documents"

    class Racing(Store):  # the other user swaps 2025/ for a link right after our check
        def target(self, document_id: str) -> Path:
            path = super().target(document_id)
            (docs / "2025").rmdir()
            (docs / "2025").symlink_to(outside, target_is_directory=True)
            return path

    (docs / "2025").mkdir()
    with pytest.raises(RejectedInput) as info:
        Racing(docs).put("2025/note.txt", b"contenu")
    assert info.value.reason_code == "symlink"
    assert str(home) not in str(info.value)
    assert files_under(outside) == {"secret.txt", "secret.toml"}


# ---------------------------------------------------------------- names with control characters


@pytest.mark.parametrize(
    "name", ["ligne\nnouvelle.txt", "retour\r.txt", "tab\tulation.txt", "esc\x1b[31m.txt", "nel\x85.txt"]
)
def test_a_dropped_file_named_with_control_characters_is_reported_not_indexed(home: Path, name: str) -> None:
    """A file named `ligne\\nnouvelle.txt` (or with CR, TAB, ESC, C1) dropped into documents/.

    Before: it was indexed, but its page and its deletion were unreachable (the URL route does not match
    a line feed), and its name broke the CLI's one-line-per-file output.
    """
    (home / "documents" / name).write_text(TEXT.replace("Marseille", "Perpignan"), encoding="utf-8")
    shown = name.encode("unicode_escape").decode("ascii")
    outcomes = reindex(home)
    assert outcomes[shown] == ("rejected", "bad_name")
    assert name not in Store(home / "documents").read_manifest()
    problems = check(home)
    assert [p for p in problems if p[0] == "error"] == []
    assert ("warning", shown) in {(s, p) for s, p, _ in problems}
    message = next(m for _, p, m in problems if p == shown)
    assert "control characters" in message and "rename the file" in message and "[bad_name]" in message
    result = run(home, "check")
    assert result.returncode == 0
    assert f"warning {shown}: cannot be indexed" in result.stdout
    assert len(result.stdout.splitlines()) == 3  # the warning, the cache's size, the summary: no forged line


def test_a_file_named_with_undecodable_bytes_is_reported_not_a_crash(home: Path) -> None:
    """A file whose name is not UTF-8 (`caf\\xe9.txt`, copied from an old Windows share).

    Before: its surrogate-escaped id reached the manifest writer, which cannot encode it in UTF-8: the
    reindex crashed.
    """
    os.close(os.open(os.fsencode(home / "documents") + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))
    (home / "documents" / "caf\udce9.txt").write_text(TEXT, encoding="utf-8")
    outcomes = reindex(home)
    assert outcomes["caf\\udce9.txt"] == ("rejected", "bad_name")
    assert ("warning", "caf\\udce9.txt") in {(s, p) for s, p, _ in check(home)}


@pytest.mark.parametrize(
    ("filename", "folder"),
    [
        (b"rapport\x1b[2J.txt", ""),
        (b"tab\tulation.txt", ""),
        (b"nul\x7f.txt", ""),
        (b"note.txt", "2024\tbis"),
    ],
)
def test_upload_of_a_name_with_control_characters_is_rejected(
    home: Path, client: TestClient, filename: bytes, folder: str
) -> None:
    """`Content-Disposition: form-data; name="file"; filename="rapport<ESC>[2J.txt"`, or such a folder.

    Before: the control characters were silently dropped and the file stored under a name its sender
    never chose. Now: 422 with code `bad_name`, and nothing is stored.
    """
    before = files_under(home / "documents")
    parts = [b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n\r\n']
    parts.append(TEXT.encode() + b"\r\n")
    if folder:
        field = b'--b\r\nContent-Disposition: form-data; name="folder"\r\n\r\n'
        parts.append(field + folder.encode() + b"\r\n")
    parts.append(b"--b--\r\n")
    r = client.post(
        "/documents",
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
        content=b"".join(parts),
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_name"
    assert "control characters" in r.json()["outcomes"][0]["reason"]["message"]
    assert files_under(home / "documents") == before


def test_archive_add_of_a_name_with_a_line_feed_is_rejected_on_one_line(home: Path, tmp_path: Path) -> None:
    """`archive add $'faux\\nadded     2024/forged.txt'`: a name that would forge an outcome line.

    Before: the line feed was dropped and the file stored as `fauxadded 2024_forged.txt`.
    """
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    name = "faux\nadded     2024/forged.txt".replace("/", "_")
    (inbox / name).write_text(TEXT, encoding="utf-8")
    result = run(home, "add", str(inbox / name))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("rejected") and "[bad_name]" in lines[0]
    assert "\\n" in lines[0] and lines[1] == "1 rejected"
    assert files_under(home / "documents") == {"2024", "2024/vrai.txt"}


def test_french_names_are_kept(home: Path) -> None:
    """Accents, typographic apostrophes and French no-break spaces are names, not control characters."""
    archive = Archive(Settings(home=home))
    try:
        report = archive.add_upload(
            [
                ("Procès-verbal d’audition.txt", TEXT.encode()),
                ("Note\u202f: synthèse.txt", b"Autre " + TEXT.encode()),
            ]
        )
    finally:
        archive.close()
    assert [(o.status, o.path) for o in report.outcomes] == [
        ("added", "Procès-verbal d’audition.txt"),
        ("added", "Note _ synthèse.txt"),
    ]


# ---------------------------------------------------------------- a name taken meanwhile


def test_a_name_taken_meanwhile_is_409_without_server_paths(home: Path, client: TestClient) -> None:
    """Someone drops documents/2025/note.txt by hand between the upload's check and its write.

    Before: `os.link` raised FileExistsError, which became a 507 "storage" error whose message held the
    absolute path (`File exists (/srv/.../documents/2025/note.txt)`), and the undo deleted the file the
    other person had just stored.
    """
    docs = home / "documents"
    archive: Archive = client.app.state.archive  # type: ignore[attr-defined]

    class HandDropped(Store):  # the other person's copy lands right before ours is linked
        def stage(self, document_id: str, data: bytes) -> Staged:
            staged = super().stage(document_id, data)  # ours, synced under a hidden name
            (docs / document_id).write_text("le fichier de quelqu'un d'autre", encoding="utf-8")
            return staged

    archive.store = HandDropped(docs)
    r = client.post(
        "/documents", headers=AUTH, data={"folder": "2025"}, files={"file": ("note.txt", TEXT.encode())}
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "name_taken"
    assert str(home) not in r.text and str(docs) not in r.text
    assert (docs / "2025" / "note.txt").read_text(encoding="utf-8") == "le fichier de quelqu'un d'autre"
    assert "2025/note.txt" not in Store(docs).read_manifest()


def test_a_sidecar_name_taken_keeps_the_other_file_and_stores_nothing(home: Path, tmp_path: Path) -> None:
    """`archive add note.txt note.txt.meta.toml --to 2024` where 2024/note.txt.meta.toml already lies.

    Before: the document was stored, the sidecar's link failed with a 507 holding an absolute path, and
    the undo deleted the sidecar that was already there.
    """
    docs = home / "documents"
    (docs / "2024" / "note.txt.meta.toml").write_text('title = "Celui qui était là"\n', encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text(TEXT.replace("Marseille", "Brest"), encoding="utf-8")
    (inbox / "note.txt.meta.toml").write_text('title = "Le nouveau"\n', encoding="utf-8")
    archive = Archive(Settings(home=home))
    try:
        report = archive.add([inbox / "note.txt", inbox / "note.txt.meta.toml"], "2024")
    finally:
        archive.close()
    [outcome] = report.outcomes
    assert outcome.status == "rejected" and outcome.reason is not None
    assert outcome.reason.code == "name_taken" and str(home) not in outcome.reason.message
    there = (docs / "2024" / "note.txt.meta.toml").read_text(encoding="utf-8")
    assert there == 'title = "Celui qui était là"\n'
    assert not (docs / "2024" / "note.txt").exists()


def test_a_sidecar_nested_thousands_deep_is_one_rejected_file(tmp_path: Path) -> None:
    """`deep.txt.meta.toml` holding `title = ` + 5,000 `[` + 5,000 `]` (10 KB) made tomllib recurse
    past the limit: every reindex job ended `internal_error` (the full one after 138 s), `archive
    check` crashed, and /health said `ok`. It is now one file rejected as `bad_metadata`; the others
    are indexed."""
    home = tmp_path / "home"
    (home / "documents" / "x3").mkdir(parents=True)
    (home / "documents" / "x3" / "deep.txt").write_text(
        "Une note du parquet sur une saisie de stupéfiants.\n\nLe juge a ordonné une expertise.\n",
        encoding="utf-8",
    )
    (home / "documents" / "x3" / "deep.txt.meta.toml").write_text(
        "title = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8"
    )
    (home / "documents" / "ok.txt").write_text(
        "Une autre note.\n\nLes enquêteurs de la gendarmerie ont saisi des comptes.\n", encoding="utf-8"
    )
    with Archive(Settings(home=home)) as archive:
        report = archive.reindex(full=True)
        assert [(o.path, o.reason.code) for o in report.outcomes if o.reason] == [("x3/deep.txt", "bad_metadata")]
        assert report.count("added") == 1 and archive.health() is None
        assert any(p.path == "x3/deep.txt" and "bad_metadata" in p.message for p in archive.check())


def test_a_folder_too_deep_or_a_direction_override_is_a_bad_name(web_app_factory: WebFactory) -> None:
    """An upload with `folder=` of 25 components of 200 `d` answered 507 `storage` ("File name too
    long") and flipped /health to degraded; a name with U+202E (`rtl\\u202egpj.txt`, shown as
    `rtltxt.jpg`) was stored. Both are the client's input: 422 `bad_name`, nothing stored, health ok."""
    client = web_app_factory(token="t")
    auth = {"Authorization": "Bearer t"}
    note = b"Une note du parquet sur une saisie de stupefiants et une expertise ordonnee."
    deep = client.post(
        "/documents", files={"file": ("note.txt", note)}, data={"folder": "/".join(["d" * 200] * 25)}, headers=auth
    )
    assert deep.status_code == 422 and deep.json()["error"]["code"] == "bad_name", deep.text
    rtl = client.post("/documents", files={"file": ("rtl\u202egpj.txt", note)}, headers=auth)
    assert rtl.status_code == 422 and rtl.json()["error"]["code"] == "bad_name", rtl.text
    assert client.get("/health").json()["status"] == "ok"
