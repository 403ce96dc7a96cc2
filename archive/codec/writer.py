"""Whoosh's segment writer with a faster road from analysed text to its files, which stay Whoosh's own.

`Writer` is a `whoosh.writing.SegmentWriter` whose postings go to `archive.pool.Pool` (sorted with
numpy, written by `blockwriter`) instead of Whoosh's spilling pool, and whose per-document writers,
made by Whoosh's `__init__`, are given faster classes that write the same bytes: numeric columns held in
an array until the segment is written (`_HeldNumbers`), stored fields deflated at `STORED_LEVEL`, the
term table filled in bulk (`termtable.TermTable`). `tests/test_indexer.py` writes with it and with
Whoosh's stock writer, through segments, deletions and merges, and compares the bytes.
"""

from __future__ import annotations

import struct
import sys
from array import array
from pathlib import Path
from typing import Any

from whoosh import columns
from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.writing import SegmentWriter

from ..analysis import Analyzed
from ..models import Terms
from ..pool import Pool
from .ragged import deflate
from .reader import field_lengths
from .termtable import TermTable

COMPRESSION = 1
"""zlib level of the posting blocks (Whoosh's default is 3); readers inflate any level alike."""

STORED_LEVEL = 0
"""zlib level of stored fields. A passage's stored text is a few hundred bytes of prose that deflate
shrinks by only 40 % at about 18 µs, a tenth of the whole build; level 0 keeps Whoosh's zlib stream
(its reader is unchanged) and writes the bytes as they are."""


class Writer(SegmentWriter):  # type: ignore[misc]
    """Whoosh's segment writer with a faster road from analysed text to the postings file.

    The files are Whoosh's own; what changes is how postings get there. Whoosh keeps every posting as a
    tuple in a pool that it spills to disk and merge-sorts, then hands them one by one to its codec;
    here they go to `pool.Pool`, which writes them with numpy, reading each field's lengths in one call.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, codec=whoosh3.W3Codec(compression=COMPRESSION), **kwargs)
        self.pool.cleanup()  # type: ignore[has-type]  # Whoosh's own pool, never used
        self.pool = Pool(self.schema)
        # writers made by Whoosh's __init__, given faster methods that write the same bytes
        self.perdocwriter.__class__ = _PerDocWriter
        schema = self.schema
        self._names = frozenset(schema.names())
        # each field, in Whoosh's order (by name): whether the pool takes its analysed text, whether
        # it has lengths (indexed and scorable), whether it is stored, and its column
        self._plan = [
            (
                name,
                field,
                field.indexed and self.pool.takes_text(name),
                field.indexed and field.scorable,
                field.stored,
                field.column_type,
            )
            for name, field in sorted(schema.items())
        ]
        self.perdocwriter._colwriters["_stored"]._child.__class__ = _StoredBytes
        self.fieldwriter._tindex.__class__ = TermTable

    def add_document(self, **fields: Any) -> None:
        """Whoosh's `add_document` for what the indexer passes (no boosts, spelling fields or vectors)."""
        if not self._names.issuperset(fields):  # Whoosh's checks and its handling of `_boost` and such
            super().add_document(**fields)
            return
        self._check_state()
        perdoc = self.perdocwriter
        perdoc.start_doc(self.docnum)
        try:
            self._add_fields(fields)
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_fields(self, fields: dict[str, Any]) -> None:
        """Each field of the document being added: its postings to the pool, its length, stored value
        and column value to the per-document writer."""
        docnum = self.docnum
        perdoc = self.perdocwriter
        pool = self.pool
        posting = pool.add_posting
        for name, field, text, scorable, stored, column in self._plan:
            value = fields.get(name)
            if value is None:
                continue
            length = 0
            if text and isinstance(value, Analyzed | Terms):  # analysed once, where it was prepared
                length = pool.add_text(name, value, docnum)
            elif field.indexed:
                for term, frequency, weight, encoded in field.format.word_values(
                    value, field.analyzer, mode="index"
                ):
                    posting(name, term.encode("utf-8"), docnum, weight, encoded)
                    length += frequency
            if not scorable:
                length = 0
            if length or stored:  # Whoosh's add_field does nothing otherwise
                perdoc.add_field(name, field, value if stored else None, length)
            if column:
                perdoc.add_column_value(name, column, field.to_column_value(value))

    def cancel(self) -> None:
        """Whoosh's `cancel`, then the files of the abandoned segment removed: Whoosh leaves them in the
        index folder until its next commit (a cancelled update of a large batch: as large again)."""
        super().cancel()
        if self.storage.file_exists(whoosh_index.TOC._filename(self.indexname, self.generation)):
            return  # a commit that failed after writing its table of contents: the segment is live
        name = self.newsegment.segment_id()
        for filename in self.storage.list():
            if filename.startswith((name + ".", name + "_")):
                self.storage.delete_file(filename)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader()
        try:
            count = reader.doc_count_all()
            self.pool.write(self.fieldwriter, lambda name: field_lengths(reader, name, count))
        finally:
            reader.close()
        self.fieldwriter.close()


def segments(directory: Path) -> list[Any]:
    """The segments listed by the table of contents of the index in `directory` (a part built by
    another process), to be listed beside a writer's own at its commit."""
    ix = whoosh_index.open_dir(str(directory))
    try:
        return list(ix._segments())
    finally:
        ix.close()


class _PerDocWriter(whoosh3.W3PerDocWriter):  # type: ignore[misc]
    """Whoosh's per-document writer, whose numeric columns (field lengths, passage positions) hold their
    values in an array until the segment is written."""

    def _create_column(self, fieldname: str, column: Any) -> None:
        if type(column) is columns.NumericColumn and _array_packs_as_struct(column._typecode):
            self._colwriters[fieldname] = _HeldNumbers(
                self._cols.create_file(fieldname), column._typecode, column._default
            )
        else:
            super()._create_column(fieldname, column)


def _array_packs_as_struct(typecode: str) -> bool:
    """Whether an `array` of this typecode holds values of the size Whoosh's `struct` packs them to
    (`"l"` does not on 64-bit Linux; `"e"` has no array)."""
    try:
        return array(typecode).itemsize == struct.calcsize("!" + typecode)
    except (ValueError, struct.error):
        return False


class _HeldNumbers(columns.NumericColumn.Writer):  # type: ignore[misc]
    """Whoosh's writer of a numeric column, keeping the values in an array until `finish` rather than
    writing each to the file: the same bytes (big-endian values up to the last one that is not the
    default), for a few Python calls fewer per document and column."""

    def __init__(self, dbfile: Any, typecode: str, default: int) -> None:
        super().__init__(dbfile, typecode, default)
        self._values = array(typecode)

    def add(self, docnum: int, v: int) -> None:
        """Hold a document's value (the default is left to the array's padding)."""
        if v == self._default:
            return
        values = self._values
        if docnum >= len(values):
            values.extend([self._default] * (docnum + 1 - len(values)))
        values[docnum] = v

    def finish(self, doccount: int) -> None:
        """Write the values held, big-endian, up to the last that is not the default."""
        values = self._values
        if sys.byteorder == "little":
            values.byteswap()
        self._dbfile.write(values.tobytes())


class _StoredBytes(columns.CompressedBytesColumn.Writer):  # type: ignore[misc]
    """Whoosh's writer of the stored-fields column, at `STORED_LEVEL`."""

    def add(self, docnum: int, v: bytes) -> None:
        """A document's pickled stored fields, deflated at `STORED_LEVEL`."""
        columns.VarBytesColumn.Writer.add(self, docnum, deflate(v, STORED_LEVEL))
