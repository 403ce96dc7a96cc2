"""The `documents/` folder: the archive's source of truth, its file names and its fixity manifest.

The manifest is BagIt's `manifest-sha256.txt` (`<sha256>  <path>` per line, paths relative to
`documents/`). Files are written to a hidden temporary name and renamed into place, so a reader never
sees half a file, and nothing is ever overwritten.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path, PurePosixPath

from .errors import DocumentNotFound, RejectedInput
from .metadata import SIDECAR_SUFFIX, sidecar_for

MANIFEST = "manifest-sha256.txt"
_RESERVED = {"manifest-sha256.txt", "tagmanifest-sha256.txt", "bagit.txt", "bag-info.txt"}
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r"[^\w.\-()' ,+&@€’]")
MAX_NAME_BYTES = 200
"""Longest stored file name in UTF-8 bytes: file systems allow 255, temporary names add a few."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_document(relative: PurePosixPath) -> bool:
    """Whether a path under documents/ is a document (not the manifest, a sidecar or a hidden file)."""
    if any(part.startswith(".") for part in relative.parts):
        return False
    return relative.as_posix() not in _RESERVED and not relative.name.endswith(SIDECAR_SUFFIX)


def safe_name(name: str) -> str:
    """A file name reduced to one safe path component, or RejectedInput when nothing sensible is left.

    >>> safe_name("../../etc/passwd"), safe_name("C:\\\\temp\\\\Rapport final.pdf"), safe_name("CON.txt")
    ('passwd', 'Rapport final.pdf', '_CON.txt')
    >>> safe_name("manifest-sha256.txt"), safe_name("NUL.tar.gz")
    ('_manifest-sha256.txt', '_NUL.tar.gz')
    """
    base = re.split(r"[/\\\\]", name)[-1]
    base = unicodedata.normalize("NFC", "".join(c for c in base if c.isprintable()))
    base = _UNSAFE.sub("_", base).strip(" .")
    base = base.lstrip("-_ .") or base  # "×.0" -> "_.0" must not become ".0"
    if not base or set(base) <= {"_", "."}:
        raise RejectedInput(name[:80] or "(no name)", "bad_name", "no usable file name")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:
        keep = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - 1
        base = f"{_cut(stem, keep)}.{suffix}" if suffix and keep > 20 else _cut(base, MAX_NAME_BYTES)
    if base.split(".", 1)[0].lower() in _WINDOWS_RESERVED or base.lower() in _RESERVED:
        base = "_" + base  # NUL.tar.gz is NUL on Windows; manifest-sha256.txt is the archive's own
    return base


def _cut(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `limit` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def safe_folder(folder: str | None) -> str:
    """A relative folder inside documents/ made of safe components ('' for the top level)."""
    if not folder:
        return ""
    parts = [p for p in re.split(r"[/\\\\]+", folder) if p and p not in (".", "..")]
    try:
        return "/".join(safe_name(p) for p in parts)
    except RejectedInput:
        raise RejectedInput(folder[:80], "bad_name", "no usable folder name") from None


class Store:
    """The files of `documents/` and their manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def scan(self) -> list[str]:
        """Every document id under the root, sorted."""
        if not self.root.is_dir():
            return []
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in filenames:
                rel = PurePosixPath(Path(dirpath, filename).relative_to(self.root).as_posix())
                if is_document(rel) and Path(dirpath, filename).is_file():
                    out.append(rel.as_posix())
        return sorted(out)

    def path_of(self, document_id: str) -> Path:
        """The file of a document id; DocumentNotFound for ids that are unsafe or name no document."""
        rel = PurePosixPath(document_id)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or not is_document(rel):
            raise DocumentNotFound(document_id)
        path = self.root / rel
        if not path.is_file() or not path.resolve().is_relative_to(self.root.resolve()):
            raise DocumentNotFound(document_id)
        return path

    def sidecar_of(self, document_id: str) -> Path | None:
        return sidecar_for(self.root / document_id)

    def read_manifest(self) -> dict[str, str]:
        entries: dict[str, str] = {}
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return entries
        for line in text.split("\n"):
            digest, sep, path = line.partition("  ")
            if sep and len(digest) == 64:
                entries[_unescape(path.rstrip("\r"))] = digest.lower()
        return entries

    def write_manifest(self, entries: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{digest}  {_escape(path)}\n" for path, digest in sorted(entries.items()))
        _atomic_write(self.manifest_path, text.encode("utf-8"))

    def put(self, document_id: str, data: bytes) -> None:
        """Store new bytes under a new id; never replaces an existing file."""
        path = self.root / document_id
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the name was taken meanwhile: nothing is overwritten
        finally:
            tmp.unlink(missing_ok=True)

    def leftovers(self) -> list[str]:
        """Temporary files a killed writer left in documents/ (hidden `.NAME.PID.tmp` files)."""
        if not self.root.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob(".*.tmp") if p.is_file())

    def clean(self) -> list[str]:
        """Remove the leftovers of killed writers; called by writers holding the write lock."""
        removed = self.leftovers()
        for rel in removed:
            (self.root / rel).unlink(missing_ok=True)
        return removed

    def delete(self, document_id: str) -> None:
        path = self.path_of(document_id)
        sidecar = self.sidecar_of(document_id)
        path.unlink()
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)


def _escape(path: str) -> str:
    """BagIt's encoding of manifest paths: `%`, CR and LF percent-encoded, so one line stays one file."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _unescape(path: str) -> str:
    return (
        path.replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%25", "%")
    )


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
