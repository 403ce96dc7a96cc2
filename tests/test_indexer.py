"""The indexer's fast roads must write what Whoosh's own would: same postings, statistics and records."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from whoosh import formats
from whoosh import index as whoosh_index
from whoosh.filedb import filetables
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from archive import indexer, parallel
from archive.analysis import Analyzed
from archive.codec import blockwriter, termtable
from archive.codec import writer as codec_writer
from archive.models import Document, Metadata, Passage
from archive.postings import Arrays
from archive.schema import FrenchTokenizer, build_schema
from archive.vocabulary import Vocabulary

WORDS = (
    "blanchiment escroquerie douane gendarmerie réseau l'enquête saisie tribunal condamnés peine prison "
    "argent cocaïne port conteneur société-écran juge parquet victime plainte fraude aujourd'hui O.N.U. "
    "10,5 le la les de des et à qu'il porte-conteneurs Pédocriminalité"
).split()
AGENCIES = ("gendarmerie", "douane", "junalco", "eurojust")


def _documents(n: int, seed: int) -> list[Document]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        doc_id = f"{2015 + i % 9}/doc{i:04}.txt"
        passages = tuple(
            Passage(
                doc_id,
                position,
                rnd.choice(["", "Chapitre premier", "Les saisies"]),
                position * 100,
                position * 100 + 99,
                " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 80))),
                agency=tuple(rnd.sample(AGENCIES, rnd.randint(0, 2))),
            )
            for position in range(1, rnd.randint(1, 6) + 1)
        )
        meta = Metadata(
            title=f"Dossier {i} {rnd.choice(WORDS)}",
            date=f"{2015 + i % 9}-0{1 + i % 9}-1{i % 10}" if i % 7 else None,
            source=f"Source {i % 4}",
            type=rnd.choice(["article", "rapport"]),
        )
        out.append(Document(doc_id, f"{i:064x}", f"fp{i}", "txt", meta, passages, size=100))
    return out


def _dump(generation: Path) -> dict[str, Any]:
    """Everything a reader sees, keyed by passage and record ids (which differ) rather than by docnum."""
    ix = whoosh_index.open_dir(str(generation))
    try:
        with ix.reader() as reader:
            ids = {d: fields["id"] for d, fields in reader.iter_docs()}
            postings = {}
            statistics = {}
            for fieldname, text in reader.all_terms():
                m = reader.postings(fieldname, text)
                found = {}
                while m.is_active():
                    found[ids[m.id()]] = (m.weight(), m.value())
                    m.next()
                postings[(fieldname, text)] = found
                i = reader.term_info(fieldname, text)
                statistics[(fieldname, text)] = (  # float32 totals: summed per segment, rounding differs
                    round(i.weight(), 2),
                    i.doc_frequency(),
                    i.min_length(),
                    i.max_length(),
                    i.max_weight(),
                )
            lengths = {
                ids[d]: [reader.doc_field_length(d, f, 0) for f in ("content", "title", "section")]
                for d in ids
            }
            stored = {ids[d]: _without_time(fields) for d, fields in reader.iter_docs()}
            return {"postings": postings, "statistics": statistics, "lengths": lengths, "stored": stored}
    finally:
        ix.close()


def _without_time(fields: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in fields.get("data", {}).items() if k != "indexed_at"}
    return {**fields, "data": data}


def _docnums(generation: Path) -> list[str]:
    ix = whoosh_index.open_dir(str(generation))
    try:
        with ix.reader() as reader:
            return [fields["id"] for _, fields in reader.iter_docs()]
    finally:
        ix.close()


def _write(
    directory: Path, writer_class: type, batches: list[list[Document]], delete: list[str], merge: bool = True
) -> Path:
    """Each batch as one commit without merging, then deletions and a merge of everything."""
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), build_schema())
    try:
        for batch in batches:
            w = writer_class(ix)
            for document in batch:
                indexer._add(w, document, Vocabulary())
            w.commit(merge=False)
        w = writer_class(ix)
        for document_id in delete:
            w.delete_by_term("doc", document_id)
        w.commit(optimize=merge, merge=merge)
    finally:
        ix.close()
    return directory


def _columns(directory: Path) -> list[dict[str, bytes]]:
    """The numeric column files of each segment (field lengths, passage positions)."""
    ix = whoosh_index.open_dir(str(directory))
    out = []
    try:
        for segment in ix._segments():
            files = segment.open_compound_file(ix.storage)
            name = segment.segment_id()
            found = {
                n.removeprefix(name): files.open_file(n).read()
                for n in files.list()
                if n.endswith(".col") and "_stored" not in n
            }
            files.close()
            assert {"._content_len.col", ".position.col"} <= found.keys()
            out.append(found)
    finally:
        ix.close()
    return out


def _long_document() -> Document:
    """Values past pickle's short forms: position lists longer than 255 bytes (BINBYTES rather than
    SHORT_BINBYTES), 1,100 positions of one word, positions over 65,535 (all 4 bytes of a value used)."""
    text = " ".join(["saisie"] * 1_100 + ["douane"] * 300 + ["x"] * 70_000 + ["douane", "saisie"])
    passage = Passage("2020/long.txt", 1, "", 0, len(text), text)
    return Document(
        "2020/long.txt", "f" * 64, "fplong", "txt", Metadata(title="Saisie saisie"), (passage,), 1
    )


@pytest.mark.parametrize(("chunk", "compress_from"), [(blockwriter.CHUNK, blockwriter.COMPRESS_FROM), (7, 0)])
def test_bulk_postings_equal_whoosh_stock_writer_through_segments_deletions_and_merges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, compress_from: int
) -> None:
    monkeypatch.setattr(blockwriter, "CHUNK", chunk)  # terms written in many small groups
    monkeypatch.setattr(blockwriter, "COMPRESS_FROM", compress_from)  # every block compressed
    documents = _documents(120, seed=3)
    documents[70] = _long_document()
    batches = [documents[:50], documents[50:90], documents[90:]]
    delete = [documents[4].id, documents[61].id, documents[119].id]
    ours = _write(tmp_path / "ours", codec_writer.Writer, batches, delete)
    stock = _write(tmp_path / "stock", SegmentWriter, batches, delete)
    assert _docnums(ours) == _docnums(stock)  # same docnums, so the per-docnum statistics compare too
    assert _dump(ours) == _dump(stock)
    # lengths and positions, the same bytes: as written, and through a merge
    assert _columns(ours) == _columns(stock)
    unmerged = [
        _write(tmp_path / name, writer, batches, [], merge=False)
        for name, writer in (("ours-unmerged", codec_writer.Writer), ("stock-unmerged", SegmentWriter))
    ]
    assert len(_columns(unmerged[0])) == len(batches)
    assert _columns(unmerged[0]) == _columns(unmerged[1])
    assert len(_docnums(ours)) == sum(len(d.passages) + 1 for d in documents if d.id not in delete)


@pytest.mark.parametrize("seed", range(40))
def test_the_pools_words_are_whoosh_positions_postings(seed: int) -> None:
    """What `Pool.add_text` indexes (an Analyzed text's kept keys and positions) is, grouped by key,
    what Whoosh's own `Positions` format makes of the same text through the French tokenizer."""
    rnd = random.Random(seed)
    text = " ".join(
        rnd.choice([*WORDS, "l'", "d'Europol", "-", "Aujourd’hui", "État", "1.000"])
        for _ in range(rnd.randint(0, 120))
    )
    fmt = build_schema()["content"].format
    whoosh = {
        key: (frequency, weight, fmt.decode_positions(encoded))
        for key, frequency, weight, encoded in fmt.word_values(text, FrenchTokenizer())
    }
    ours: dict[str, list[int]] = {}
    for key, position in zip(*Analyzed(text).kept(), strict=True):
        ours.setdefault(key, []).append(position)
    assert {key: (len(p), float(len(p)), p) for key, p in ours.items()} == whoosh


@pytest.mark.parametrize(
    ("typecode", "held"), [("B", True), ("i", True), ("q", True), ("l", False), ("e", False)]
)
def test_numeric_columns_are_held_in_arrays_only_where_array_and_struct_agree(
    typecode: str, held: bool
) -> None:
    """`l` is 8 bytes in an array on 64-bit Linux and 4 when Whoosh packs it; `e` has no array: both
    keep Whoosh's own column writer."""
    assert codec_writer._array_packs_as_struct(typecode) is held


def test_term_table_rows_in_bulk_are_the_bytes_of_whoosh_add(tmp_path: Path) -> None:
    """Rows added in a few bulk calls, then closed, write the file Whoosh's row-by-row `add` writes:
    rows, hash tables (with collisions and empty buckets), directory and ordered index."""
    rnd = random.Random(11)
    keys = sorted({bytes(rnd.choices(b"abcdefghij\xc3\xa9", k=rnd.randint(1, 12))) for _ in range(3_000)})
    rows = np.zeros(len(keys), dtype=blockwriter._TERM_ROW)
    rows["df"] = [rnd.randint(1, 10**6) for _ in keys]
    rows["weight"] = [rnd.random() * 100 for _ in keys]
    rows["offset"] = np.cumsum([rnd.randint(1, 2**20) for _ in keys])
    storage = FileStorage(str(tmp_path)).create()

    stock = filetables.OrderedHashWriter(storage.create_file("stock"))
    for key, row in zip(keys, rows, strict=True):
        stock.add(key, row.tobytes())
    stock.close()
    ours = termtable.TermTable(storage.create_file("ours"))
    cuts = [0, 1, 2, 700, 2_500, len(keys)]
    for a, b in itertools.pairwise(cuts):
        ours.add_rows(keys[a:b], rows[a:b])
    ours.close()
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "stock").read_bytes()

    again = termtable.TermTable(storage.create_file("again"))
    again.add_rows(keys[5:6], rows[5:6])
    with pytest.raises(ValueError, match="Keys must increase"):
        again.add_rows(keys[:3], rows[:3])
    again.close()


def test_parallel_build_writes_the_same_index_as_one_process(tmp_path: Path) -> None:
    documents = _documents(300, seed=5)
    one = indexer.build(tmp_path / "one", documents, "tax", parallel_after=None)
    two = indexer.build(tmp_path / "two", documents, "tax", parallel_after=100)
    ix = whoosh_index.open_dir(str(two))
    try:
        assert len(ix._segments()) == 2  # the helper's segment beside ours, not merged
        with ix.reader() as reader:
            arrays = Arrays.load(reader)
            for docnum in arrays.live_passages:  # every passage finds its own document's record
                passage_doc = reader.stored_fields(int(docnum))["doc"]
                assert reader.stored_fields(arrays.record_of(int(docnum)))["doc"] == passage_doc
    finally:
        ix.close()
    assert _dump(one) == _dump(two)
    assert json.loads((one / "vocabulary.json").read_text()) == json.loads(
        (two / "vocabulary.json").read_text()
    )
    assert not any(p.name.endswith(".tmp") or p.name == "part" for p in (tmp_path / "two").rglob("*"))


def test_a_counted_build_too_small_to_share_starts_no_helper(tmp_path: Path) -> None:
    documents = _documents(60, seed=6)
    size = sum(len(d.passages) + 1 for d in documents)
    small = indexer.build(tmp_path / "small", documents, "tax", parallel_after=size // 2 + 1)
    shared = indexer.build(tmp_path / "shared", documents, "tax", parallel_after=size // 2)
    segments = {}
    for name, generation in (("small", small), ("shared", shared)):
        ix = whoosh_index.open_dir(str(generation))
        segments[name] = len(ix._segments())
        ix.close()
    assert segments == {"small": 1, "shared": 2}
    assert _dump(small) == _dump(shared)


def test_a_killed_helper_fails_the_build_and_leaves_the_live_index(tmp_path: Path) -> None:
    documents = _documents(200, seed=9)
    index_dir = tmp_path / "index"
    live = indexer.build(index_dir, documents[:20], "tax", parallel_after=None)

    def killing() -> Iterator[Document]:
        for i, document in enumerate(documents):
            if i == 120:
                helpers = [c for c in multiprocessing.active_children() if c.name == parallel.NAME]
                assert len(helpers) == 1
                os.kill(cast(int, helpers[0].pid), signal.SIGKILL)
            yield document

    with pytest.raises(RuntimeError, match="second indexing process failed"):
        indexer.build(index_dir, killing(), "tax", parallel_after=100)
    assert indexer.live_generation(index_dir) == live
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(["CURRENT", live.name])
    assert len(_docnums(live)) == sum(len(d.passages) + 1 for d in documents[:20])


class Lost(Exception):
    """What a stream of documents raises once it knows it must not be committed (a reader failed)."""


def _failing(documents: list[Document]) -> Iterator[Document]:
    yield from documents
    raise Lost("an indexed document could not be read again")


def test_a_stream_that_fails_after_its_documents_were_written_is_never_committed(tmp_path: Path) -> None:
    """Documents stream into the writers (and the helper) as they come; a failure learnt after the last
    one cancels the new generation, or the update, and leaves the live index as it was."""
    documents = _documents(200, seed=12)
    index_dir = tmp_path / "index"
    live = indexer.build(index_dir, documents[:20], "tax", parallel_after=None)
    with pytest.raises(Lost):
        indexer.build(index_dir, _failing(documents[20:]), "tax", parallel_after=100)
    assert not [c for c in multiprocessing.active_children() if c.name == parallel.NAME]
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(["CURRENT", live.name])
    before = sorted((p.name, p.stat().st_mtime_ns) for p in live.iterdir())
    with pytest.raises(Lost):
        indexer.update(index_dir, _failing(documents[20:40]), ["never-read"], "tax")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in live.iterdir()) == before
    assert len(_docnums(live)) == sum(len(d.passages) + 1 for d in documents[:20])
    assert indexer.update(index_dir, iter(()), iter(()), "tax") is False  # nothing to write: no commit
    assert sorted((p.name, p.stat().st_mtime_ns) for p in live.iterdir()) == before


def test_a_build_rolls_over_to_new_segments_and_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = _documents(300, seed=11)
    one = indexer.build(tmp_path / "one", documents, "tax", parallel_after=None)
    monkeypatch.setattr(indexer, "SEGMENT_PASSAGES", 150)
    monkeypatch.setattr(indexer, "SEND_AHEAD", 40)  # the helper gets 40 more before each full segment
    many = indexer.build(tmp_path / "many", documents, "tax", parallel_after=200)
    ix = whoosh_index.open_dir(str(many))
    try:
        # ~1,300 passages and records: several segments here (the helper keeps its own limit), none merged
        assert len(ix._segments()) >= 6
    finally:
        ix.close()
    assert _dump(one) == _dump(many)


@pytest.mark.parametrize("value", ["p", "2024/doc.txt#p3", "Le Monde", "2024-01-31", "a,b", " x "])
def test_identifier_format_equals_whoosh_existence(value: str) -> None:
    schema = build_schema()
    for name in ("kind", "id", "doc", "year", "source", "type", "date"):
        field = schema[name]
        ours = list(field.format.word_values(value, field.analyzer))
        assert ours == list(formats.Existence.word_values(field.format, value, field.analyzer))


@pytest.mark.parametrize(
    "value", ["", ",", "junalco", "Junalco,douane", " a , b ,a", "A,,a", " , ", "x ,X, x", "éÉ,Œuvre"]
)
def test_keywords_format_equals_whoosh_frequency(value: str) -> None:
    schema = build_schema()
    for name in ("agency", "offence"):
        field = schema[name]
        ours = sorted(field.format.word_values(value, field.analyzer))
        assert ours == sorted(formats.Frequency.word_values(field.format, value, field.analyzer))
