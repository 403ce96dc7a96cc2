"""whoosh3's posting lists and term rows, written for many terms at once from sorted posting arrays.

Whoosh's field writer takes postings one at a time, cuts each term's list into blocks of `_blocklimit`
postings, pickles each block (docnum gaps, weights, values), deflates it, writes it behind a pickled
info tuple, and adds one row per term to the term table (`W3TermInfo`, then the list's offset and
length). Here the same layout is computed with numpy for a run of terms (`CHUNK` postings) and written
in one call to the postings file and one to the term table (`termtable.TermTable`); Python is left with
a few calls per term. The bytes are Whoosh's own: `tests/test_indexer.py` compares them.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh.codec import whoosh3
from whoosh.util.numeric import byte_to_length

from . import CodecMismatch
from .pickled import floats, ints, string_heads
from .ragged import Ints, Ragged, deflated, fixed, join, offsets, same, sub, where

CHUNK = 1 << 16
"""Postings encoded at once: numpy's working arrays stay a few tens of MB, whatever the segment's size."""

COMPRESS_FROM = 96
"""Blocks whose pickle is shorter than this many bytes are stored uncompressed (zlib's header and
dictionary-less start make small blocks bigger, and each call costs more than the block)."""


@dataclass
class PostingLists:
    """A field's posting lists in term order: postings `starts[i]:starts[i + 1]` belong to `terms[i]`.

    `values(a, b)` gives postings a:b's values as a block's pickle holds them (`pickled.posting_values`,
    `pickled.byte_strings`): a buffer and offsets from 0; None for a format without values.
    """

    terms: list[bytes]
    starts: Ints
    docnums: Ints
    weights: npt.NDArray[np.float32]
    values: Callable[[int, int], Ragged] | None

    def part(self, t0: int, t1: int) -> PostingLists:
        """The posting lists of terms t0:t1."""
        a, b = int(self.starts[t0]), int(self.starts[t1])
        values = self.values
        return PostingLists(
            self.terms[t0:t1],
            self.starts[t0 : t1 + 1] - a,
            self.docnums[a:b],
            self.weights[a:b],
            None if values is None else (lambda x, y: values(a + x, a + y)),
        )


def write_field(fieldwriter: Any, name: str, field: Any, lists: PostingLists, lengths: Ints | None) -> None:
    """A field's posting lists into a whoosh3 field writer's files; `lengths` is the field's length in
    each document of the segment (None for a field that keeps none)."""
    fieldwriter.start_field(name, field)
    total = int(lists.starts[-1])
    cuts = np.searchsorted(lists.starts, np.arange(CHUNK, total, CHUNK), side="right") - 1
    bounds = sorted({0, len(lists.terms), *cuts.tolist()})
    for t0, t1 in itertools.pairwise(bounds):
        if t1 > t0:
            _write_terms(fieldwriter, field, lists.part(t0, t1), lengths)
    fieldwriter.finish_field()


def _write_terms(fieldwriter: Any, field: Any, p: PostingLists, lengths: Ints | None) -> None:
    """A run of terms: their posting lists into the postings file, their rows into the term table."""
    postwriter = fieldwriter._postwriter
    level = postwriter._compression
    blocks = _cut(p.starts, postwriter._blocklimit)
    weights = p.weights.astype(np.float64)
    weight_parts, maxweight = _weights(weights, blocks)
    data, data_offsets = _block_data(p, blocks, weight_parts, field.format.fixed_value_size())
    compressed = (np.diff(data_offsets) >= COMPRESS_FROM) & (level > 0)
    minlength, maxlength, has_min = _length_range(lengths, p.docnums, blocks)
    # each block's info: postings, last docnum, greatest weight, zlib level, shortest and longest length
    info = join(
        blocks.count,
        [
            same(b"\x80\x02(", blocks.count),
            ints(blocks.end - blocks.start),
            ints(p.docnums[blocks.end - 1]),
            floats(maxweight),
            ints(np.where(compressed, level, 0)),
            ints(_length_bytes(minlength)),
            ints(_length_bytes(maxlength)),
            same(b"t.", blocks.count),
        ],
    )
    lists, list_offsets = _posting_lists(blocks, info, deflated(data, data_offsets, compressed, level))
    postfile = fieldwriter._postfile
    start = postfile.tell()
    postfile.write(lists.tobytes())

    # each term's row: W3TermInfo's statistics, then where its posting list is
    first = blocks.first[:-1]
    term_minlengths = np.minimum.reduceat(np.where(has_min, minlength, 2**62), first)
    rows = np.empty(len(p.terms), dtype=_TERM_ROW)
    rows["flags"] = 0
    rows["weight"] = np.add.reduceat(weights, p.starts[:-1])
    rows["df"] = np.diff(p.starts)
    rows["minb"] = np.where(term_minlengths < 2**62, _length_bytes(term_minlengths), 0)
    rows["maxb"] = _length_bytes(np.maximum.reduceat(maxlength, first))
    rows["maxw"] = np.maximum.reduceat(maxweight, first)
    rows["minid"] = p.docnums[p.starts[:-1]]
    rows["maxid"] = p.docnums[p.starts[1:] - 1]
    rows["offset"] = start + list_offsets[:-1]
    rows["length"] = np.diff(list_offsets)
    prefix = struct.pack("!H", fieldwriter._fieldid)
    fieldwriter._tindex.add_rows([prefix + text for text in p.terms], rows)


@dataclass
class _Blocks:
    """Where a run of terms' postings are cut into blocks: each term's postings every `_blocklimit`."""

    first: Ints  # each term's first block, then the number of blocks
    start: Ints  # each block's first posting
    end: Ints  # and its end

    @property
    def count(self) -> int:
        """How many blocks."""
        return int(self.start.size)


def _cut(starts: Ints, limit: int) -> _Blocks:
    per_term = np.diff(starts)
    blocks_per_term = (per_term + limit - 1) // limit
    term_of_block = np.repeat(np.arange(per_term.size), blocks_per_term)
    first = offsets(blocks_per_term)
    start = starts[term_of_block] + (np.arange(term_of_block.size) - first[term_of_block]) * limit
    return _Blocks(first, start, np.minimum(start + limit, starts[term_of_block + 1]))


def _weights(weights: npt.NDArray[np.float64], blocks: _Blocks) -> tuple[list[Ragged], npt.NDArray[Any]]:
    """Each block's weights as whoosh3 pickles them (None when all are 1.0, one float when all are
    equal, else a tuple), and each block's greatest weight (0 at least)."""
    wmax = np.maximum.reduceat(weights, blocks.start)
    wmin = np.minimum.reduceat(weights, blocks.start)
    ones = (wmin == 1.0) & (wmax == 1.0)
    single = (wmin == wmax) & ~ones
    listed = ~(ones | single)
    float_bytes, float_offsets = floats(weights)
    start, end = blocks.start, blocks.end
    parts = [
        where(ones, b"N"),
        sub(float_bytes, float_offsets, np.where(single, start, 0), np.where(single, start + 1, 0)),
        where(listed, b"("),
        sub(float_bytes, float_offsets, np.where(listed, start, 0), np.where(listed, end, 0)),
        where(listed, b"t"),
    ]
    return parts, np.maximum(wmax, 0.0)


def _block_data(p: PostingLists, blocks: _Blocks, weight_parts: list[Ragged], size: int | None) -> Ragged:
    """Each block's pickled tuple: docnum gaps (from 0 in every block), weights, values."""
    gaps = p.docnums.copy()
    gaps[1:] -= p.docnums[:-1]
    gaps[blocks.start] = p.docnums[blocks.start]
    id_bytes, id_offsets = ints(gaps)
    n = blocks.count
    return join(
        n,
        [
            same(b"\x80\x03(", n),
            sub(id_bytes, id_offsets, blocks.start, blocks.end),
            same(b"t", n),
            *weight_parts,
            *_values(p, blocks, size),
            same(b"\x87.", n),
        ],
    )


def _values(p: PostingLists, blocks: _Blocks, size: int | None) -> list[Ragged]:
    """Each block's values for a format of this `fixed_value_size`: None when it has none, a tuple of
    byte strings for variable-sized ones, one byte string of them all for fixed-size ones."""
    if size == 0:
        return [same(b"N", blocks.count)]
    if p.values is None:
        raise ValueError("the postings of a format with values came without them")
    vbytes, voffsets = p.values(0, len(p.docnums))
    if size is None:
        return [
            same(b"(", blocks.count),
            sub(vbytes, voffsets, blocks.start, blocks.end),
            same(b"t", blocks.count),
        ]
    joined = sub(vbytes, voffsets, blocks.start, blocks.end)
    return [string_heads(np.diff(joined[1])), joined]


def _length_range(lengths: Ints | None, docnums: Ints, blocks: _Blocks) -> tuple[Ints, Ints, Any]:
    """Each block's shortest field length over 0 (0 where none is), its longest, and whether it has a
    shortest; all 0 for a field without lengths."""
    if lengths is None:
        zeros = np.zeros(blocks.count, dtype=np.int64)
        return zeros, zeros, np.zeros(blocks.count, dtype=bool)
    of_postings = lengths[docnums]
    minlength = np.minimum.reduceat(np.where(of_postings > 0, of_postings, 2**62), blocks.start)
    maxlength = np.maximum.reduceat(of_postings, blocks.start)
    has_min = minlength < 2**62
    return np.where(has_min, minlength, 0), maxlength, has_min


def _posting_lists(blocks: _Blocks, info: Ragged, payload: Ragged) -> Ragged:
    """Each term's posting list: whoosh3's header, then its blocks, each led by its length (negative for
    the term's last block) and its info."""
    block_lengths = np.diff(info[1]) + np.diff(payload[1])
    block_lengths[blocks.first[1:] - 1] *= -1
    framed, framed_offsets = join(
        blocks.count, [fixed(block_lengths.astype(">i4").view(np.uint8), 4), info, payload]
    )
    nterms = blocks.first.size - 1
    return join(nterms, [same(_HEAD, nterms), (framed, framed_offsets[blocks.first])])


_HEAD = whoosh3.WHOOSH3_HEADER_MAGIC
_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)


def _length_bytes(lengths: Ints) -> Ints:
    """`whoosh.util.numeric.length_to_byte` of each length."""
    return np.where(lengths >= 106374, 255, np.minimum(np.searchsorted(_BYTE_LENGTHS, lengths), 255))


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
_TERM_INFO_SIZE = _TERM_ROW.itemsize - struct.calcsize("!qi")
if whoosh3.W3TermInfo._struct.size != _TERM_INFO_SIZE:
    raise CodecMismatch(
        f"whoosh3's term info is {whoosh3.W3TermInfo._struct.size} bytes where the codec writes {_TERM_INFO_SIZE}"
    )
