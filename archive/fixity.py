"""`documents/` against its fixity manifest: every file hashed once, for a reindex to plan or a check to report.

Both ask the same questions of the same walk (which files are altered, unrecorded or missing, and which
hold the same content as an earlier one), so both read the answers from one `Diff`.

A reindex may pass `known`, a cache of the hashes it computed before (`index/fixity-cache.tsv`, derived
data: rebuilt when missing or unreadable). A file is not read again when its size, modification and
change times (nanoseconds), inode and device are those recorded with its hash. The rule that keeps this
sound:
- a hash is recorded only for a file whose modification and change times are more than `RACY_SECONDS`
  older than the moment it was read, so that any later write, even one of the same size within the file
  system's timestamp granularity, moves one of them; a file written more recently is read again next time;
- the change time cannot be set back (restoring the modification time with `touch -d` or `os.utime` moves
  it), and a file replaced by a rename has another inode;
- a recorded hash that disagrees with the manifest is never believed: the file is read again;
- what no system call shows (bit rot on the disk, writes to the raw device) only a full read finds:
  `archive check` never uses the cache and reads every byte of every file.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .documents import Store, sha256_file
from .names import BAD_NAME
from .outcomes import Rejection

CACHE = "fixity-cache.tsv"
"""The cache of hashes under index/ (see the module's docstring)."""

RACY_SECONDS = 2.0
"""How much older than the moment it is hashed a file's times must be for its hash to be recorded: the
coarsest timestamp granularity in use (FAT's 2 s; ext4 and XFS keep nanoseconds, ext3 and NFS seconds)."""

_HEADER = "archive fixity cache 1\n"
Stamp = tuple[int, int, int, int, int]
"""What a file's hash is recorded with: size, mtime_ns, ctime_ns, inode, device."""


@dataclass(frozen=True)
class Diff:
    """What `documents/` holds now, read once, beside what its manifest recorded."""

    ids: list[str]
    """Every document id, sorted (links and unnameable files are never among them)."""
    refused: dict[str, Rejection]
    """Paths the walk refused (raw: show them with `printable`), with why."""
    manifest: dict[str, str]
    """The manifest as recorded: document id -> SHA-256."""
    shas: dict[str, str]
    """The SHA-256 of every document that could be read, in id order."""
    unreadable: dict[str, OSError]
    """Documents that could not be read (gone or swapped for a link since the walk, EMFILE, EIO)."""
    duplicates: dict[str, str]
    """Documents with the same content as an earlier one (in id order) -> that first document."""
    sidecars: set[str]
    """Every sidecar the walk saw (`Survey.sidecars`)."""

    def altered(self, document_id: str) -> bool:
        """Whether this document was read and differs from what the manifest recorded for it."""
        sha = self.shas.get(document_id)
        return sha is not None and self.manifest.get(document_id, sha) != sha

    def all_altered(self) -> list[str]:
        """Every altered document, in id order."""
        return [i for i in self.shas if self.altered(i)]

    def missing(self) -> list[str]:
        """Documents the manifest lists that are gone from documents/, sorted.

        A file refused for its name is there, and said so under its own name, so it is not missing."""
        present = set(self.ids)
        return sorted(i for i in self.manifest if i not in present and self.refused.get(i) != BAD_NAME)


def diff(store: Store, known: Path | None = None) -> Diff:
    """Walk documents/, hash every document once and set it beside the manifest; with `known`, the
    cache of hashes, files unchanged since they were hashed are not read again (see above)."""
    ids, refused, sidecars = store.survey()  # links and names with control characters are never read
    manifest = store.read_manifest()
    cache = _load(known) if known else {}
    recorded: dict[str, tuple[Stamp, str]] = {}
    shas: dict[str, str] = {}
    unreadable: dict[str, OSError] = {}
    first: dict[str, str] = {}  # sha256 -> the first document id with that content
    duplicates: dict[str, str] = {}
    for document_id in ids:
        try:
            sha = _hash(store.root, document_id, manifest.get(document_id), cache, recorded, known)
        except OSError as e:
            unreadable[document_id] = e
            continue
        shas[document_id] = sha
        if sha in first:
            duplicates[document_id] = first[sha]
        else:
            first[sha] = document_id
    if known and recorded != cache:
        _save(known, recorded)
    return Diff(ids, refused, manifest, shas, unreadable, duplicates, sidecars)


def _hash(
    root: Path,
    document_id: str,
    expected: str | None,
    cache: dict[str, tuple[Stamp, str]],
    recorded: dict[str, tuple[Stamp, str]],
    known: Path | None,
) -> str:
    """A document's SHA-256: the recorded one while its stamp holds and it agrees with the manifest,
    else read (and recorded in `recorded` when its times are old enough)."""
    if known is None:
        return sha256_file(root / document_id)
    path = os.path.join(root, document_id)
    stamp = _stamp(os.stat(path, follow_symlinks=False))
    hit = cache.get(document_id)
    if hit is not None and hit[0] == stamp and hit[1] == (expected or hit[1]):
        recorded[document_id] = hit
        return hit[1]
    started = time.time_ns()
    sha = sha256_file(root / document_id)
    after = _stamp(os.stat(path, follow_symlinks=False))
    if after == stamp and max(stamp[1], stamp[2]) < started - int(RACY_SECONDS * 1e9):
        recorded[document_id] = (stamp, sha)
    return sha


def _stamp(st: os.stat_result) -> Stamp:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def _load(path: Path) -> dict[str, tuple[Stamp, str]]:
    """The recorded hashes; none when the cache is missing or not ours (it is rebuilt)."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.readline() != _HEADER:
                return {}
            entries: dict[str, tuple[Stamp, str]] = {}
            for line in f:
                sha, size, mtime, ctime, ino, dev, document_id = line.rstrip("\n").split("\t", 6)
                entries[document_id] = ((int(size), int(mtime), int(ctime), int(ino), int(dev)), sha)
            return entries
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def _save(path: Path, entries: dict[str, tuple[Stamp, str]]) -> None:
    """Replace the cache (best effort: it is derived data, and a write that cannot record it goes on)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    lines = "".join(
        f"{sha}\t{s[0]}\t{s[1]}\t{s[2]}\t{s[3]}\t{s[4]}\t{i}\n" for i, (s, sha) in entries.items()
    )
    with contextlib.suppress(OSError):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(_HEADER + lines, encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
