"""A segment's term table (Whoosh's `filetables.OrderedHashWriter`), written a field's rows at a time.

The block writer hands over the rows of many terms at once (a structured array); the file is byte for
byte what Whoosh's row-by-row `add` and `close` write (`tests/test_indexer.py` compares them).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh.filedb import filetables

from .ragged import fixed, join, pieces

_ROW_HEAD = np.dtype([("key", ">i4"), ("value", ">i4")])  # filetables' _lengths (!ii)
_SLOT = np.dtype([("hash", ">u4"), ("position", ">i8")])  # filetables' _pointer (!Iq)


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
        key_bytes, key_offsets = pieces(keys)
        heads = np.empty(len(keys), dtype=_ROW_HEAD)
        heads["key"] = np.diff(key_offsets)
        heads["value"] = values.dtype.itemsize
        data, offsets = join(
            len(keys),
            [
                fixed(heads.view(np.uint8), heads.dtype.itemsize),
                (key_bytes, key_offsets),
                fixed(values.view(np.uint8), values.dtype.itemsize),
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
