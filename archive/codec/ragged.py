"""Ragged byte buffers: many small byte strings held as one numpy buffer and the offsets of its items.

The writer builds every posting's value, every block and every term-table row of a segment at once:
item i of a buffer is `data[offsets[i]:offsets[i + 1]]`, and the functions here make, join, slice and
deflate such buffers with a few numpy calls whatever the number of items. Nothing here knows Whoosh.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

Bytes = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]
Ragged = tuple[Bytes, Ints]
"""A buffer and the offsets of its items (one more than the items: the last is the end)."""


def offsets(lengths: npt.NDArray[Any]) -> Ints:
    """Where each of consecutive items of these lengths starts, and the end."""
    return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))


def rows(table: npt.NDArray[np.uint8], lengths: Ints) -> Ragged:
    """The first `lengths[i]` bytes of each row of a table, as items."""
    keep = np.arange(table.shape[1])[None, :] < lengths[:, None]
    return table[keep], offsets(lengths)


def fixed(data: Bytes, width: int) -> Ragged:
    """Items of `width` bytes each."""
    return data.reshape(-1), np.arange(0, data.size + 1, width, dtype=np.int64)


def same(token: bytes, count: int) -> Ragged:
    """`count` items, each `token`."""
    return fixed(np.tile(np.frombuffer(token, dtype=np.uint8), count), len(token))


def where(mask: npt.NDArray[np.bool_], token: bytes) -> Ragged:
    """`token` for the items where `mask` holds, nothing for the others."""
    return np.tile(np.frombuffer(token, dtype=np.uint8), int(mask.sum())), offsets(mask * len(token))


def pieces(strings: list[bytes]) -> Ragged:
    """Python byte strings as items."""
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    return np.frombuffer(b"".join(strings), dtype=np.uint8), offsets(lengths)


def join(count: int, parts: list[Ragged]) -> Ragged:
    """Item i of the result is item i of each part, in order: every part has `count` items."""
    sizes = [np.diff(part_offsets) for _, part_offsets in parts]
    total = np.sum(sizes, axis=0) if sizes else np.zeros(count, dtype=np.int64)
    out_offsets = offsets(total)
    out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
    base = out_offsets[:-1].copy()
    for (data, part_offsets), size in zip(parts, sizes, strict=True):
        if data.size:
            out[_spread(base - part_offsets[:-1], size, data.size)] = data
        base += size
    return out, out_offsets


def sub(data: Bytes, item_offsets: Ints, first: Ints, end: Ints) -> Ragged:
    """For each i, items `first[i]:end[i]` of a ragged buffer, concatenated: a ragged buffer again."""
    lo = item_offsets[first]
    return gather(data, lo, item_offsets[end] - lo)


def gather(data: Bytes, lo: Ints, size: Ints) -> Ragged:
    """For each i, the `size[i]` bytes of `data` from `lo[i]`: a ragged buffer."""
    out_offsets = offsets(size)
    return data[_spread(lo - out_offsets[:-1], size, int(out_offsets[-1]))], out_offsets


def _spread(shift: Ints, size: Ints, total: int) -> Ints:
    """Index j of a ragged buffer moved by the shift of the item it belongs to."""
    index = np.repeat(shift, size)
    index += np.arange(total, dtype=np.int64)
    return index


def deflate(data: bytes, level: int) -> bytes:
    """`zlib.compress(data, level)` with a 4 KB window and a small hash table (memLevel 4).

    Posting blocks and stored fields are at most a few KB: zlib's defaults (32 KB window, memLevel 8) set
    up about 256 KB of state on every call, which costs several times the compression itself. The
    output is an ordinary zlib stream that `zlib.decompress` (Whoosh's readers) inflates as any other.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, 12, 4)
    return compressor.compress(data) + compressor.flush()


def deflated(data: Bytes, item_offsets: Ints, squeeze: npt.NDArray[np.bool_], level: int) -> Ragged:
    """A ragged buffer with the items where `squeeze` holds deflated."""
    chosen = np.flatnonzero(squeeze)
    if not chosen.size:
        return data, item_offsets
    raw = data.tobytes()
    packed, packed_offsets = pieces(
        [
            deflate(raw[a:b], level)
            for a, b in zip(item_offsets[chosen].tolist(), item_offsets[chosen + 1].tolist(), strict=True)
        ]
    )
    lo = item_offsets[:-1].copy()
    size = np.diff(item_offsets)
    lo[chosen] = data.size + packed_offsets[:-1]
    size[chosen] = np.diff(packed_offsets)
    return gather(np.concatenate((data, packed)), lo, size)
