"""Raw positions (`archive.codec.positions`): what Whoosh's `Positions` format says, in other bytes; and an
index written before them (pickled positions) is never misread, then rebuilt."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import fields, formats
from whoosh import index as whoosh_index

from archive import indexer, pipeline, postings, query
from archive.codec import pickled
from archive.codec.positions import RawPositions, decode, encode, packed
from archive.codec.reader import position_lists
from archive.home import Archive
from archive.indexer import live_generation
from archive.request import SearchRequest
from archive.schema import SCHEMA_VERSION, SEARCHABLE, build_schema
from archive.settings import Settings

POSITION_LISTS = st.lists(
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=80, unique=True).map(sorted), max_size=30
)


def test_a_value_is_little_endian_4_byte_ints_whatever_the_machine() -> None:
    assert encode([1, 258, 2**32 - 1]) == b"\x01\0\0\0" + b"\x02\x01\0\0" + b"\xff\xff\xff\xff"
    assert decode(b"\x01\0\0\0\x02\x01\0\0") == [1, 258]


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=300).map(sorted), st.sampled_from([1.0, 1.5]))
def test_raw_positions_decode_as_whooshs_positions(positions: list[int], boost: float) -> None:
    """Every `decode_*` Whoosh's span queries and highlighter call says what `Positions` says."""
    ours, theirs = RawPositions(field_boost=boost), formats.Positions(field_boost=boost)
    raw, pickled_value = ours.encode(positions), theirs.encode(positions)
    assert len(raw) == 4 * len(positions)
    for name in ("positions", "frequency", "weight", "position_boosts"):
        assert ours.decode_as(name, raw) == theirs.decode_as(name, pickled_value), name
    assert ours.decode_positions(ours.combine([raw, ours.encode([0, 7])])) == sorted({*positions, 0, 7})


def test_the_text_fields_have_raw_positions_and_their_boosts() -> None:
    schema = build_schema()
    assert {name: (type(schema[name].format), schema[name].format.field_boost) for name in SEARCHABLE} == {
        "content": (RawPositions, 1.0),
        "title": (RawPositions, 1.5),
        "section": (RawPositions, 1.2),
    }
    assert SCHEMA_VERSION >= 7  # 7: raw positions; an index of 6 or less has pickled ones


@given(POSITION_LISTS)
def test_many_values_at_once_are_each_encode_as_a_pickled_byte_string(lists: list[list[int]]) -> None:
    flat = np.asarray([p for positions in lists for p in positions], dtype=np.int64)
    starts = np.cumsum([0, *map(len, lists)]).astype(np.int64)
    data, item_offsets = pickled.byte_strings(packed(flat, starts))
    items = [data[a:b].tobytes() for a, b in itertools.pairwise(item_offsets)]
    assert [pickle.loads(item + b".") for item in items] == [encode(positions) for positions in lists]


@given(POSITION_LISTS)
def test_position_lists_read_every_value_at_once(lists: list[list[int]]) -> None:
    positions, starts = position_lists([encode(p) for p in lists])
    assert [positions[a:b].tolist() for a, b in itertools.pairwise(starts)] == lists
    assert starts.dtype == np.int64 and len(starts) == len(lists) + 1


# ---------------------------------------------------------------- an index of the schema before


def _pickled_positions_schema() -> fields.Schema:
    """The schema of version 6: the text fields with Whoosh's own `Positions`."""
    schema = build_schema()
    for name in SEARCHABLE:
        schema[name].format = formats.Positions(field_boost=schema[name].format.field_boost)
    return schema


PHRASE = '"blanchiment aggravé"'


def test_an_index_with_pickled_positions_is_never_misread_and_reindex_rebuilds_it(home: Path) -> None:
    """An index written before raw positions: the arrays refuse its values (Whoosh's own matchers read
    them), the searcher refuses the index for its schema version, and `reindex` rebuilds it."""
    with pytest.MonkeyPatch.context() as patch:  # version 6 writing its index
        patch.setattr(indexer, "build_schema", _pickled_positions_schema)
        for module in (indexer, pipeline):
            patch.setattr(module, "SCHEMA_VERSION", 6)
        with Archive(Settings(home=home)) as old:
            old.reindex()
    generation = live_generation(home / "index")
    assert generation is not None
    phrase = query.parse(query.make_parser(), PHRASE).query
    assert phrase is not None
    ix = whoosh_index.open_dir(str(generation))
    try:
        assert type(ix.schema["content"].format) is formats.Positions
        with ix.searcher() as searcher:
            arrays = postings.Arrays.load(searcher.reader())
            with pytest.raises(postings.Unsupported):
                arrays.evaluate(phrase)
            expected = {searcher.stored_fields(d)["id"] for d in searcher.docs_for_query(phrase)}
    finally:
        ix.close()
    with Archive(Settings(home=home)) as archive:
        refused = archive.search(SearchRequest(PHRASE))
        assert refused.total == 0
        assert any("version précédente" in note and "archive reindex" in note for note in refused.notes)
        assert [p.message for p in archive.check() if p.path == "index/"] == [
            f"index must be rebuilt (index schema version 6 differs from {SCHEMA_VERSION}): run `archive reindex`"
        ]
        archive.reindex()
        rebuilt = live_generation(home / "index")
        assert rebuilt is not None and rebuilt != generation
        assert {hit.id for hit in archive.search(SearchRequest(PHRASE, per_page=100)).hits} == expected
        assert expected and archive.check() == []
