"""The extraction cache: what the readers made of each original, kept beside the index as derived data.

An entry holds one `Extracted` (clean blocks, metadata, format, encoding), or one of the refusals that
depend only on the bytes (`CACHED_REJECTIONS`), keyed by the file's SHA-256, its format and the
readers' version (`reader_version`: our own cleaning's number, `extract.VERSION`, and the versions of
the third-party libraries, so that upgrading pypdf or trafilatura reads those files again). A rebuild
that changes only the taxonomy or the passage sizes reads entries instead of starting a reader per file.

Never a source of truth: a missing entry is extracted again; an entry that is corrupt, truncated, too
large, of another layout or keyed for another file is ignored, removed and extracted again, never an
error for the user. The directory may be written by someone else, so nothing read from it is trusted:
entries are msgpack (msgspec, a schema validated on decode: no code runs, unlike pickle), deflated
with a bounded inflate, behind a SHA-256 of the whole payload; the key is stored inside and compared.

`index/extracted/<first two hex digits>/<sha256>.<format>`: 256 folders, a few hundred entries each at
100,000 files. Writes are a hidden temporary file renamed into place, so concurrent writers of one key
(the ingest pool, a `check` beside a reindex) each leave a whole entry and the last rename wins. They are
not fsynced, unlike the index's own files: a power cut may leave an entry empty or torn, and the checksum
turns that into a miss. Writing is best effort: a full disk or read-only storage only costs caching.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import re
import sys
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from . import extract
from .documents import open_regular
from .errors import ReaderUnavailable, RejectedInput
from .models import Block, Extracted

DIRECTORY = "extracted"
"""The cache's folder inside index/."""

CACHED_REJECTIONS = frozenset(
    {"no_text_layer", "encrypted", "empty", "bad_metadata", "binary", "undecodable"}
)
"""Refusals that are facts about the bytes, kept so that a scanned PDF is not parsed by every reindex
(a file refused is prepared again each time, having no record in the index). Never kept: `too_complex`
(the CPU budget, spent on a busy machine), `reader_*` (ours), `too_large` (a setting), and `unreadable`,
which also stands for a reader's unexpected error and so may be a fault of ours."""

MAX_ENTRY_BYTES = 256 * 1024 * 1024
"""Largest entry written or read, inflated. The text of a 50 MB file fits many times over; a larger
entry is not written (that file is read each time) and one found is garbage (an inflate bomb)."""

NOT_AN_ENTRY = "not a cache entry"
"""What `survey` says of a file in the cache's folders that no writer of the cache names so."""

_MAGIC = b"archive-extracted/1\n"
_DIGEST = 32
_NAME = re.compile(r"([0-9a-f]{64})\.([a-z]{1,8})")
_TEMPORARY = ".part"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Key:
    """What an entry is for: the file's SHA-256, its format (txt, md, html, pdf), the extractor's version."""

    sha: str
    format: str
    version: str


@dataclass(frozen=True)
class Survey:
    """What the cache holds, for `archive check`."""

    entries: int
    bytes: int
    corrupt: tuple[tuple[str, str], ...]  # (path inside the archive home, why): every read ignores them


class _Entry(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    sha: str
    format: str
    version: str
    blocks: list[tuple[str, bool]]
    metadata: dict[str, Any]  # values tagged by `_tag`
    encoding: str | None
    rejection: tuple[str, str] | None  # (code, reason) of a cached refusal


class _Corrupt(Exception):
    """An entry that is not one the cache wrote for its key (ignored and removed), or a value the cache
    cannot write so that it reads back the same (not kept)."""


class ExtractedCache:
    """The entries under `root` (index/extracted/); `enabled=False` reads every file, as before the cache."""

    def __init__(self, root: Path, enabled: bool = True, version: Callable[[str], str] | None = None) -> None:
        self.root = root
        self.enabled = enabled
        self.version = version or reader_version

    def get_or_read(
        self, name: str, data: bytes, sha: str | None, fmt: str, read: Callable[[], Extracted]
    ) -> Extracted:
        """The kept reading of `data` (SHA-256 `sha` if known) as `fmt` by the current readers, or `read()`'s,
        kept for next time; RejectedInput as `read` raises it, or as it was kept."""
        if not self.enabled:
            return read()
        key = Key(sha or hashlib.sha256(data).hexdigest(), fmt, self.version(fmt))
        found = self.get(key)
        if isinstance(found, Extracted):
            return found
        if found is not None:
            raise RejectedInput(name, *found)
        try:
            extracted = read()
        except RejectedInput as e:
            if e.reason_code in CACHED_REJECTIONS and not isinstance(e, ReaderUnavailable):
                self.put(key, (e.reason_code, e.reason))
            raise
        self.put(key, extracted)
        return extracted

    def get(self, key: Key) -> Extracted | tuple[str, str] | None:
        """The entry of `key`: an extraction, a refusal (code, reason), or None (absent, stale, corrupt)."""
        path = self.path(key)
        try:
            with open_regular(path) as f:
                inode = os.fstat(f.fileno()).st_ino
                raw = f.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None  # absent (the usual miss), or not a regular file: replaced by `put`
        try:
            entry = _load(raw)
            if (entry.sha, entry.format) != (key.sha, key.format):
                raise _Corrupt("holds the entry of another file")
            if entry.version != key.version:
                return None  # another extractor's reading: `put` replaces it
            return _value(entry)
        except _Corrupt:
            _remove(path, inode)
            return None

    def put(self, key: Key, value: Extracted | tuple[str, str]) -> bool:
        """Keep `value` for `key`, atomically; False when it cannot be kept (too large, not storable, I/O)."""
        if not self.enabled:
            return False
        try:
            raw = _dump(key, value)
        except _Corrupt:
            return False  # metadata that would not come back the same (a YAML set, a huge integer)
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}")
        tmp = tmp.with_name(tmp.name + _TEMPORARY)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(os.open(tmp, _CREATE, 0o644), "wb") as f:
                f.write(raw)
            os.replace(tmp, path)
        except OSError:  # full disk, read-only storage, a folder in the way: only caching is lost
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        return True

    def path(self, key: Key) -> Path:
        """Where the entry of `key` lives; ValueError for a key that is not a SHA-256 and a format."""
        if not _NAME.fullmatch(f"{key.sha}.{key.format}"):
            raise ValueError(f"not a cache key: {key.sha!r}, {key.format!r}")
        return self.root / key.sha[:2] / f"{key.sha}.{key.format}"

    def prune(self, live_shas: Iterable[str]) -> int:
        """Remove the entries of files no longer in documents/ (and anything that is not an entry): how
        many. Called at the end of a reindex, under the write lock; a concurrent writer's temporary file
        removed here only costs it that entry."""
        live = set(live_shas)
        removed = 0
        for path, match in self._walk():
            if match is None or match[1] not in live:
                removed += _remove(path, None)
        return removed

    def survey(self, verify: bool = True) -> Survey:
        """How many entries, how many bytes, and (`verify`: each entry read and checked) which are corrupt."""
        entries = size = 0
        corrupt: list[tuple[str, str]] = []
        for path, match in self._walk():
            if match is None:
                if not path.name.endswith(_TEMPORARY):  # a writer's, or a killed writer's: `prune` removes it
                    corrupt.append((self._shown(path), NOT_AN_ENTRY))
                continue
            try:
                entries, size = entries + 1, size + path.lstat().st_size
                if verify:
                    self._verify(path, match)
            except _Corrupt as e:
                corrupt.append((self._shown(path), str(e)))
            except OSError as e:
                corrupt.append((self._shown(path), f"cannot be read: {e.strerror or e}"))
        return Survey(entries, size, tuple(corrupt))

    @staticmethod
    def _verify(path: Path, match: re.Match[str]) -> None:
        """_Corrupt (or OSError) unless `path` holds an entry the cache wrote for the file its name says."""
        with open_regular(path) as f:
            entry = _load(f.read(MAX_ENTRY_BYTES + 1))
        if (entry.sha, entry.format) != (match[1], match[2]):
            raise _Corrupt("holds the entry of another file")
        _value(entry)

    def _walk(self) -> Iterator[tuple[Path, re.Match[str] | None]]:
        """Every file of the cache's shard folders, with its name's match (None: not an entry's name)."""
        try:
            shards = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError:
            return
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                yield Path(shard.path), None
                continue
            with contextlib.suppress(OSError), os.scandir(shard.path) as files:
                for file in files:
                    match = _NAME.fullmatch(file.name)
                    if match is not None and (
                        match[1][:2] != shard.name or not file.is_file(follow_symlinks=False)
                    ):
                        match = None
                    yield Path(file.path), match

    def _shown(self, path: Path) -> str:
        """`path` as `archive check` names it: inside the archive home's index/."""
        return path.relative_to(self.root.parent.parent).as_posix()


# ---------------------------------------------------------------- the version of the readers


READER_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "txt": ("charset-normalizer",),
    "md": ("charset-normalizer", "python-frontmatter", "PyYAML", "markdown-it-py"),
    # trafilatura and what shapes its output: parsing, cleaning, boilerplate, dates, URLs, encodings
    "html": (
        *("trafilatura", "lxml", "lxml_html_clean", "justext", "htmldate", "dateparser", "python-dateutil"),
        *("courlan", "charset-normalizer", "markdown-it-py"),
    ),
    # pypdf decrypts AES only with one of these installed (without: refused as encrypted, and kept so)
    "pdf": ("pypdf", "cryptography", "pycryptodome"),
}
"""The installed distributions each format's reader uses (tests/test_extracted.py checks that every
module `extract._LIBRARIES` imports belongs to one)."""


@functools.cache
def reader_version(fmt: str) -> str:
    """What reads `fmt`, as the cache keys it: `extract.VERSION`, Python and Unicode, each library's version.

    The reader worker is started from this process's interpreter and environment, so these are its own.
    """
    from importlib import metadata

    def installed(distribution: str) -> str:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "absent"

    ours = [f"archive-extract {extract.VERSION}", f"python {sys.version_info[0]}.{sys.version_info[1]}"]
    ours.append(f"unicode {unicodedata.unidata_version}")
    return "; ".join(ours + [f"{d} {installed(d)}" for d in READER_DISTRIBUTIONS.get(fmt, ())])


# ---------------------------------------------------------------- the entry's bytes


def _dump(key: Key, value: Extracted | tuple[str, str]) -> bytes:
    """The bytes of an entry: magic, SHA-256 of the payload, deflated msgpack. _Corrupt if not storable."""
    if isinstance(value, Extracted):
        metadata = {k: _tag(v) for k, v in value.metadata.items()}
        if {k: _untag(v) for k, v in metadata.items()} != value.metadata:
            raise _Corrupt("metadata that does not survive the round trip")
        blocks = [(b.text, b.heading) for b in value.blocks]
        entry = _Entry(key.sha, key.format, key.version, blocks, metadata, value.encoding, None)
    else:
        entry = _Entry(key.sha, key.format, key.version, [], {}, None, value)
    try:
        packed = msgspec.msgpack.encode(entry)
    except (TypeError, ValueError, OverflowError) as e:  # a lone surrogate, an integer past 64 bits
        raise _Corrupt(f"not storable: {type(e).__name__}") from None
    if len(packed) > MAX_ENTRY_BYTES:
        raise _Corrupt("too large to keep")
    payload = zlib.compress(packed, 1)  # half the size for 0.5 ms per 40 KB: a reader needs 5-30 ms
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def _load(raw: bytes) -> _Entry:
    """The entry in `raw`; _Corrupt saying why it is not one."""
    if not raw.startswith(_MAGIC):
        raise _Corrupt("not in this cache's layout" if raw else "empty: a write cut short")
    digest, payload = raw[len(_MAGIC) : len(_MAGIC) + _DIGEST], raw[len(_MAGIC) + _DIGEST :]
    if hashlib.sha256(payload).digest() != digest:
        raise _Corrupt("checksum mismatch: truncated or altered")
    inflate = zlib.decompressobj()
    try:
        packed = inflate.decompress(payload, MAX_ENTRY_BYTES)
    except zlib.error:
        raise _Corrupt("not deflated data") from None
    if inflate.unconsumed_tail or not inflate.eof:
        raise _Corrupt("inflates past the size limit or is cut short")
    try:
        return msgspec.msgpack.decode(packed, type=_Entry)
    except msgspec.DecodeError as e:  # ValidationError included: the wrong shape
        raise _Corrupt(f"not a cache entry: {e}") from None


def _value(entry: _Entry) -> Extracted | tuple[str, str]:
    """What an entry holds; _Corrupt for a value the cache never writes."""
    if entry.rejection is not None:
        if entry.rejection[0] not in CACHED_REJECTIONS:
            raise _Corrupt(f"a refusal that is never kept: {entry.rejection[0]}")
        return entry.rejection
    metadata = {k: _untag(v) for k, v in entry.metadata.items()}
    return Extracted(tuple(Block(t, h) for t, h in entry.blocks), metadata, entry.format, entry.encoding)


# Metadata values are what the readers give: strings, and from YAML front matter numbers, booleans,
# lists, mappings and dates. Mappings and dates are tagged so that a date comes back a date.


def _tag(value: object) -> object:
    """A metadata value as msgpack keeps it; _Corrupt for a type the cache does not keep."""
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"map": {k: _tag(v) for k, v in value.items()}}
    raise _Corrupt(f"metadata of type {type(value).__name__}")


def _untag(value: object) -> object:
    """The metadata value `_tag` stored; _Corrupt for anything `_tag` never writes."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list):
        return [_untag(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((tag, inner),) = value.items()
        try:
            if tag == "datetime" and isinstance(inner, str):
                return dt.datetime.fromisoformat(inner)
            if tag == "date" and isinstance(inner, str):
                return dt.date.fromisoformat(inner)
        except ValueError:
            raise _Corrupt("a date that is not one") from None
        if tag == "map" and isinstance(inner, dict) and all(isinstance(k, str) for k in inner):
            return {k: _untag(v) for k, v in inner.items()}
    raise _Corrupt(f"metadata of type {type(value).__name__}")


def _remove(path: Path, inode: int | None) -> int:
    """Unlink `path` (only if still the file `inode` names, when given): 1 if removed, else 0."""
    try:
        if inode is not None and path.lstat().st_ino != inode:
            return 0  # replaced by a writer since it was read: that entry is new
        path.unlink()
    except OSError:
        return 0
    return 1
