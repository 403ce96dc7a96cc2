"""Cursors: where the next page of a search starts, signed, and valid on one committed state of the index.

`page=N` ranks the first N pages again on every request, on whatever the index holds by then: a reindex
between two pages shifts the hits. A cursor instead names the last hit returned, by its place in the
order (the score and docnum of a relevance ranking, the date rank, position and docnum of a date order),
on the committed state of the index it was made on (generation and Whoosh commit); the next page is the
hits that come after it, so a client walking all pages gets each passage once.

To clients a cursor is opaque: URL-safe base64 of a 16-byte HMAC-SHA256 tag and a small JSON payload
(that state, a hash of the search, the position and how many hits came before). The tag's key is
random, kept beside the index in `index/cursor.key`, so a cursor cannot be forged or altered, nor
reused for another search; a genuine cursor whose state is no longer live is told apart from a broken
one (`CursorExpired` rather than `UsageError`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import types
from dataclasses import dataclass
from pathlib import Path

from .errors import CursorExpired, UsageError
from .request import SearchRequest

KEY_FILE = "cursor.key"
"""The signing key's file in the index folder (32 random bytes, created on first use)."""

MAX_LENGTH = 1000
"""Longest cursor read: ours are about 200 characters, and nothing longer is decoded."""

_TAG = 16  # bytes of the HMAC-SHA256 tag kept: 128 bits
_VERSION = 1

State = tuple[str, int]
"""A committed state of the index: the generation's name and its Whoosh commit number."""


@dataclass(frozen=True)
class Position:
    """Where a page starts: just after `after` (a sort key, see `Searcher.search`), `offset` hits in."""

    after: tuple[float, ...]
    offset: int


class Cursors:
    """Makes and reads the cursors of one archive's index. Thread-safe."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def make(self, state: State, request: SearchRequest, after: tuple[float, ...], offset: int) -> str:
        """The cursor of the page that follows the hit at `after`, `offset` hits into the results."""
        payload = json.dumps(
            {"v": _VERSION, "g": state[0], "c": state[1], "s": search_hash(request), "a": after, "n": offset},
            separators=(",", ":"),
            allow_nan=False,
        ).encode("ascii")
        return base64.urlsafe_b64encode(self._tag(payload) + payload).decode("ascii").rstrip("=")

    def read(self, cursor: str, state: State, request: SearchRequest) -> Position:
        """The position a cursor names; UsageError when it is not one of ours or belongs to another
        search, CursorExpired when the state of the index it was made on is no longer the live one."""
        if len(cursor) > MAX_LENGTH:
            raise _broken(f"is {len(cursor)} characters long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise _broken("is not URL-safe base64") from None
        tag, payload = raw[:_TAG], raw[_TAG:]
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise _broken("was not made by this archive, or was altered")
        try:
            data = json.loads(payload)
            generation, commit = data["g"], data["c"]
            after = tuple(data["a"])
            offset = data["n"]
            matches = data["s"] == search_hash(request)
        except (ValueError, KeyError, TypeError):
            raise _broken("cannot be read") from None
        if not (isinstance(generation, str) and _numbers((commit, offset), int) and offset >= 0):
            raise _broken("cannot be read")
        if not 0 < len(after) <= 3 or not _numbers(after, int | float):
            raise _broken("cannot be read")
        if not matches:
            raise UsageError(
                "this cursor belongs to another search: keep q, the filters, from, to and sort as they were "
                "on the first page",
                "cursor",
            )
        if (generation, commit) != state:
            raise CursorExpired(generation, commit)
        return Position(after, offset)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._signing_key(), payload, hashlib.sha256).digest()[:_TAG]

    def _signing_key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = _load_key(self.index_dir)
            return self._key


def search_hash(request: SearchRequest) -> str:
    """What identifies a search for its cursors: query, filters (in any order), dates and sort; not the
    page size, which may change from one page to the next."""
    filters = {name: sorted(set(values)) for name, values in sorted(request.filters.items()) if values}
    text = json.dumps([request.query, filters, request.date_from, request.date_to, request.sort])
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]  # ensure_ascii: surrogates escaped


def _numbers(values: tuple[object, ...], kind: type | types.UnionType) -> bool:
    return all(isinstance(v, kind) and not isinstance(v, bool) for v in values)


def _broken(why: str) -> UsageError:
    return UsageError(f"cursor {why}: use the next_cursor of a response, unchanged", "cursor")


def _load_key(index_dir: Path) -> bytes:
    """The archive's signing key, created beside the index the first time (atomically: the first of
    two processes creating it at once wins). Unreadable or unwritable storage gets a key for this
    process only: its cursors then last as long as it does."""
    path = index_dir / KEY_FILE
    try:
        try:
            key = path.read_bytes()
            if len(key) >= 32:
                return key
        except FileNotFoundError:
            pass
        tmp = index_dir / f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"  # clean_stale removes it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process made meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    return secrets.token_bytes(32)
