"""The documents/ store: what counts as a document, the BagIt fixity manifest, safe names, no overwrites."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from archive.documents import MANIFEST, Store
from archive.errors import DocumentNotFound, RejectedInput
from archive.home import Archive
from archive.names import MAX_NAME_BYTES, is_document, safe_folder, safe_name, unnameable
from archive.outcomes import printable
from archive.settings import Settings

from .conftest import SMALL_ARCHIVE, write_documents

TEXT = "Le parquet de Paris a ouvert une information judiciaire pour blanchiment aggravé.\n"
MANIFEST_LINE = re.compile(r"^[0-9a-f]{64}  \S.*$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    root = tmp_path / "documents"
    root.mkdir()
    return Store(root)


# ---------------------------------------------------------------- scan


def test_scan_lists_documents_only_sorted_and_posix(store: Store) -> None:
    write_documents(
        store.root.parent,
        {
            "b.txt": TEXT,
            "2024/a.md": TEXT,
            "2024/sous dossier/é.html": TEXT,
            "a.txt": TEXT,
            MANIFEST: "",
            "tagmanifest-sha256.txt": "",
            "bagit.txt": "",
            "bag-info.txt": "",
            "a.txt.meta.toml": 'title = "x"\n',
            "2024/a.meta.toml": 'title = "x"\n',
            ".cache": "x",
            ".a.txt.1234.tmp": TEXT,
            ".git/config": "x",
            "2024/.hidden/inside.txt": TEXT,
            "2024/.DS_Store": "x",
        },
    )
    assert store.scan() == ["2024/a.md", "2024/sous dossier/é.html", "a.txt", "b.txt"]


def test_scan_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert Store(tmp_path / "nowhere").scan() == []


def test_scan_does_not_follow_into_hidden_folders_nor_list_folders(store: Store) -> None:
    (store.root / "dossier.txt").mkdir()  # a folder named like a document is not one
    write_documents(store.root.parent, {"dossier.txt/vrai.txt": TEXT})
    assert store.scan() == ["dossier.txt/vrai.txt"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.txt", True),
        ("2024/a.pdf", True),
        ("unknown.docx", True),  # the store lists it; extraction rejects it, and check warns
        (MANIFEST, False),
        ("tagmanifest-sha256.txt", False),
        ("a.txt.meta.toml", False),
        ("a.meta.toml", False),
        ("2024/a.meta.toml", False),
        (".hidden.txt", False),
        (".dossier/a.txt", False),
        ("2024/.a.txt.99.tmp", False),
        ("2024/manifest-sha256.txt", True),  # only the top-level manifest is the manifest
    ],
)
def test_is_document(path: str, expected: bool) -> None:
    assert is_document(PurePosixPath(path)) is expected


# ---------------------------------------------------------------- manifest


def test_manifest_format_is_bagit_sorted_two_spaces(store: Store) -> None:
    entries = {"b/c.txt": "b" * 64, "a.txt": "a" * 64, "Z.md": "c" * 64, "a b.pdf": "d" * 64}
    store.write_manifest(entries)
    text = store.manifest_path.read_bytes().decode("utf-8")
    assert text == (f"{'c' * 64}  Z.md\n{'d' * 64}  a b.pdf\n{'a' * 64}  a.txt\n{'b' * 64}  b/c.txt\n")
    assert store.read_manifest() == entries
    assert not [p for p in store.root.iterdir() if p.name.endswith(".tmp")]


def test_reindex_writes_the_manifest_of_every_document_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "documents").mkdir()
    files: dict[str, str | bytes] = {
        **SMALL_ARCHIVE,
        "2023/eurojust-blanchiment.meta.toml": 'title = "T"\n',
        ".notes.txt": TEXT,
    }
    write_documents(tmp_path, files)
    archive = Archive(Settings(home=tmp_path))
    try:
        archive.reindex()
    finally:
        archive.close()
    text = (tmp_path / "documents" / MANIFEST).read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines[-1] == ""  # every line ends with a newline, the last one too
    lines = lines[:-1]
    assert all(MANIFEST_LINE.match(line) for line in lines), lines
    expected = [f"{_sha((tmp_path / 'documents' / p).read_bytes())}  {p}" for p in sorted(SMALL_ARCHIVE)]
    assert lines == expected


@pytest.mark.parametrize(
    "name",
    ["ligne\nnouvelle.txt", " espace devant.txt", "taux 100%.txt", "retour\r.txt", "littéral %0A et %25.txt"],
)
def test_any_file_name_dropped_in_documents_round_trips_through_the_manifest(
    tmp_path: Path, name: str
) -> None:
    # Files dropped straight into documents/ keep whatever name they have; fixity must still hold.
    # Names with control characters are refused (bad_name) and reported, never indexed: see
    # tests/test_attack_files.py.
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, {name: TEXT, "autre.txt": "Les douaniers ont saisi des cigarettes.\n"})
    refused = any(c in name for c in "\r\n")
    archive = Archive(Settings(home=tmp_path))
    try:
        archive.reindex()
        assert archive.store.read_manifest().keys() == ({"autre.txt"} if refused else {name, "autre.txt"})
        assert [p for p in archive.check() if p.severity == "error"] == []
    finally:
        archive.close()


def test_manifest_percent_encodes_lf_cr_and_percent_as_bagit_requires(store: Store) -> None:
    # RFC 8493 §2.1.3: LF, CR and % in a manifest path MUST be percent-encoded.
    entries = {"a\nb.txt": "a" * 64, "c\rd.txt": "b" * 64, "100%.txt": "c" * 64, "x%0Ay.txt": "d" * 64}
    store.write_manifest(entries)
    lines = store.manifest_path.read_text(encoding="utf-8").splitlines()
    assert sorted(lines) == sorted(
        [
            f"{'c' * 64}  100%25.txt",
            f"{'a' * 64}  a%0Ab.txt",
            f"{'b' * 64}  c%0Dd.txt",
            f"{'d' * 64}  x%250Ay.txt",
        ]
    )
    assert store.read_manifest() == entries


def test_read_manifest_skips_malformed_lines(store: Store) -> None:
    store.manifest_path.write_text(
        f"{'a' * 64}  ok.txt\nnot a line\n{'b' * 63}  short.txt\n\n{'C' * 64}  upper.txt\n", encoding="utf-8"
    )
    assert store.read_manifest() == {"ok.txt": "a" * 64, "upper.txt": "c" * 64}


# ---------------------------------------------------------------- safe names

HOSTILE_NAMES = [
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "/",
    "C:\\temp\\Rapport final.pdf",
    "..\\..\\Windows\\win.ini",
    "\\\\serveur\\partage\\note.txt",
    "a\x00b.txt",
    "a\nb\r.txt",
    "\x1b[31mrouge.txt",
    "\u202egnp.txt",  # right-to-left override
    "x" * 300 + ".pdf",
    "é" * 300 + ".md",
    "漢" * 200 + ".txt",
    "CON",
    "con.txt",
    "NUL.tar.gz",
    "LPT1.pdf",
    "com9.md",
    "AUX",
    "...",
    "....",
    ". . .",
    ".",
    "",
    " ",
    "_",
    "-rf.txt",
    "--help.md",
    "~/.ssh/id_rsa",
    ".bashrc",
    "foo:bar.txt",
    'a*?<>|".txt',
    "   espaces   .txt",
    "rapport.pdf.",
    "a/b/../../../c.txt",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_name_is_one_harmless_component_or_a_rejection(tmp_path: Path, name: str) -> None:
    try:
        safe = safe_name(name)
    except RejectedInput as e:
        assert e.reason_code == "bad_name"
        return
    assert safe and safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert all(c.isprintable() for c in safe)
    assert not safe.startswith((".", "-", " ")) and not safe.endswith((" ", "."))
    assert len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert len(safe.encode("utf-8")) <= 255  # the file-system limit is in bytes, not characters
    stem = safe.split(".", 1)[0].lower()
    assert stem not in {
        "con",
        "prn",
        "aux",
        "nul",
        *(f"com{i}" for i in range(1, 10)),
        *(f"lpt{i}" for i in range(1, 10)),
    }, safe
    root = tmp_path / "documents"
    assert (root / safe).resolve().is_relative_to(root.resolve())


@given(st.text(max_size=400))
@example("×.0")  # a replaced first character left a leading dot once
def test_safe_name_never_escapes_whatever_the_name(name: str) -> None:
    try:
        safe = safe_name(name)
    except RejectedInput as e:
        assert e.reason_code == "bad_name"
        return
    assert safe not in ("", ".", "..") and "/" not in safe and "\\" not in safe
    assert all(c.isprintable() for c in safe)
    assert not safe.startswith(".") and len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert safe_name(safe) == safe  # stable: a stored name stays its own safe name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\temp\\Rapport final.pdf", "Rapport final.pdf"),
        ("con.txt", "_con.txt"),
        ("CON", "_CON"),
        ("NUL.tar.gz", "_NUL.tar.gz"),  # Windows: "NUL.txt and NUL.tar.gz are both equivalent to NUL"
        ("foo:bar.txt", "foo_bar.txt"),
        ("Procès-verbal n°3 (copie).pdf", "Procès-verbal n_3 (copie).pdf"),
        ("e\u0301te\u0301.txt", "été.txt"),  # NFC, so one name per visible name
        ("rapport.pdf.", "rapport.pdf"),
    ],
)
def test_safe_name_examples(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize(
    "name", ["x" * 300 + ".pdf", "é" * 300 + ".md", "漢" * 200 + ".txt", "a" * 200 + ".tar.gz"]
)
def test_long_names_keep_their_extension(name: str) -> None:
    safe = safe_name(name)
    assert safe.endswith(name.rsplit(".", 1)[1])
    assert safe.rsplit(".", 1)[1] == name.rsplit(".", 1)[1]


@pytest.mark.parametrize("name", ["..", "...", ". . .", "", " ", "_", "/", "\x00\x01"])
def test_names_with_nothing_usable_are_rejected(name: str) -> None:
    with pytest.raises(RejectedInput) as info:
        safe_name(name)
    assert info.value.reason_code == "bad_name"


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        (None, ""),
        ("", ""),
        ("2024", "2024"),
        ("2024/juin", "2024/juin"),
        ("..", ""),
        ("../..", ""),
        ("../../etc", "etc"),
        ("/abs/path", "abs/path"),
        ("a/../../b", "a/b"),
        ("a\\..\\b", "a/b"),
        ("a//b", "a/b"),
        ("./x", "x"),
        ("CON/aux", "_CON/_aux"),
        (".git", "git"),
    ],
)
def test_safe_folder(folder: str | None, expected: str) -> None:
    assert safe_folder(folder) == expected


@pytest.mark.parametrize(
    "folder", ["..", "../../..", "/etc", "a/../../..", "..\\..", "~", "C:\\Windows", ".ssh"]
)
@pytest.mark.parametrize("name", ["../../x.txt", "/etc/passwd.txt", "..\\y.txt", "CON.txt"])
def test_nothing_resolves_outside_documents(tmp_path: Path, folder: str, name: str) -> None:
    root = tmp_path / "documents"
    try:
        target = root / PurePosixPath(safe_folder(folder), safe_name(name))
    except RejectedInput as e:  # refusing is fine too
        assert e.reason_code == "bad_name"
        return
    assert target.resolve().is_relative_to(root.resolve())
    assert target.resolve() != root.resolve()


@pytest.mark.parametrize(
    "document_id",
    [
        "../secret.txt",
        "/etc/passwd",
        "a/../../secret.txt",
        "",
        ".",
        MANIFEST,
        "a.txt.meta.toml",
        ".hidden.txt",
        "absent.txt",
    ],
)
def test_path_of_refuses_ids_that_are_not_documents(store: Store, document_id: str) -> None:
    (store.root.parent / "secret.txt").write_text("secret")
    write_documents(
        store.root.parent, {"a.txt": TEXT, "a.txt.meta.toml": "", ".hidden.txt": TEXT, MANIFEST: ""}
    )
    with pytest.raises(DocumentNotFound):
        store.path_of(document_id)


def test_path_of_refuses_a_symlink_leading_outside(store: Store) -> None:
    outside = store.root.parent / "outside.txt"
    outside.write_text(TEXT)
    os.symlink(outside, store.root / "lien.txt")
    with pytest.raises(DocumentNotFound):
        store.path_of("lien.txt")


@pytest.mark.parametrize("reserved", [MANIFEST, "bagit.txt", "tagmanifest-sha256.txt"])
def test_adding_a_file_named_like_the_manifest_loses_nothing(tmp_path: Path, reserved: str) -> None:
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    source = tmp_path / "inbox" / reserved
    source.parent.mkdir()
    source.write_text(TEXT, encoding="utf-8")
    archive = Archive(Settings(home=home))
    try:
        report = archive.add([source])
        for outcome in report.outcomes:
            if outcome.status == "added":
                # what is reported as added is a document, stored intact, and findable
                assert outcome.path in archive.store.scan(), outcome
                assert (home / "documents" / outcome.path).read_text(encoding="utf-8") == TEXT
            else:
                assert outcome.status == "rejected", outcome
        assert [p for p in archive.check() if p.severity == "error"] == []
    finally:
        archive.close()


# ---------------------------------------------------------------- put never overwrites


def test_put_stores_bytes_and_creates_folders(store: Store) -> None:
    store.put("2024/juin/note.txt", b"contenu")
    assert (store.root / "2024/juin/note.txt").read_bytes() == b"contenu"
    assert store.scan() == ["2024/juin/note.txt"]
    assert not [p for p in (store.root / "2024/juin").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("second", [b"autre contenu", b"contenu"])
def test_put_never_overwrites(store: Store, second: bytes) -> None:
    store.put("note.txt", b"contenu")
    before = os.stat(store.root / "note.txt")
    with pytest.raises(RejectedInput) as info:
        store.put("note.txt", second)
    assert info.value.reason_code == "name_taken"
    assert (store.root / "note.txt").read_bytes() == b"contenu"
    assert os.stat(store.root / "note.txt").st_ino == before.st_ino
    assert sorted(p.name for p in store.root.iterdir()) == ["note.txt"]  # no temporary file left behind


def test_put_accepts_the_longest_safe_name(store: Store) -> None:
    for name in ("x" * 300 + ".pdf", "é" * 300 + ".md"):
        document_id = safe_name(name)
        store.put(document_id, b"%PDF")
        assert (store.root / document_id).read_bytes() == b"%PDF"


def test_delete_removes_the_file_and_its_sidecar_only(store: Store) -> None:
    write_documents(
        store.root.parent, {"a.txt": TEXT, "a.txt.meta.toml": "", "b.txt": TEXT, "b.meta.toml": ""}
    )
    store.delete("a.txt")
    assert sorted(p.name for p in store.root.iterdir()) == ["b.meta.toml", "b.txt"]
    with pytest.raises(DocumentNotFound):
        store.delete("a.txt")


def test_sidecar_of_prefers_the_full_name(store: Store) -> None:
    write_documents(store.root.parent, {"a.txt": TEXT, "a.txt.meta.toml": "", "a.meta.toml": ""})
    assert store.sidecar_of("a.txt") == store.root / "a.txt.meta.toml"
    (store.root / "a.txt.meta.toml").unlink()
    assert store.sidecar_of("a.txt") == store.root / "a.meta.toml"
    (store.root / "a.meta.toml").unlink()
    assert store.sidecar_of("a.txt") is None


def test_printable_names_hold_no_character_that_is_refused_or_escaped() -> None:
    """`unnameable` and `printable` skip their look-up per character for a printable name: none of its
    characters is then a control, a format mark (the direction marks are), a surrogate or a separator."""
    categories = {unicodedata.category(c) for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable()}
    assert categories.isdisjoint({"Cc", "Cf", "Cs", "Zl", "Zp"})
    assert not "rapport\u202etxt.exe".isprintable() and unnameable("rapport\u202etxt.exe")
    assert printable("a\u2028b") == "a\\u2028b"
