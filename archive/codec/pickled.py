"""Pickle's opcodes, written with numpy: the values inside Whoosh's posting blocks, many at once.

Whoosh's whoosh3 codec pickles each block of postings (a tuple of docnum gaps, weights and values), one
Python call per posting. The functions here write the same opcodes for whole arrays: ints as
BININT1/BININT2/BININT, floats as BINFLOAT, byte strings (the postings' values, such as the text fields'
raw positions, `codec.positions`) as SHORT_BINBYTES/BINBYTES. One thing differs from Whoosh's protocol
2 pickles: byte strings use protocol 3's opcodes, where protocol 2 spells every value as a call to
`codecs.encode`; `pickle.loads`, which is all Whoosh reads a block with, gives back the same tuple.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt

from .ragged import Ints, Ragged, fixed, join, pieces, rows


def ints(values: Ints) -> Ragged:
    """Each int (0 <= v < 2**31) as pickle writes it: BININT1, BININT2 or BININT with its bytes."""
    size = np.where(values < 256, 2, np.where(values < 65536, 3, 5)).astype(np.int64)
    table = np.empty((values.size, 5), dtype=np.uint8)
    table[:, 0] = np.where(size == 2, ord("K"), np.where(size == 3, ord("M"), ord("J")))
    table[:, 1:] = values.astype("<u4").view(np.uint8).reshape(-1, 4)
    return rows(table, size)


def floats(values: npt.NDArray[np.floating[Any]]) -> Ragged:
    """Each float as pickle's BINFLOAT: `G` and 8 big-endian bytes."""
    table = np.empty((values.size, 9), dtype=np.uint8)
    table[:, 0] = ord("G")
    table[:, 1:] = values.astype(">f8").view(np.uint8).reshape(-1, 8)
    return fixed(table, 9)


def string_heads(lengths: Ints) -> Ragged:
    """The opcode and length before each byte string: SHORT_BINBYTES below 256 bytes, else BINBYTES."""
    short = lengths < 256
    table = np.empty((lengths.size, 5), dtype=np.uint8)
    table[:, 0] = np.where(short, ord("C"), ord("B"))
    table[:, 1:] = lengths.astype("<u4").view(np.uint8).reshape(-1, 4)
    return rows(table, np.where(short, 2, 5).astype(np.int64))


def byte_string(value: bytes) -> bytes:
    """One byte string as pickle writes it (see `string_heads`)."""
    size = len(value)
    return (b"C" + bytes((size,)) if size < 256 else b"B" + struct.pack("<I", size)) + value


def byte_strings(items: Ragged) -> Ragged:
    """Each item of a ragged buffer as pickle writes a byte string (see `string_heads`)."""
    data, item_offsets = items
    count = item_offsets.size - 1
    return join(count, [string_heads(np.diff(item_offsets)), (data, item_offsets)])


def posting_values(values: list[bytes], size: int | None) -> Ragged:
    """Postings' values (from a format of this `fixed_value_size`) as a block's pickle holds them:
    variable-sized ones each a byte string, empty ones left out as Whoosh does; fixed-size ones as they
    are, joined into one byte string per block by the block writer."""
    if size is None:
        return pieces([byte_string(v) if v else b"" for v in values])
    return pieces(values)
