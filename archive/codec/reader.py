"""The read side of whoosh-reloaded 2.7.5's codec: posting lists, positions, lengths and columns from its files.

Whoosh's matchers read a posting list block by block through a file wrapper and decode each posting in
Python; the functions here read a term's whole list, a column or the field lengths of a segment in one
call and decode them into numpy arrays. They know Whoosh's private attributes (`_terms`, `_postfile`,
`_perdoc`, a column reader's `_dbfile`/`_basepos`/`_count`) and its whoosh3 layouts, and nothing else in
the tree does. `tests/test_codec_reader.py` compares what they read with what Whoosh's own readers read,
and `tests/test_postings.py` the answers built on them: run both before moving the pinned version.
"""

from __future__ import annotations

import bisect
import io
import os
import pickle
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import columns
from whoosh.codec import whoosh3
from whoosh.filedb.compound import SubFile
from whoosh.filedb.filestore import FileStorage
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from ..idsets import EMPTY, Ids
from .positions import POSITION

BM25_B = 0.75
"""Whoosh's default BM25F `B` (`whoosh.scoring.BM25F().B`): our scores must equal Whoosh's own."""

BM25_K1 = 1.2
"""Whoosh's default BM25F `K1` (`whoosh.scoring.BM25F().K1`); a test checks both against Whoosh."""

_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


class UnknownLayout(Exception):
    """A posting list in a layout this module does not read (not whoosh3's)."""


def deleted_mask(reader: Any, n: int) -> npt.NDArray[np.bool_]:
    """For each of a reader's `n` docnums (all segments), whether it is deleted."""
    deleted = np.zeros(n, dtype=np.bool_)
    for leaf, offset in reader.leaf_readers():
        gone = sorted(getattr(leaf, "deleted_docs_set", ()))  # a SegmentReader's; others have none
        if gone:
            deleted[np.asarray(gone, dtype=np.int64) + offset] = True
    return deleted


def read_postings(
    leaf: Any, fieldname: str, text: str, values: list[bytes] | None = None
) -> tuple[Ids, npt.NDArray[np.float64]]:
    """Every posting of a term in one segment (deleted documents included): docnums and weights, and
    each posting's encoded value (positions) appended to `values` when given; none for a term the
    segment lacks (one lookup of its table, where asking first whether it holds the term costs two)."""
    ids: list[Any] = []
    weights: list[Any] = []
    for raw_ids, raw_weights, raw_values in _blocks(leaf, fieldname, text):
        block = np.cumsum(np.asarray(raw_ids, dtype=np.int64))  # docnums are stored as gaps
        ids.append(block)
        if raw_weights is None:
            weights.append(np.ones(block.size))
        elif isinstance(raw_weights, float):
            weights.append(np.full(block.size, raw_weights))
        else:
            weights.append(np.asarray(raw_weights, dtype=np.float64))
        if values is not None:
            values.extend(raw_values)
    if not ids:
        return EMPTY, np.empty(0)
    return np.concatenate(ids), np.concatenate(weights)


def _blocks(leaf: Any, fieldname: str, text: str) -> Iterator[tuple[Any, Any, Any]]:
    """The (docnum gaps, weights, values) of each block of a term's posting list in one segment.

    Whoosh's matcher reads a block's header through its file wrapper a few bytes at a time; the whole
    posting list is read here in one call and its blocks decoded from memory. The layout is whoosh3's
    (`W3PostingsWriter._write_block`): a 4-byte tag, then per block a signed length (negative for the
    last), a pickled info tuple (count, last id, max weight, compression, min/max length) and the data.
    """
    terms = getattr(leaf, "_terms", None)  # an EmptyReader (an empty index) has none
    if terms is None or fieldname not in leaf.schema:
        return
    found = _term_row(terms._tindex, terms._keycoder(fieldname, leaf.schema[fieldname].to_bytes(text)))
    if found is None:
        return
    terminfo = whoosh3.W3TermInfo.from_bytes(found)
    if terminfo.is_inlined():  # never written by our codec settings; read as Whoosh would
        inline_ids, inline_weights, inline_values = terminfo.inlined_postings()
        gaps = np.diff(np.asarray(inline_ids, dtype=np.int64), prepend=0)
        yield gaps, tuple(inline_weights), tuple(inline_values)
        return
    offset, length = terminfo.extent()
    if isinstance(length, tuple):  # whoosh3's W3TermInfo.from_bytes leaves the length in its unpacked tuple
        (length,) = length
    raw = _reads(terms._postfile)(offset, length)
    if raw[:4] != whoosh3.WHOOSH3_HEADER_MAGIC:
        raise UnknownLayout(f"posting list of {fieldname}:{text!r} has no whoosh3 header")
    stream = io.BytesIO(raw)
    position = 4
    while position < len(raw):
        (size,) = unpack_int(raw[position : position + 4])
        stream.seek(position + 4)
        info = pickle.load(stream)
        end = position + 4 + abs(size)
        data = raw[stream.tell() : end]
        yield pickle.loads(zlib.decompress(data) if info[3] else data)
        if size < 0:
            return
        position = end


_LENGTHS = struct.Struct("!ii")  # whoosh.filedb.filetables: an item's key and value lengths
_POINTER = struct.Struct("!Iq")  # a hash slot: the key's hash and the item's position (0: empty slot)
_AHEAD = 64  # bytes read past an item's key at once: a term's row (W3TermInfo) is shorter


def _term_row(table: Any, key: bytes) -> bytes | None:
    """A term's row in a segment's term table (Whoosh's `HashReader`), None if the segment lacks it.

    `HashReader.ranges_for_key` probes the same slots; each of its reads goes through three file
    wrappers, two of them in Python. Here a probe is one positional read of the segment file, and the
    item (lengths, key, row) one more: a cold term costs one lookup per segment, and a build writes one
    segment per `indexer.SEGMENT_PASSAGES`. `tests/test_codec_reader.py` compares the rows with Whoosh's."""
    keyhash = table.hashfn(key)
    start, slots = table.tables[keyhash & 255]
    if not slots:
        return None
    read = _reads(table.dbfile)
    slot = (keyhash >> 8) % slots
    for _ in range(slots):
        slothash, item = _POINTER.unpack(read(start + slot * _POINTER.size, _POINTER.size))
        if not item:
            return None
        if slothash == keyhash:
            head = read(item, _LENGTHS.size + len(key) + _AHEAD)
            keylen, datalen = _LENGTHS.unpack(head[: _LENGTHS.size])
            at = _LENGTHS.size + keylen
            if keylen == len(key) and head[_LENGTHS.size : at] == key:
                row = head[at : at + datalen]
                return row if len(row) == datalen else read(item + at, datalen)
        slot = (slot + 1) % slots
    return None


def _reads(structfile: Any) -> Callable[[int, int], bytes]:
    """`structfile.get(position, length)` as one positional read (os.pread) of the file holding it,
    when it is a part of a segment's compound file, or a file, opened without mmap (`open_index`), as it
    is here; otherwise its own `get` (a mapped file's reads move no file position either). Positional
    reads leave the file's position alone, so threads sharing a reader need no lock for them: every read
    the codec makes of a generation's primary reader goes through here."""
    found: Callable[[int, int], bytes] | None = getattr(structfile, "_archive_reads", None)
    if found is None:
        part = getattr(structfile, "file", None)
        if isinstance(part, SubFile) and isinstance(part._file, io.BufferedReader):
            found = Positional(part._file, part._offset)
        elif isinstance(part, io.BufferedReader):  # a file of its own (a segment not in a compound file)
            found = Positional(part, 0)
        else:
            found = structfile.get
        structfile._archive_reads = found
    return found


class Positional:
    """Reads of a part of a file at `offset`, each one `os.pread`; ValueError once the file is closed,
    as Whoosh's own reads raise (never a read of another file given the same descriptor)."""

    __slots__ = ("_fd", "_file", "_offset")

    def __init__(self, file: io.BufferedReader, offset: int) -> None:
        self._file, self._fd, self._offset = file, file.fileno(), offset

    def __call__(self, position: int, length: int) -> bytes:
        """`length` bytes at `position` of the part (fewer at the end of the file)."""
        if self._file.closed:
            raise ValueError("read of closed file")
        return os.pread(self._fd, length, self._offset + position)


class StoredFields:
    """Each docnum's stored fields, as `reader.stored_fields(docnum)` gives them, over every segment.

    Whoosh's road to them goes through the multi-reader, the segment reader, its per-document reader, three
    column readers and three file wrappers; here it is a bisection for the segment, one positional read of
    the segment file (`_reads`), inflating and unpickling. Each segment's offsets are read by Whoosh's
    own column reader, once, under `lock` (its reads move a shared file position); the reads after
    need no lock. A segment in another layout is read through Whoosh. `tests/test_codec_reader.py`
    compares every docnum's fields with Whoosh's."""

    def __init__(self, reader: Any, lock: threading.Lock) -> None:
        self._reader = reader
        self._lock = lock
        self._leaves = [leaf for leaf, _ in reader.leaf_readers()]
        self._starts = [offset for _, offset in reader.leaf_readers()]
        self._parts: list[Any] = [None] * len(self._leaves)
        self._names = frozenset(reader.schema.names())

    def __call__(self, docnum: int) -> dict[str, Any]:
        """The stored fields of `docnum` (none: an empty dict)."""
        i = bisect.bisect_right(self._starts, docnum) - 1
        part: Any = self._parts[i] if i >= 0 else False
        if part is None:
            part = self._part(i)
        if part is False:  # read through Whoosh, whose reads move the reader's shared file position
            with self._lock:
                found: dict[str, Any] = self._reader.stored_fields(docnum)
            return found
        offsets, lengths, base, read, inflate = part
        local = docnum - self._starts[i]
        length = lengths[local]
        value = inflate(read(base + offsets[local], length)) if length else b""
        if not value:
            return {}
        return {name: v for name, v in pickle.loads(value).items() if name in self._names}

    def _part(self, i: int) -> Any:
        with self._lock:
            if self._parts[i] is None:
                perdoc = getattr(self._leaves[i], "_perdoc", None)
                column = (
                    perdoc._cached_reader("_stored", whoosh3.STORED_COLUMN) if perdoc is not None else None
                )
                child = getattr(column, "_child", None)  # the CompressedBytesColumn's reader
                if isinstance(child, columns.CompressedBytesColumn.Reader):
                    read = _reads(child._dbfile)
                    self._parts[i] = (child._offsets, child._lengths, child._basepos, read, child._decompress)
                else:
                    self._parts[i] = False
            return self._parts[i]


def position_lists(values: list[bytes]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Postings' values (`positions.RawPositions`) decoded at once: all their positions in one array,
    and where each posting's positions start in it (then the end)."""
    starts = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=starts[1:])
    return np.frombuffer(b"".join(values), dtype=POSITION), starts // POSITION.itemsize


def segment_ids(reader: Any) -> list[str]:
    """The ids of a reader's segments in docnum order: a commit that keeps the previous one's as its first
    ones (no merge) keeps every docnum of theirs."""
    return [leaf.segment().segment_id() for leaf, _ in reader.leaf_readers()]


def position_column(reader: Any, n: int) -> npt.NDArray[np.int32]:
    """Each docnum's value in the sortable `position` column (0 for document records), all segments."""
    return numeric_column(reader, n, "position", ">i4").astype(np.int32)


def numeric_column(reader: Any, n: int, name: str, layout: str) -> npt.NDArray[Any]:
    """Each docnum's value in a 4-byte numeric column (`layout`: ">i4" or ">u4"; 0 where none), all segments."""
    parts = []
    for leaf, _ in reader.leaf_readers():
        count = leaf.doc_count_all()
        part = np.zeros(count, dtype=layout)
        if count and leaf.has_column(name):
            column = leaf._perdoc.column_reader(name, leaf.schema[name].column_type)
            stored = min(column._count, count)
            part[:stored] = np.frombuffer(_reads(column._dbfile)(column._basepos, stored * 4), dtype=layout)
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros(n, dtype=layout)


def segment_lengths(leaf: Any, fieldname: str) -> npt.NDArray[np.float64]:
    """The length of a field in each document of one segment (see `field_lengths`)."""
    return field_lengths(leaf._perdoc, fieldname, leaf.doc_count_all())


def field_lengths(perdoc: Any, fieldname: str, n: int) -> npt.NDArray[np.float64]:
    """The length of a field in each of a segment's `n` documents, from Whoosh's per-document reader
    (one byte each, lossy above 108; 0 where the field keeps none). Read in one call: Whoosh's own
    `doc_field_length` asks the file per document."""
    if not n:
        return np.zeros(0)
    reader = perdoc._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
    if reader is None:
        return np.zeros(n)
    count = min(reader._count, n)
    raw = np.frombuffer(_reads(reader._dbfile)(reader._basepos, count), dtype=np.uint8)
    out = np.zeros(n, dtype=np.float64)
    out[:count] = _BYTE_TO_LENGTH[raw]
    return out


def open_index(path: Path) -> Any:
    """Open one index generation for searching, with plain reads rather than mmap.

    Mapped segment files count in the server's memory once per searcher: 1.2 GB instead of 0.12 GB at
    200,000 passages, for the same speed.
    """
    return FileStorage(str(path), supports_mmap=False).open_index()
