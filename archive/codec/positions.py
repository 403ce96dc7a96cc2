"""The value of a text field's posting: its positions as raw 4-byte little-endian ints, not a pickle.

Whoosh's `formats.Positions` encodes a posting's positions as a count, then a pickled list of the gaps
between them, and every reader pays a `pickle.loads` per posting. `RawPositions` stores the positions as
they are, 4 bytes each: a term's values are read with one `np.frombuffer` over their concatenation and
phrases are checked with numpy (`archive.phrases`); bench/results/codec.md has the measurements. The
byte order is fixed, little-endian (`POSITION`), so that an index reads the same on any machine:
`array('I')` is swapped where the machine is big-endian.

Whoosh's own readers (its span queries, its highlighter) decode the values through this format's methods,
so the index stays an ordinary Whoosh index. The schema, formats included, is pickled into the index's
table of contents with each class's import path: `RawPositions` must stay in this module under this
name, or the indexes written with it no longer open.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import formats

from .ragged import Ints, Ragged

POSITION = np.dtype("<u4")
"""One position in a value: 4 bytes, little-endian."""

_SWAP = sys.byteorder != "little"

if array("I").itemsize != POSITION.itemsize:  # 4 on every platform CPython supports today
    raise ImportError(f"array('I') holds {array('I').itemsize} bytes here, where positions take 4")


def encode(positions: Iterable[int]) -> bytes:
    """A posting's value: its positions (0 <= p < 2**32, increasing), 4 little-endian bytes each."""
    packed = array("I", positions)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def decode(value: bytes) -> list[int]:
    """A posting's positions from its value (see `encode`)."""
    packed = array("I")
    packed.frombytes(value)
    if _SWAP:
        packed.byteswap()
    return packed.tolist()


class RawPositions(formats.Positions):  # type: ignore[misc]
    """Whoosh's `Positions` format (frequency, weight, positions) with raw positions as each value.

    `word_values`, `decode_weight`, `decode_position_boosts` and `combine` are Whoosh's own, built on
    the three methods here.
    """

    def encode(self, poslist: Iterable[int]) -> bytes:
        """A posting's value (see `encode`)."""
        return encode(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        """A posting's positions."""
        return decode(valuestring)

    def decode_frequency(self, valuestring: bytes) -> int:
        """A posting's frequency: how many positions it has."""
        return len(valuestring) // POSITION.itemsize


def packed(positions: npt.NDArray[np.integer[Any]], starts: Ints) -> Ragged:
    """Many postings' values at once (posting i's positions are `positions[starts[i]:starts[i + 1]]`),
    as a ragged buffer: item i is the bytes `encode` gives for posting i."""
    data = positions.astype(POSITION).view(np.uint8)
    return data, starts.astype(np.int64) * POSITION.itemsize
