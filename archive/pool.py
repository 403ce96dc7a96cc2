"""The postings of a segment being written, held in arrays, and written as Whoosh's posting blocks.

Whoosh's writer keeps every posting as a tuple in a pool that it spills and merge-sorts, and its codec
pickles each posting's positions, then each block of 128 postings, one Python call at a time. Here
a text field's words are appended to flat arrays as documents come (term number, position, and per
document a count); at the end numpy sorts them into posting lists and encodes every posting's
positions and every block at once. Python is left with a few calls per term (its blocks, the term table).

What lands on disk is read by Whoosh's own readers: the same files, term table, block layout and
posting values (`Positions.encode`'s bytes). One thing differs inside a block's pickle: its byte
strings use pickle protocol 3's opcode, where protocol 2 spells every value as a call to
`codecs.encode`; `pickle.loads`, which is all Whoosh reads a block with, gives back the same tuple.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import zlib
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import formats
from whoosh.codec import whoosh3
from whoosh.filedb import filetables
from whoosh.util.numeric import byte_to_length

from .analysis import Analyzed

Bytes = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]


def deflate(data: bytes, level: int) -> bytes:
    """`zlib.compress(data, level)` with a 4 KB window and a small hash table (memLevel 4).

    Posting blocks and stored fields are at most a few KB: zlib's defaults (32 KB window, memLevel 8) set
    up about 256 KB of state on every call, which costs several times the compression itself. The
    output is an ordinary zlib stream that `zlib.decompress` (Whoosh's readers) inflates as any other.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, 12, 4)
    return compressor.compress(data) + compressor.flush()


COMPRESS_FROM = 96
"""Blocks whose pickle is shorter than this many bytes are stored uncompressed (zlib's header and
dictionary-less start make small blocks bigger, and each call costs more than the block)."""


class Pool:
    """Every posting of one segment being written, per field; Whoosh's pool interface (`add_posting`)."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema
        self._fields: dict[str, _Tokens | _Postings] = {}

    def add_text(self, fieldname: str, value: Analyzed, docnum: int) -> int:
        """Index an analysed text in a positions field; returns the field's length (words kept)."""
        field = self._field(fieldname)
        assert isinstance(field, _Tokens)
        return field.add_text(value, docnum)

    def takes_text(self, fieldname: str) -> bool:
        """Whether `add_text` can index this field (a positions field with Whoosh's encoding)."""
        return type(self._schema[fieldname].format) is formats.Positions

    def add_posting(
        self, fieldname: str, text: bytes, docnum: int, weight: float, value: bytes | None
    ) -> None:
        self._field(fieldname).add_posting(text, docnum, weight, value)

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        self.add_posting(*item)

    def cleanup(self) -> None:
        self._fields.clear()

    def write(self, fieldwriter: Any, lengths: Callable[[str], npt.NDArray[np.float64]]) -> None:
        """Write every posting list, in (field, term) order, into the codec's files; `lengths(name)` is
        the field's length in each document of the segment."""
        for name in sorted(self._fields):
            postings = self._fields.pop(name).postings()
            if postings is None:
                continue
            field = self._schema[name]
            table = lengths(name).astype(np.int64) if field.scorable else None
            _write_field(fieldwriter, name, field, postings, table)
        self._fields.clear()

    def _field(self, fieldname: str) -> _Tokens | _Postings:
        field = self._fields.get(fieldname)
        if field is None:
            fmt = self._schema[fieldname].format
            field = _Tokens(fmt) if type(fmt) is formats.Positions else _Postings(fmt)
            self._fields[fieldname] = field
        return field


class _Sorted:
    """A field's posting lists in term order: postings `starts[i]:starts[i + 1]` belong to `terms[i]`."""

    def __init__(
        self,
        terms: list[bytes],
        starts: Ints,
        docnums: Ints,
        weights: npt.NDArray[np.float32],
        values: Callable[[int, int], tuple[Bytes, Ints]] | None,
    ) -> None:
        self.terms = terms
        self.starts = starts
        self.docnums = docnums
        self.weights = weights
        self.values = values  # postings a:b's values as pickled byte strings: buffer and offsets from 0


class _Tokens:
    """A positions field: term number and position of each word kept, and per document a count."""

    def __init__(self, fmt: Any) -> None:
        self._boost = float(fmt.field_boost)
        self._format = fmt
        self._ids: dict[str, int] = {}
        self._tids = array("I")
        self._positions = array("I")
        self._docnums = array("I")
        self._counts = array("I")

    def add_text(self, value: Analyzed, docnum: int) -> int:
        found = value.memo.get(self)  # a title or heading is shared by all the passages under it
        if found is None:
            found = value.memo[self] = self._encode(value)
        tids, positions = found
        if tids:
            self._tids.extend(tids)
            self._positions.extend(positions)
            self._docnums.append(docnum)
            self._counts.append(len(tids))
        return len(tids)

    def _encode(self, value: Analyzed) -> tuple[array[int], array[int]]:
        ids = self._ids
        setdefault = ids.setdefault
        kept = value.kept()
        return array("I", [setdefault(k, len(ids)) for k in kept[0]]), array("I", kept[1])

    def add_posting(self, text: bytes, docnum: int, weight: float, value: bytes | None) -> None:
        """A posting from another segment (a merge): its positions, decoded, become words again."""
        positions = self._format.decode_positions(value)
        if not positions:
            return
        tid = self._ids.setdefault(text.decode("utf-8"), len(self._ids))
        self._tids.extend([tid] * len(positions))
        self._positions.extend(positions)
        self._docnums.append(docnum)
        self._counts.append(len(positions))

    def postings(self) -> _Sorted | None:
        n = len(self._tids)
        if not n:
            return None
        keys = list(self._ids)
        rank, terms = _ranks(keys)
        docs = np.repeat(_u32(self._docnums), _u32(self._counts)).astype(np.uint64)
        order_key = (rank[_u32(self._tids)] << np.uint64(32)) | docs
        order = np.argsort(order_key, kind="stable")  # words of one document stay in position order
        order_key = order_key[order]
        positions = _u32(self._positions).astype(np.int64)[order]
        first = np.ones(n, dtype=bool)
        np.not_equal(order_key[1:], order_key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        frequency = np.diff(np.append(starts, n))
        posting_keys = order_key[starts]
        del order, order_key
        deltas = positions.copy()
        deltas[1:] -= positions[:-1]
        deltas[starts] = positions[starts]
        bounds = np.append(starts, n)

        def values(a: int, b: int) -> tuple[Bytes, Ints]:
            lo, hi = bounds[a], bounds[b]
            return _encoded_positions(deltas[lo:hi], starts[a:b] - lo, frequency[a:b])

        return _Sorted(
            *_term_bounds(posting_keys >> np.uint64(32), terms),
            (posting_keys & np.uint64(0xFFFFFFFF)).astype(np.int64),
            (frequency * self._boost).astype(np.float32),
            values,
        )


class _Postings:
    """Any other field: one entry per posting, as Whoosh's pool receives them."""

    def __init__(self, fmt: Any) -> None:
        self._size = fmt.fixed_value_size()
        self._ids: dict[bytes, int] = {}
        self._tids = array("I")
        self._docnums = array("I")
        self._weights = array("f")
        self._values: list[bytes] = []

    def add_posting(self, text: bytes, docnum: int, weight: float, value: bytes | None) -> None:
        self._tids.append(self._ids.setdefault(text, len(self._ids)))
        self._docnums.append(docnum)
        self._weights.append(weight)
        if self._size != 0:
            self._values.append(value or b"")

    def postings(self) -> _Sorted | None:
        if not self._tids:
            return None
        rank, terms = _ranks(list(self._ids))
        ranks = rank[_u32(self._tids)]
        docs = _u32(self._docnums).astype(np.int64)
        order = np.lexsort((docs, ranks))
        values = None
        if self._size != 0:
            ordered = [self._values[i] for i in order.tolist()]
            # Whoosh keeps only non-empty values, and joins fixed-size ones into one string per block
            data, offsets = _pieces(
                [_byte_string(v) if v else b"" for v in ordered] if self._size is None else ordered
            )

            def values(a: int, b: int) -> tuple[Bytes, Ints]:
                return data[offsets[a] : offsets[b]], offsets[a : b + 1] - offsets[a]

        return _Sorted(
            *_term_bounds(ranks[order], terms),
            docs[order],
            np.frombuffer(self._weights, dtype=np.float32)[order],
            values,
        )


def _u32(a: array[int]) -> npt.NDArray[np.uint32]:
    return np.frombuffer(a, dtype=np.uint32) if len(a) else np.zeros(0, dtype=np.uint32)


def _ranks(keys: list[Any]) -> tuple[npt.NDArray[np.uint64], list[Any]]:
    """Each term number's rank in term order (UTF-8 bytes sort as code points do), and the sorted terms."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.uint64)
    rank[order] = np.arange(len(keys), dtype=np.uint64)
    return rank, [keys[i] for i in order]


def _term_bounds(posting_ranks: npt.NDArray[Any], terms: list[Any]) -> tuple[list[bytes], Ints]:
    new = np.ones(len(posting_ranks), dtype=bool)
    np.not_equal(posting_ranks[1:], posting_ranks[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    texts = [terms[r] for r in posting_ranks[starts].tolist()]
    encoded = [t.encode("utf-8") if isinstance(t, str) else t for t in texts]
    return encoded, np.append(starts, len(posting_ranks)).astype(np.int64)


# -- pickles, written with numpy ---------------------------------------------------------------------


def _ragged(rows: npt.NDArray[np.uint8], lengths: Ints) -> tuple[Bytes, Ints]:
    """The first `lengths[i]` bytes of each row, concatenated, and where each row's bytes start."""
    keep = np.arange(rows.shape[1])[None, :] < lengths[:, None]
    return rows[keep], _offsets(lengths)


def _offsets(lengths: npt.NDArray[Any]) -> Ints:
    """Where each of consecutive items of these lengths starts, and the end."""
    return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))


def _fixed(data: Bytes, width: int) -> tuple[Bytes, Ints]:
    return data.reshape(-1), np.arange(0, data.size + 1, width, dtype=np.int64)


def _same(token: bytes, count: int) -> tuple[Bytes, Ints]:
    return _fixed(np.tile(np.frombuffer(token, dtype=np.uint8), count), len(token))


def _where(mask: npt.NDArray[np.bool_], token: bytes) -> tuple[Bytes, Ints]:
    """`token` for the items where `mask` holds, nothing for the others."""
    return np.tile(np.frombuffer(token, dtype=np.uint8), int(mask.sum())), _offsets(mask * len(token))


def _ints(values: Ints) -> tuple[Bytes, Ints]:
    """Each int (0 <= v < 2**31) as pickle writes it: BININT1, BININT2 or BININT with its bytes."""
    size = np.where(values < 256, 2, np.where(values < 65536, 3, 5)).astype(np.int64)
    rows = np.empty((values.size, 5), dtype=np.uint8)
    rows[:, 0] = np.where(size == 2, ord("K"), np.where(size == 3, ord("M"), ord("J")))
    rows[:, 1:] = values.astype("<u4").view(np.uint8).reshape(-1, 4)
    return _ragged(rows, size)


def _floats(values: npt.NDArray[np.floating[Any]]) -> tuple[Bytes, Ints]:
    """Each float as pickle's BINFLOAT: `G` and 8 big-endian bytes."""
    rows = np.empty((values.size, 9), dtype=np.uint8)
    rows[:, 0] = ord("G")
    rows[:, 1:] = values.astype(">f8").view(np.uint8).reshape(-1, 8)
    return _fixed(rows, 9)


def _string_heads(lengths: Ints) -> tuple[Bytes, Ints]:
    """The opcode and length before each byte string: SHORT_BINBYTES below 256 bytes, else BINBYTES."""
    short = lengths < 256
    rows = np.empty((lengths.size, 5), dtype=np.uint8)
    rows[:, 0] = np.where(short, ord("C"), ord("B"))
    rows[:, 1:] = lengths.astype("<u4").view(np.uint8).reshape(-1, 4)
    return _ragged(rows, np.where(short, 2, 5).astype(np.int64))


def _join(count: int, parts: list[tuple[Bytes, Ints]]) -> tuple[Bytes, Ints]:
    """Item i of the result is item i of each part, in order: every part has `count` items."""
    sizes = [np.diff(offsets) for _, offsets in parts]
    total = np.sum(sizes, axis=0) if sizes else np.zeros(count, dtype=np.int64)
    out_offsets = _offsets(total)
    out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
    base = out_offsets[:-1].copy()
    for (data, offsets), size in zip(parts, sizes, strict=True):
        if data.size:
            out[_spread(base - offsets[:-1], size, data.size)] = data
        base += size
    return out, out_offsets


def _spread(shift: Ints, size: Ints, total: int) -> Ints:
    """Index j of a ragged buffer moved by the shift of the item it belongs to."""
    index = np.repeat(shift, size)
    index += np.arange(total, dtype=np.int64)
    return index


def _pieces(strings: list[bytes]) -> tuple[Bytes, Ints]:
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    return np.frombuffer(b"".join(strings), dtype=np.uint8), _offsets(lengths)


def _byte_string(value: bytes) -> bytes:
    size = len(value)
    return (b"C" + bytes((size,)) if size < 256 else b"B" + struct.pack("<I", size)) + value


_LIST = b"\x80\x02]q\x00"  # protocol 2, an empty list kept in memo slot 0


def _encoded_positions(deltas: Ints, starts: Ints, frequency: Ints) -> tuple[Bytes, Ints]:
    """Each posting's `Positions.encode(positions)` (a count, then the pickled list of gaps), as the
    pickled byte string that holds it in a block."""
    count = starts.size
    big = frequency > 1000  # pickle appends long lists in batches of 1000: left to pickle itself
    if big.any():
        return _encoded_positions_slowly(deltas, starts)
    many = frequency > 1
    int_bytes, int_offsets = _ints(deltas)
    ints = (int_bytes, int_offsets[np.append(starts, deltas.size)])  # grouped by posting
    counts = frequency.astype(">u4").view(np.uint8).reshape(-1, 4)
    body = [
        _fixed(counts, 4),
        _same(_LIST, count),
        _where(many, b"("),
        ints,
        _fixed(
            np.where(many[:, None], np.frombuffer(b"e.", np.uint8), np.frombuffer(b"a.", np.uint8)).astype(
                np.uint8
            ),
            2,
        ),
    ]
    lengths = np.sum([np.diff(o) for _, o in body], axis=0).astype(np.int64)
    return _join(count, [_string_heads(lengths), *body])


def _encoded_positions_slowly(deltas: Ints, starts: Ints) -> tuple[Bytes, Ints]:
    encode = formats.Positions().encode
    bounds = np.append(starts, deltas.size).tolist()
    return _pieces(
        [
            _byte_string(encode(np.cumsum(deltas[a:b]).tolist()))  # a posting's gaps start from 0
            for a, b in itertools.pairwise(bounds)
        ]
    )


# -- blocks and terms ---------------------------------------------------------------------------------

_HEAD = whoosh3.WHOOSH3_HEADER_MAGIC
_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)


def _length_bytes(lengths: Ints) -> Ints:
    """`whoosh.util.numeric.length_to_byte` of each length."""
    return np.where(lengths >= 106374, 255, np.minimum(np.searchsorted(_BYTE_LENGTHS, lengths), 255))


CHUNK = 1 << 16
"""Postings encoded at once: numpy's working arrays stay a few tens of MB, whatever the segment's size."""


def _write_field(fieldwriter: Any, name: str, field: Any, p: _Sorted, lengths: Ints | None) -> None:
    fieldwriter.start_field(name, field)
    total = int(p.starts[-1])
    cuts = np.searchsorted(p.starts, np.arange(CHUNK, total, CHUNK), side="right") - 1
    bounds = sorted({0, len(p.terms), *cuts.tolist()})
    for t0, t1 in itertools.pairwise(bounds):
        if t1 > t0:
            _write_terms(fieldwriter, field, p, t0, t1, lengths)
    fieldwriter.finish_field()


def _write_terms(
    fieldwriter: Any, field: Any, whole: _Sorted, t0: int, t1: int, lengths: Ints | None
) -> None:
    """Terms t0:t1 of a field: their blocks into the postings file, their rows into the term table."""
    a, b = int(whole.starts[t0]), int(whole.starts[t1])
    values = whole.values
    p = _Sorted(
        whole.terms[t0:t1],
        whole.starts[t0 : t1 + 1] - a,
        whole.docnums[a:b],
        whole.weights[a:b],
        None if values is None else (lambda x, y: values(a + x, a + y)),
    )
    limit = fieldwriter._postwriter._blocklimit
    level = fieldwriter._postwriter._compression
    fixed = field.format.fixed_value_size()
    per_term = np.diff(p.starts)
    # blocks: each term's postings cut every `limit`
    blocks_per_term = (per_term + limit - 1) // limit
    term_of_block = np.repeat(np.arange(len(p.terms)), blocks_per_term)
    first_block = _offsets(blocks_per_term)
    block_start = (
        p.starts[term_of_block] + (np.arange(term_of_block.size) - first_block[term_of_block]) * limit
    )
    block_end = np.minimum(block_start + limit, p.starts[term_of_block + 1])
    nblocks = block_start.size

    # docnums as gaps, restarting from 0 in every block
    gaps = p.docnums.copy()
    gaps[1:] -= p.docnums[:-1]
    gaps[block_start] = p.docnums[block_start]
    id_bytes, id_offsets = _ints(gaps)

    weights64 = p.weights.astype(np.float64)
    wmax = np.maximum.reduceat(weights64, block_start)
    wmin = np.minimum.reduceat(weights64, block_start)
    ones = (wmin == 1.0) & (wmax == 1.0)
    single = (wmin == wmax) & ~ones
    listed = ~(ones | single)
    float_bytes, float_offsets = _floats(weights64)
    weight_parts = [
        _where(ones, b"N"),
        _sub(
            float_bytes, float_offsets, np.where(single, block_start, 0), np.where(single, block_start + 1, 0)
        ),
        _where(listed, b"("),
        _sub(float_bytes, float_offsets, np.where(listed, block_start, 0), np.where(listed, block_end, 0)),
        _where(listed, b"t"),
    ]
    if fixed == 0:
        value_parts = [_same(b"N", nblocks)]
    else:
        assert p.values is not None
        vbytes, voffsets = p.values(0, len(p.docnums))
        if fixed is None:
            value_parts = [
                _same(b"(", nblocks),
                _sub(vbytes, voffsets, block_start, block_end),
                _same(b"t", nblocks),
            ]
        else:
            joined = _sub(vbytes, voffsets, block_start, block_end)
            value_parts = [_string_heads(np.diff(joined[1])), joined]
    data, data_offsets = _join(
        nblocks,
        [
            _same(b"\x80\x03(", nblocks),
            _sub(id_bytes, id_offsets, block_start, block_end),
            _same(b"t", nblocks),
            *weight_parts,
            *value_parts,
            _same(b"\x87.", nblocks),
        ],
    )
    compressed = (np.diff(data_offsets) >= COMPRESS_FROM) & (level > 0)

    if lengths is not None:
        block_lengths = lengths[p.docnums]
        minlength = np.minimum.reduceat(np.where(block_lengths > 0, block_lengths, 2**62), block_start)
        maxlength = np.maximum.reduceat(block_lengths, block_start)
        has_min = minlength < 2**62
        minlength = np.where(has_min, minlength, 0)
    else:
        minlength = maxlength = np.zeros(nblocks, dtype=np.int64)
        has_min = np.zeros(nblocks, dtype=bool)
    counts = block_end - block_start
    last_ids = p.docnums[block_end - 1]
    info, info_offsets = _join(
        nblocks,
        [
            _same(b"\x80\x02(", nblocks),
            _ints(counts),
            _ints(last_ids),
            _floats(np.maximum(wmax, 0.0)),
            _ints(np.where(compressed, level, 0)),
            _ints(_length_bytes(minlength)),
            _ints(_length_bytes(maxlength)),
            _same(b"t.", nblocks),
        ],
    )

    # per term: the posting list (header, then blocks) and its row in the term table
    term_weights = np.add.reduceat(weights64, p.starts[:-1])
    term_maxweights = np.maximum.reduceat(np.maximum(wmax, 0.0), first_block[:-1])
    term_minlengths = np.minimum.reduceat(np.where(has_min, minlength, 2**62), first_block[:-1])
    term_minbytes = np.where(term_minlengths < 2**62, _length_bytes(term_minlengths), 0)
    term_maxbytes = _length_bytes(np.maximum.reduceat(maxlength, first_block[:-1]))
    first_ids = p.docnums[p.starts[:-1]]
    last_term_ids = p.docnums[p.starts[1:] - 1]

    # per term: Whoosh's posting-list header, then its blocks, each led by its length (negative for the
    # term's last block) and its info; blocks worth it deflated
    payload, payload_offsets = _deflated(data, data_offsets, compressed, level)
    block_lengths = np.diff(info_offsets) + np.diff(payload_offsets)
    block_lengths[first_block[1:] - 1] *= -1
    blocks, block_offsets = _join(
        nblocks,
        [
            _fixed(block_lengths.astype(">i4").view(np.uint8), 4),
            (info, info_offsets),
            (payload, payload_offsets),
        ],
    )
    nterms = len(p.terms)
    lists, list_offsets = _join(nterms, [_same(_HEAD, nterms), (blocks, block_offsets[first_block])])
    postfile = fieldwriter._postfile
    start = postfile.tell()
    postfile.write(lists.tobytes())

    rows = np.empty(nterms, dtype=_TERM_ROW)
    rows["flags"] = 0
    rows["weight"] = term_weights
    rows["df"] = per_term
    rows["minb"] = term_minbytes
    rows["maxb"] = term_maxbytes
    rows["maxw"] = term_maxweights
    rows["minid"] = first_ids
    rows["maxid"] = last_term_ids
    rows["offset"] = start + list_offsets[:-1]
    rows["length"] = np.diff(list_offsets)
    prefix = struct.pack("!H", fieldwriter._fieldid)
    fieldwriter._tindex.add_rows([prefix + text for text in p.terms], rows)


_TERM_ROW = np.dtype(
    [  # whoosh3's W3TermInfo struct (!BfIBBfII), then the posting list's offset and length (!qi)
        ("flags", "u1"),
        ("weight", ">f4"),
        ("df", ">u4"),
        ("minb", "u1"),
        ("maxb", "u1"),
        ("maxw", ">f4"),
        ("minid", ">u4"),
        ("maxid", ">u4"),
        ("offset", ">i8"),
        ("length", ">i4"),
    ]
)
_ROW_HEAD = np.dtype([("key", ">i4"), ("value", ">i4")])  # filetables' _lengths (!ii)
assert _TERM_ROW.itemsize == whoosh3.W3TermInfo._struct.size + struct.calcsize("!qi")


def _deflated(data: Bytes, offsets: Ints, squeeze: npt.NDArray[np.bool_], level: int) -> tuple[Bytes, Ints]:
    """A ragged buffer with the items where `squeeze` holds deflated."""
    chosen = np.flatnonzero(squeeze)
    if not chosen.size:
        return data, offsets
    raw = data.tobytes()
    packed, packed_offsets = _pieces(
        [
            deflate(raw[a:b], level)
            for a, b in zip(offsets[chosen].tolist(), offsets[chosen + 1].tolist(), strict=True)
        ]
    )
    lo = offsets[:-1].copy()
    size = np.diff(offsets)
    lo[chosen] = data.size + packed_offsets[:-1]
    size[chosen] = np.diff(packed_offsets)
    return _gather(np.concatenate((data, packed)), lo, size)


class TermTable(filetables.OrderedHashWriter):  # type: ignore[misc]
    """Whoosh's term table writer (`OrderedHashWriter`), given rows in bulk.

    The file is byte for byte what Whoosh's `add` and `close` write: each row (a key's length, the
    value's, the key, the value), then 256 hash tables of (hash, row offset) filled by linear probing,
    their directory and the ordered index of row offsets. `add` and `close` cost a few Python calls per
    row and per slot, for about 2 rows per posting list.
    """

    lastkey: bytes

    def add_rows(self, keys: list[bytes], values: npt.NDArray[Any]) -> None:
        """`add(key, value)` for each key, in order, and its row of `values` (a structured array)."""
        if not keys:
            return
        if keys[0] <= self.lastkey:
            raise ValueError(f"Keys must increase: {self.lastkey!r}..{keys[0]!r}")
        key_bytes, key_offsets = _pieces(keys)
        heads = np.empty(len(keys), dtype=_ROW_HEAD)
        heads["key"] = np.diff(key_offsets)
        heads["value"] = values.dtype.itemsize
        data, offsets = _join(
            len(keys),
            [
                _fixed(heads.view(np.uint8), heads.dtype.itemsize),
                (key_bytes, key_offsets),
                _fixed(values.view(np.uint8), values.dtype.itemsize),
            ],
        )
        positions = (self.dbfile.tell() + offsets[:-1]).tolist()
        self.dbfile.write(data.tobytes())
        self.index.extend(positions)
        if self.hashfn is filetables.md5_hash:
            hashes = [
                int.from_bytes(hashlib.md5(k, usedforsecurity=False).digest()[12:], "big") for k in keys
            ]
        else:
            hashes = [self.hashfn(k) for k in keys]
        buckets = self.buckets
        for h, position in zip(hashes, positions, strict=True):
            buckets[h & 255].append((h, position))
        self.lastkey = keys[-1]

    def _write_hashes(self) -> None:
        for entries in self.buckets:
            numslots = 2 * len(entries)
            self.directory.append((self.dbfile.tell(), numslots))
            table = np.zeros(numslots, dtype=_SLOT)
            if entries:
                taken = bytearray(numslots)
                slots = []
                for h, _ in entries:
                    slot = (h >> 8) % numslots
                    while taken[slot]:
                        slot = (slot + 1) % numslots
                    taken[slot] = 1
                    slots.append(slot)
                hashes, positions = zip(*entries, strict=True)
                table["hash"][slots] = hashes
                table["position"][slots] = positions
            self.dbfile.write(table.tobytes())


_SLOT = np.dtype([("hash", ">u4"), ("position", ">i8")])  # filetables' _pointer (!Iq)


def _sub(data: Bytes, offsets: Ints, first: Ints, end: Ints) -> tuple[Bytes, Ints]:
    """For each i, items `first[i]:end[i]` of a ragged buffer, concatenated: a ragged buffer again."""
    lo = offsets[first]
    return _gather(data, lo, offsets[end] - lo)


def _gather(data: Bytes, lo: Ints, size: Ints) -> tuple[Bytes, Ints]:
    """For each i, the `size[i]` bytes of `data` from `lo[i]`: a ragged buffer."""
    out_offsets = _offsets(size)
    return data[_spread(lo - out_offsets[:-1], size, int(out_offsets[-1]))], out_offsets
