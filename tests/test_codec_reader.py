"""The codec's read side must read what Whoosh's own readers read: postings, positions, lengths, columns."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from whoosh import columns, fields, index, scoring
from whoosh.codec import whoosh3

from archive.codec import reader as codec
from archive.codec.positions import RawPositions

WORDS = "saisie douane port conteneur juge parquet fraude plainte".split()


def test_bm25_constants_are_whooshs_defaults() -> None:
    default = scoring.BM25F()
    assert (codec.BM25_B, codec.BM25_K1) == (default.B, default.K1)


@pytest.fixture(scope="module", params=["mapped", "read"])
def whoosh_index(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Any]:
    """An index written by Whoosh's own writer: three segments, one with deletions, and posting lists of
    one posting, of one block and of several blocks. (None inlined in its term: whoosh-reloaded 2.7.5
    never inlines by default, and fails when asked to, `W3TermInfo.set_inline` being missing.) Opened as
    Whoosh opens it (files mapped in memory), and as the archive does (`open_index`: plain reads, which
    the codec makes positional)."""
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        content=fields.TEXT(phrase=True),
        title=fields.TEXT(field_boost=1.5),
        position=fields.COLUMN(columns.NumericColumn("i")),
    )
    for name, boost in (("content", 1.0), ("title", 1.5)):  # the text fields' format, as archive's schema
        schema[name].format = RawPositions(field_boost=boost)
    directory = tmp_path_factory.mktemp("whoosh")
    ix = index.create_in(str(directory), schema)
    rnd = random.Random(3)
    for segment in range(3):
        writer = ix.writer()
        for i in range(300 if segment == 0 else 40):
            words = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 150))]
            if segment == 1 and i == 7:
                words.append("unique")
            fields_: dict[str, Any] = {"id": f"{segment}-{i}", "content": " ".join(words), "title": words[0]}
            if i % 3:
                fields_["position"] = i
            writer.add_document(**fields_)
        writer.commit(merge=False)
    writer = ix.writer()
    for i in range(0, 300, 7):
        writer.delete_by_term("id", f"0-{i}")
    writer.commit(merge=False)
    if request.param == "read":
        ix.close()
        ix = codec.open_index(directory)
    with ix.reader() as r:
        positional = [
            isinstance(codec._reads(leaf._terms._postfile), codec.Positional) for leaf, _ in r.leaf_readers()
        ]
        assert positional == [request.param == "read"] * 3
        yield r
    ix.close()


def _leaves(r: Any) -> list[tuple[Any, int]]:
    leaves = list(r.leaf_readers())
    assert len(leaves) == 3
    return leaves


@pytest.mark.parametrize("fieldname", ["content", "title"])
def test_postings_equal_whooshs_matcher(whoosh_index: Any, fieldname: str) -> None:
    for leaf, _ in _leaves(whoosh_index):
        deleted = set(leaf.all_doc_ids()) ^ set(range(leaf.doc_count_all()))
        for btext in leaf.lexicon(fieldname):
            text = btext.decode("utf-8")
            values: list[bytes] = []
            ids, weights = codec.read_postings(leaf, fieldname, text, values)
            live = [j for j, d in enumerate(ids.tolist()) if d not in deleted]
            matcher = leaf.postings(fieldname, text)  # Whoosh leaves deleted documents out
            expected = []
            while matcher.is_active():
                expected.append((matcher.id(), matcher.weight(), matcher.value_as("positions")))
                matcher.next()
            assert [(int(ids[j]), float(weights[j])) for j in live] == [(d, w) for d, w, _ in expected]
            positions, starts = codec.position_lists([values[j] for j in live])
            found = [positions[a:b].tolist() for a, b in itertools.pairwise(starts)]
            assert found == [list(p) for _, _, p in expected]


def test_a_term_or_field_a_segment_lacks_has_no_postings(whoosh_index: Any) -> None:
    held = {leaf: {b.decode("utf-8") for b in leaf.lexicon("content")} for leaf, _ in _leaves(whoosh_index)}
    everywhere = set.union(*held.values())
    for leaf, _ in _leaves(whoosh_index):
        for text in [*sorted(everywhere - held[leaf])[:20], "zzzabsent"]:
            ids, weights = codec.read_postings(leaf, "content", text)
            assert ids.size == weights.size == 0 and ("content", text) not in leaf
        assert codec.read_postings(leaf, "no_such_field", "saisie")[0].size == 0


def test_stored_fields_equal_whooshs(whoosh_index: Any) -> None:
    n = whoosh_index.doc_count_all()
    stored = codec.StoredFields(whoosh_index, threading.Lock())
    assert [stored(d) for d in range(n)] == [whoosh_index.stored_fields(d) for d in range(n)]
    assert {stored(d)["id"] for d in range(n)} == {
        f"{s}-{i}" for s, count in enumerate((300, 40, 40)) for i in range(count)
    }
    # read by the codec itself, not through Whoosh: positionally where the index is read without mmap
    positional = isinstance(codec._reads(_leaves(whoosh_index)[0][0]._terms._postfile), codec.Positional)
    assert [type(part[3]) is codec.Positional for part in stored._parts] == [positional] * 3


def test_field_lengths_equal_whooshs(whoosh_index: Any) -> None:
    for leaf, _ in _leaves(whoosh_index):
        for fieldname in ("content", "title", "id"):
            expected = [leaf.doc_field_length(d, fieldname, 0) for d in range(leaf.doc_count_all())]
            assert codec.segment_lengths(leaf, fieldname).tolist() == expected


def test_position_column_and_deletions_equal_whooshs(whoosh_index: Any) -> None:
    n = whoosh_index.doc_count_all()
    expected = [v for leaf, _ in _leaves(whoosh_index) for v in leaf.column_reader("position")]
    assert codec.position_column(whoosh_index, n).tolist() == expected
    assert codec.deleted_mask(whoosh_index, n).tolist() == [whoosh_index.is_deleted(d) for d in range(n)]


def test_a_layout_other_than_whoosh3_is_refused(whoosh_index: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    leaf, _ = _leaves(whoosh_index)[0]
    monkeypatch.setattr(whoosh3, "WHOOSH3_HEADER_MAGIC", b"W9PL")
    with pytest.raises(codec.UnknownLayout):
        codec.read_postings(leaf, "content", "saisie")


def test_field_lengths_of_an_empty_segment_is_empty() -> None:
    assert codec.field_lengths(None, "content", 0).tolist() == []


def test_the_index_holds_short_and_long_posting_lists(whoosh_index: Any) -> None:
    """The fixture covers lists of one posting and of several blocks (else the tests above prove less)."""
    leaves = _leaves(whoosh_index)
    infos = [
        leaf.term_info("content", t)
        for leaf, _ in leaves
        for t in [*WORDS, "unique"]
        if ("content", t) in leaf
    ]
    assert min(info.doc_frequency() for info in infos) == 1
    assert max(info.doc_frequency() for info in infos) > 128
