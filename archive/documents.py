"""The `documents/` folder: the archive's source of truth and its fixity manifest (names: `names.py`).

The manifest is BagIt's `manifest-sha256.txt` (`<sha256>  <path>` per line, paths relative to
`documents/`). Files are written to a hidden temporary name and renamed into place, so a reader never
sees half a file, and nothing is ever overwritten.

Symbolic links are never followed: scanning lists them as refused, reading refuses them, and writing
refuses any folder on the way that is one, so nothing outside `documents/` is indexed, served or written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from .errors import DocumentNotFound, ReaderUnavailable, RejectedInput
from .metadata import MAX_SIDECAR_BYTES, SIDECAR_SUFFIX, sidecar_for
from .names import BAD_NAME, is_document, unnameable
from .outcomes import Rejection, printable

MANIFEST = "manifest-sha256.txt"
SYMLINK = Rejection(
    "symlink", "symbolic link: never indexed (the archive does not follow links; put the file itself there)"
)


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of some bytes, as the manifest writes it."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a regular file, never followed through a symbolic link (OSError ELOOP then)."""
    digest = hashlib.sha256()
    with open_regular(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_regular(path: Path, limit: int) -> bytes:
    """A regular file's bytes, never through a symbolic link; RejectedInput past `limit` bytes.

    Opened once and checked on the open file, so a file swapped for a link or grown after the scan is
    not read through or past the limit."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RejectedInput(
            path.name, "too_large", f"file too large (more than {limit / 1e6:.0f} MB, the limit)"
        )
    return data


def read_sidecar(sidecar: Path | None) -> bytes | None:
    """A sidecar's bytes (None for no sidecar); OSError, or RejectedInput when it is too large."""
    return read_regular(sidecar, MAX_SIDECAR_BYTES) if sidecar else None


def open_regular(path: Path) -> io.BufferedReader:
    """A regular file opened for reading, never through a symbolic link (ELOOP) and never blocking on
    a FIFO or device swapped in after the scan (refused as not a regular file)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", path.name)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


class Store:
    """The files of `documents/` and their manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def manifest_path(self) -> Path:
        """The fixity manifest's file."""
        return self.root / MANIFEST

    def scan(self) -> list[str]:
        """Every document id under the root, sorted: regular files only, never through a link."""
        return self.survey().ids

    def survey(self) -> Survey:
        """Every document id, sorted, every path the walk refused, with why, and the sidecars' names.

        Symbolic links (to files or folders, inside or outside documents/) are refused and never
        followed; so are files whose path holds control characters, which no URL or log line can carry.
        Refused paths are raw (they may hold those characters): show them with `printable`. Hidden
        files and folders are left out. One `scandir` per folder, names as strings: no `stat` per file.
        """
        found = Survey([], {}, set())
        folders = [""] if self.root.is_dir() else []
        while folders:
            folder = folders.pop()
            try:
                with os.scandir(os.path.join(self.root, folder)) as entries:
                    listed = list(entries)
            except OSError:  # removed or unreadable meanwhile: nothing to read there
                continue
            for entry in listed:
                if not entry.name.startswith("."):
                    _sort(entry, folder + entry.name, found, folders)
        found.ids.sort()
        return Survey(found.ids, dict(sorted(found.refused.items())), found.sidecars)

    def path_of(self, document_id: str) -> Path:
        """The file of a document id; DocumentNotFound for ids that are unsafe, links or name no document."""
        rel = PurePosixPath(document_id)
        if (
            rel.is_absolute()
            or ".." in rel.parts
            or not rel.parts
            or not is_document(rel)
            or unnameable(document_id)
        ):
            raise DocumentNotFound(document_id)
        path = self.root / rel
        if self._linked(rel) or not path.is_file() or not path.resolve().is_relative_to(self.root.resolve()):
            raise DocumentNotFound(document_id)
        return path

    def _linked(self, rel: PurePosixPath) -> bool:
        """Whether any existing component of documents/REL is a symbolic link."""
        path = self.root
        for part in rel.parts:
            path = path / part
            try:
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    return True
            except (FileNotFoundError, NotADirectoryError):
                return False
        return False

    def sidecar_of(self, document_id: str) -> Path | None:
        """A document's sidecar; a sidecar that is a symbolic link is never read (check reports it)."""
        sidecar = sidecar_for(self.root / document_id)
        return None if sidecar is None or sidecar.is_symlink() else sidecar

    def read(self, document_id: str, max_bytes: int) -> tuple[bytes, bytes | None]:
        """A document's bytes and its sidecar's; RejectedInput when it cannot be read as a regular file
        (gone, or swapped for a link or a FIFO since the scan): one file refused, not the whole write."""
        sidecar = self.sidecar_of(document_id)
        data = self.read_file(document_id, max_bytes)
        try:
            return data, read_sidecar(sidecar)
        except OSError as e:
            raise _refusal(document_id, e) from None

    def read_file(self, document_id: str, max_bytes: int) -> bytes:
        """A document's bytes alone (a reindex reads the sidecar first), refused as `read` refuses."""
        path = self.root / document_id
        try:
            size = path.lstat().st_size
            if size > max_bytes:
                raise RejectedInput(
                    document_id,
                    "too_large",
                    f"file too large ({size / 1e6:.1f} MB, the limit is {max_bytes / 1e6:.0f} MB)",
                )
            return read_regular(path, max_bytes)
        except OSError as e:
            raise _refusal(document_id, e) from None

    def target(self, document_id: str) -> Path:
        """Where a new document would be stored; RejectedInput when the way there is not plain folders.

        A folder on the way that is a symbolic link (`documents/evil -> /tmp`) is refused, so is one that
        is a file, and so is a folder where the file would go. Messages name paths inside documents/ only.
        """
        rel = PurePosixPath(document_id)
        path = self.root
        for depth, part in enumerate(rel.parts, start=1):
            path = path / part
            shown = printable("/".join(rel.parts[:depth]))
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                break
            if stat.S_ISLNK(mode):
                raise RejectedInput(
                    document_id,
                    "symlink",
                    f"{shown} is a symbolic link: the archive never writes through links",
                )
            if depth < len(rel.parts) and not stat.S_ISDIR(mode):
                raise RejectedInput(document_id, "name_taken", f"{shown} is a file, not a folder")
            if depth == len(rel.parts) and not stat.S_ISREG(mode):
                raise RejectedInput(document_id, "name_taken", f"{shown} is already taken by a folder")
        target = self.root / rel
        if not target.resolve().is_relative_to(self.root.resolve()):
            raise RejectedInput(document_id, "symlink", f"{printable(document_id)} leads outside documents/")
        return target

    def read_manifest(self) -> dict[str, str]:
        """The manifest's entries (document id -> SHA-256); empty when there is none yet."""
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
        """Replace the manifest with `entries`, atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{digest}  {_escape(path)}\n" for path, digest in sorted(entries.items()))
        _atomic_write(self.manifest_path, text.encode("utf-8"))

    def put(self, document_id: str, data: bytes) -> None:
        """Store new bytes under a new id; never replaces an existing file, never writes through a link.

        RejectedInput (`name_taken`, `symlink`) when the name is taken or the way there is not plain
        folders; nothing is written then. Folders are created and opened one at a time relative to the
        one before, without following links, so a folder swapped for a link meanwhile is refused too.
        """
        self.stage(document_id, data).commit()

    def stage(self, document_id: str, data: bytes) -> Staged:
        """`put`'s first half: the bytes written and synced under a hidden name in their folder, to be named
        by `Staged.commit` (or dropped by `Staged.discard`). The slow half, the disk's sync: an add stages
        its files in threads while they are being prepared. Refusals as `put`'s."""
        rel = PurePosixPath(document_id)
        self.target(document_id)  # the clear refusals; the opens below close the race
        self.root.mkdir(parents=True, exist_ok=True)
        where = self.root
        folder = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for depth, part in enumerate(rel.parts[:-1], start=1):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=folder)
                try:
                    inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    shown = printable("/".join(rel.parts[:depth]))
                    raise RejectedInput(
                        document_id,
                        "symlink",
                        f"{shown} is not a plain folder: the archive never writes there",
                    ) from None
                os.close(folder)
                folder, where = inner, where / part
            return Staged(folder, where, document_id, _write_hidden(folder, rel.name, data))
        except BaseException as e:
            os.close(folder)
            _full_name(e, where)
            raise

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
        """Remove a document's file and its sidecar; DocumentNotFound when there is no such document."""
        path = self.path_of(document_id)
        sidecar = self.sidecar_of(document_id)
        path.unlink()
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)


class Staged:
    """A new file's bytes synced under a hidden name in their folder (`Store.stage`), held open till named."""

    def __init__(self, folder: int, where: Path, document_id: str, hidden: str) -> None:
        self._folder, self._where, self.document_id, self._hidden = folder, where, document_id, hidden

    def commit(self) -> None:
        """Name the file (never over another: RejectedInput `name_taken`); the hidden file goes either way."""
        name, fd = PurePosixPath(self.document_id).name, self._folder
        try:
            os.link(self._hidden, name, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
        except FileExistsError:
            raise RejectedInput(
                self.document_id,
                "name_taken",
                f"another file was stored as {printable(self.document_id)} meanwhile: "
                "rename yours, or remove the stored one first",
            ) from None
        except OSError as e:
            _full_name(e, self._where)
            raise
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the hidden file and let the folder go (again: nothing)."""
        if self._folder < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._hidden, dir_fd=self._folder)
        os.close(self._folder)
        self._folder = -1


def _write_hidden(folder: int, name: str, data: bytes) -> str:
    """`data` written and synced to a new hidden file beside `name` in `folder`: the hidden name."""
    tmp = f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=folder)  # a leftover of ours, or a link someone placed there
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=folder)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=folder)
        raise
    return tmp


def _full_name(e: BaseException, where: Path) -> None:
    """An OSError's file named relative to a folder descriptor: say which file, in full."""
    if isinstance(e, OSError) and isinstance(e.filename, str) and not os.path.isabs(e.filename):
        e.filename = str(where / e.filename)


class Survey(NamedTuple):
    """What a walk of documents/ found (`Store.survey`)."""

    ids: list[str]
    """Every document id, sorted."""
    refused: dict[str, Rejection]
    """Paths the walk refused (raw), with why."""
    sidecars: set[str]
    """Every sidecar's path, whatever it is (a link too): a document none of whose sidecar names is
    here has no sidecar, without asking the file system again."""


def _sort(entry: os.DirEntry[str], rel: str, found: Survey, folders: list[str]) -> None:
    """File what the walk found at `rel` (not hidden): a document, refused (with why), a folder to
    walk, a sidecar, or nothing of ours."""
    try:
        if entry.is_symlink():
            found.refused[rel] = SYMLINK  # sidecars and the manifest too: none is read
        elif entry.is_dir(follow_symlinks=False):
            folders.append(rel + "/")
        elif rel.endswith(SIDECAR_SUFFIX):
            found.sidecars.add(rel)
        elif entry.is_file(follow_symlinks=False) and is_document(rel):
            if unnameable(rel):
                found.refused[rel] = BAD_NAME
            else:
                found.ids.append(rel)
    except FileNotFoundError:  # removed while we looked
        return


def _refusal(document_id: str, e: OSError) -> RejectedInput:
    """Why a document could not be read: the file's fault (gone, a link), or ours (`ReaderUnavailable`)."""
    if e.errno == errno.ELOOP:
        return RejectedInput(document_id, "symlink", "a symbolic link: never followed")
    if e.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
        return RejectedInput(document_id, "unreadable", f"cannot read: {e.strerror or e}")
    # out of descriptors, I/O error: ours, not the file's; an indexed document is never dropped
    return ReaderUnavailable(document_id, "reader_unavailable", f"cannot read: {e.strerror}")


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
