"""The postings of a segment being written, held in arrays and sorted into posting lists with numpy.

Whoosh's writer keeps every posting as a tuple in a pool that it spills and merge-sorts, then hands them
one by one to its codec. Here a text field's words are appended to flat arrays as documents come (term
number, position, and per document a count); at the end numpy sorts them into posting lists, term by
term, and the codec (`archive.codec.blockwriter`) writes them as Whoosh's posting blocks and term rows,
encoding every posting's positions at once (`archive.codec.positions`). Nothing here knows Whoosh's files.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from .analysis import Analyzed
from .codec import pickled
from .codec.blockwriter import PostingLists, write_field
from .codec.positions import RawPositions, packed
from .codec.ragged import Ints, Ragged
from .models import Terms


class Pool:
    """Every posting of one segment being written, per field; Whoosh's pool interface (`add_posting`)."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema
        self._fields: dict[str, _Tokens | _Postings] = {}

    def add_text(self, fieldname: str, value: Analyzed | Terms, docnum: int) -> int:
        """Index an analysed text in a positions field; returns the field's length (words kept)."""
        field = self._field(fieldname)
        if not isinstance(field, _Tokens):
            raise TypeError(f"{fieldname} is not a positions field: its text cannot be added as words")
        return field.add_text(value, docnum)

    def takes_text(self, fieldname: str) -> bool:
        """Whether `add_text` can index this field (a positions field with raw positions)."""
        return type(self._schema[fieldname].format) is RawPositions

    def add_posting(
        self, fieldname: str, text: bytes, docnum: int, weight: float, value: bytes | None
    ) -> None:
        """One posting, as Whoosh's writer gives it: a term's encoded text, its weight and value."""
        self._field(fieldname).add_posting(text, docnum, weight, value)

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """`add_posting` of a tuple (Whoosh's merge of other segments calls this)."""
        self.add_posting(*item)

    def cleanup(self) -> None:
        """Forget every posting (Whoosh calls it when a writer is closed or cancelled)."""
        self._fields.clear()

    def write(self, fieldwriter: Any, lengths: Callable[[str], npt.NDArray[np.float64]]) -> None:
        """Write every posting list, in (field, term) order, with a whoosh3 field writer; `lengths(name)`
        is the field's length in each document of the segment."""
        for name in sorted(self._fields):
            postings = self._fields.pop(name).postings()
            if postings is None:
                continue
            field = self._schema[name]
            table = lengths(name).astype(np.int64) if field.scorable else None
            write_field(fieldwriter, name, field, postings, table)

    def _field(self, fieldname: str) -> _Tokens | _Postings:
        field = self._fields.get(fieldname)
        if field is None:
            fmt = self._schema[fieldname].format
            field = _Tokens(fmt) if type(fmt) is RawPositions else _Postings(fmt)
            self._fields[fieldname] = field
        return field


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

    def add_text(self, value: Analyzed | Terms, docnum: int) -> int:
        """Append a text's words (an `Analyzed` one's memoised on it: one title serves many passages);
        its length."""
        if isinstance(value, Terms):
            tids, positions = self._encode(value.keys), value.positions
        else:
            found = value.memo.get(self)  # a title or heading is shared by all the passages under it
            if found is None:
                keys, kept = value.kept()
                found = value.memo[self] = self._encode(keys), array("I", kept)
            tids, positions = found
        if tids:
            self._tids.extend(tids)
            self._positions.extend(positions)
            self._docnums.append(docnum)
            self._counts.append(len(tids))
        return len(tids)

    def _encode(self, keys: Iterable[str]) -> array[int]:
        """The term numbers of `keys`, numbered in order of first occurrence in the segment."""
        ids = self._ids
        setdefault = ids.setdefault
        return array("I", [setdefault(k, len(ids)) for k in keys])

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

    def postings(self) -> PostingLists | None:
        """The posting lists, in term order, with each posting's positions as `RawPositions` encodes
        them; None if empty."""
        n = len(self._tids)
        if not n:
            return None
        keys = list(self._ids)
        rank, terms = _ranks(keys)
        docs = np.repeat(_u32(self._docnums), _u32(self._counts)).astype(np.uint64)
        order_key = (rank[_u32(self._tids)] << np.uint64(32)) | docs
        order = np.argsort(order_key, kind="stable")  # words of one document stay in position order
        order_key = order_key[order]
        positions = _u32(self._positions)[order]
        first = np.ones(n, dtype=bool)
        np.not_equal(order_key[1:], order_key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        bounds = np.append(starts, n)
        frequency = np.diff(bounds)
        posting_keys = order_key[starts]
        del order, order_key

        def values(a: int, b: int) -> Ragged:
            """Postings a:b's positions, encoded, each a pickled byte string."""
            lo, hi = bounds[a], bounds[b]
            return pickled.byte_strings(packed(positions[lo:hi], bounds[a : b + 1] - lo))

        return PostingLists(
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
        """One posting (values kept only where the format has them)."""
        self._tids.append(self._ids.setdefault(text, len(self._ids)))
        self._docnums.append(docnum)
        self._weights.append(weight)
        if self._size != 0:
            self._values.append(value or b"")

    def postings(self) -> PostingLists | None:
        """The posting lists, in term order; None if empty."""
        if not self._tids:
            return None
        rank, terms = _ranks(list(self._ids))
        ranks = rank[_u32(self._tids)]
        docs = _u32(self._docnums).astype(np.int64)
        order = np.lexsort((docs, ranks))
        values = None
        if self._size != 0:
            ordered = [self._values[i] for i in order.tolist()]
            data, offsets = pickled.posting_values(ordered, self._size)

            def values(a: int, b: int) -> Ragged:
                """Postings a:b's values."""
                return data[offsets[a] : offsets[b]], offsets[a : b + 1] - offsets[a]

        return PostingLists(
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
