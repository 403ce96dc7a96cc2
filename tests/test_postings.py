"""The arrays beside Whoosh must give Whoosh's own answers: matches, scores, order, facet counts."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import query as wq

from archive import idsets, phrases, query
from archive.codec.positions import encode
from archive.codec.reader import position_lists
from archive.deadline import Deadline
from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings
from archive.vocabulary import Vocabulary

from .conftest import write_documents

WORDS = (
    "blanchiment escroquerie douane gendarmerie réseau enquête saisie tribunal condamné peine prison "
    "argent cocaïne port conteneur société écran juge parquet victime plainte fraude"
).split()


def _corpus(seed: int, n: int) -> dict[str, str | bytes]:
    rnd = random.Random(seed)
    docs: dict[str, str | bytes] = {}
    for i in range(n):
        paragraphs = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 60))) + "." for _ in range(3)]
        year = 2015 + i % 9
        docs[f"{year}/doc{i:03}.md"] = (
            f"---\ntitle: Dossier {i} {rnd.choice(WORDS)}\ndate: {year}-0{1 + i % 9}-1{i % 10}\n"
            f"source: Source {i % 4}\ntype: {rnd.choice(['article', 'rapport'])}\n---\n\n"
            + "\n\n".join(paragraphs)
        )
    return docs


def _indexed_corpus(home: Path) -> Archive:
    (home / "documents").mkdir()
    write_documents(home, _corpus(7, 60))
    archive = Archive(Settings(home=home, passage_min_words=10, passage_max_words=40))
    archive.reindex()
    # an incremental change leaves deleted documents in the segments: the arrays must ignore them
    for name in ("2015/doc000.md", "2016/doc001.md"):
        (home / "documents" / name).write_text("---\ntitle: Remplacé\n---\n\nblanchiment remplacé.\n")
    (home / "documents" / "2017/doc002.md").unlink()
    archive.reindex(accept_changes=True)
    return archive


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """The corpus, built once for the tests that only search it (nothing here writes to it)."""
    archive = _indexed_corpus(tmp_path_factory.mktemp("postings"))
    yield archive
    archive.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Archive]:
    """The corpus of one test, which changes it."""
    archive = _indexed_corpus(tmp_path)
    yield archive
    archive.close()


PARSER = query.make_parser()
PHRASES = [
    '"blanchiment escroquerie"',
    '"argent cocaïne port"',
    '"saisie de la peine"',  # stop words keep their places: "peine" two words after "saisie"
    '"juge juge"',
    '"blanchiment remplacé"',  # in the documents the fixture's update replaced (old versions deleted)
]


def _parsed(text: str) -> wq.Query:
    found = query.parse(PARSER, text).query
    assert found is not None
    return found


QUERIES = [
    wq.Term("content", "blanchiment"),
    wq.And([wq.Term("content", "blanchiment"), wq.Term("content", "douan")]),
    wq.Or([wq.Term("content", "cocain"), wq.Term("content", "port"), wq.Term("title", "dossi")]),
    wq.And([wq.Term("content", "saisi"), wq.Not(wq.Term("content", "jug"))]),
    wq.AndNot(wq.Term("content", "fraud"), wq.Term("content", "plaint")),
    wq.And(
        [wq.Or([wq.Term("content", "tribunal"), wq.Term("content", "parquet")]), wq.Term("content", "pein")]
    ),
    wq.Term("content", "absent"),
    *(_parsed(text) for text in PHRASES),
    _parsed('"cocaïne port" douane'),
    query.parse(PARSER, '"saisie tribunal"').scoring,  # the phrase over passage, heading and title
]


@pytest.mark.parametrize("q", QUERIES, ids=str)
def test_matches_and_ranking_equal_whooshs(indexed: Archive, q: wq.Query) -> None:
    searcher = indexed.searcher
    with searcher.generations.lock:
        gen = searcher.generations.current()
        assert gen is not None
        arrays = gen.arrays
        passages = set(gen.searcher.docs_for_query(wq.Term("kind", "p")))
        expected = sorted(set(gen.searcher.docs_for_query(q)) & passages)
        assert arrays.evaluate(q).tolist() == [d for d in expected if d in set(arrays.live_passages.tolist())]
        ours = arrays.top(q, np.asarray(expected, dtype=np.int64), 15, gen.searcher)
        theirs = gen.searcher.search(q, filter=passages, limit=15)
        assert [d for d, _ in ours] == [h.docnum for h in theirs]
        assert [round(s, 6) for _, s in ours] == [round(h.score, 6) for h in theirs]


def test_term_statistics_equal_whooshs_read_or_not(indexed: Archive) -> None:
    searcher = indexed.searcher
    with searcher.generations.lock:
        gen = searcher.generations.current()
        assert gen is not None
        reader = gen.searcher.reader()
        assert len(list(reader.leaf_readers())) > 1 and gen.arrays.deleted.any()
        words = [b.decode("utf-8") for b in reader.lexicon("content")]
        for i, text in enumerate([*words, "absent"]):
            if i % 2:  # half of them counted from their postings, read first
                gen.arrays.postings("content", text)
            assert gen.arrays.doc_frequency("content", text) == reader.doc_frequency("content", text)
            assert gen.arrays.idf("content", text) == pytest.approx(
                gen.searcher.idf("content", text), rel=1e-12
            )


def test_facet_counts_equal_a_count_over_stored_fields(indexed: Archive) -> None:
    results = indexed.search(SearchRequest("blanchiment", per_page=100, crowding=False))
    hits = [
        h
        for page in (1, 2, 3)
        for h in indexed.search(SearchRequest("blanchiment", per_page=100, page=page, crowding=False)).hits
    ]
    expected: dict[str, dict[str, int]] = {"year": {}, "source": {}, "type": {}}
    for hit in hits:
        year = (hit.date or "")[:4] or "sans-date"  # the undated are counted under a value of their own
        for name, value in (("year", year), ("source", hit.source), ("type", hit.type)):
            if value:
                expected[name][value] = expected[name].get(value, 0) + 1
    assert results.total == len(hits) == len({h.id for h in hits})
    for name, counts in expected.items():
        assert {f.value: f.count for f in results.facets[name]} == counts
    assert results.documents == len({h.document for h in hits})
    assert "2017/doc002.md" not in {h.document for h in hits}


def test_every_passage_maps_to_its_own_documents_record(corpus: Archive) -> None:
    """The order invariant (passages, then their record) survives updates, deletions and merges."""
    corpus.reindex(full=True)
    (corpus.settings.documents_dir / "2018/doc003.md").write_text("---\ntitle: Encore\n---\n\nfraude.\n")
    corpus.reindex(accept_changes=True)
    with corpus.searcher.generations.lock:
        gen = corpus.searcher.generations.current()
        assert gen is not None
        arrays = gen.arrays
        for docnum in arrays.live_passages.tolist():
            record = gen.searcher.stored_fields(arrays.record_of(docnum))
            assert (
                record["doc"] == gen.searcher.stored_fields(docnum)["doc"] and record["id"] == record["doc"]
            )


@given(
    st.lists(st.lists(st.integers(0, 5_000), max_size=400), min_size=1, max_size=5),
    st.sampled_from([5_001, 1_000_000]),
)
def test_set_operations_equal_numpys(lists: list[list[int]], size: int) -> None:
    arrays = [np.unique(np.asarray(values, dtype=np.int64)) for values in lists]
    expected_union = np.unique(np.concatenate(arrays))
    assert idsets.union(arrays, size).tolist() == expected_union.tolist()  # through a mask or a sort
    expected = arrays[0]
    found = arrays[0]
    for other in arrays[1:]:
        expected = np.intersect1d(expected, other, assume_unique=True)
        found = idsets.intersect(found, other)
    assert found.tolist() == expected.tolist()
    assert found.dtype == np.int64 and idsets.union(arrays, size).dtype == np.int64


def test_filters_and_distinct_documents_equal_a_scan(indexed: Archive) -> None:
    with indexed.searcher.generations.lock:
        gen = indexed.searcher.generations.current()
        assert gen is not None
        arrays = gen.arrays
        stored = {d: gen.searcher.stored_fields(d) for d in arrays.live_passages.tolist()}
        records = {d: gen.searcher.stored_fields(d)["data"] for d in arrays.records.tolist()}
        for name, values in (
            ("type", ("article",)),
            ("source", ("Source 1", "Source 3")),
            ("year", ("2016",)),
        ):
            chosen = arrays.having(name, values)
            assert chosen.tolist() == sorted(
                d for d in stored if _facet_value(name, records[arrays.record_of(d)]) in values
            )
            assert arrays.having(name, values) is chosen  # kept for the next search
            assert arrays.distinct_documents(chosen) == len({stored[d]["doc"] for d in chosen.tolist()})


def _facet_value(name: str, record: dict[str, object]) -> str | None:
    if name == "year":
        date = record.get("date")
        return str(date)[:4] if date else None
    value = record.get(name)
    return str(value) if value else None


@st.composite
def _phrase_words(draw: st.DrawFn) -> tuple[int, list[tuple[list[list[int]], int]]]:
    """Candidates and a phrase's words: each word's positions in each candidate, and its offset."""
    count = draw(st.integers(0, 40))
    offsets = draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))
    positions = st.lists(st.integers(0, 12), min_size=1, max_size=6, unique=True).map(sorted)
    return (
        count,
        [  # the first word at offset 0, each next one 0 to 4 words after the one before
            (draw(st.lists(positions, min_size=count, max_size=count)), offset)
            for offset in itertools.accumulate(offsets[1:], initial=0)
        ],
    )


def _term(per_candidate: list[list[int]]) -> tuple[phrases.Positions, np.ndarray[Any, Any]]:
    """A term's positions in candidates 0, 2, 4, ... with a posting between each two (docnums 1, 3, ...)."""
    postings_ = [p for positions in per_candidate for p in (positions, [99, 100])]
    ids = np.arange(len(postings_), dtype=np.int64)
    return position_lists([encode(p) for p in postings_]), ids


@given(_phrase_words(), st.sampled_from([1, 3, 1024]))
def test_phrase_verification_equals_a_loop_over_sets(
    phrase: tuple[int, list[tuple[list[list[int]], int]]], every: int
) -> None:
    count, words = phrase
    candidates = np.arange(0, 2 * count, 2, dtype=np.int64)
    chain = [phrases.Word.of(*_term(per), candidates, offset) for per, offset in words]
    expected = [
        bool(set.intersection(*({p - offset for p in per[j]} for per, offset in words))) for j in range(count)
    ]
    saved = phrases.CHECK_EVERY
    phrases.CHECK_EVERY = every
    try:
        keep, done = phrases.verify(chain, count, None)
    finally:
        phrases.CHECK_EVERY = saved
    assert done == count and keep.tolist() == expected


class _Clock(Deadline):
    """A deadline that passes after `looks` looks at it."""

    def __init__(self, looks: int) -> None:
        super().__init__(None)
        self.looks = looks

    def expired(self) -> bool:
        self.looks -= 1
        return self.looks < 0


@pytest.mark.parametrize(("looks", "done"), [(0, 0), (2, 0), (3, 1), (5, 1), (6, 2), (9, 3)])
def test_phrase_verification_stops_at_the_deadline_and_counts_only_whole_runs(looks: int, done: int) -> None:
    """The clock is looked at before each word (3 here) of each run of candidates; a run cut short is not
    counted."""
    runs = 3
    count = runs * phrases.CHECK_EVERY - 5
    candidates = np.arange(0, 2 * count, 2, dtype=np.int64)
    chain = [phrases.Word.of(*_term([[3 + w, 8]] * count), candidates, w) for w in range(3)]
    keep, verified = phrases.verify(chain, count, _Clock(looks))
    assert verified == min(done * phrases.CHECK_EVERY, count)
    assert keep[:verified].all() and not keep[verified:].any()
    assert phrases.verify(chain, count, Deadline(60.0))[1] == count


def test_the_vocabulary_is_read_again_when_its_file_changes(corpus: Archive) -> None:
    """An incremental reindex saves the vocabulary just after its Whoosh commit: a generation opened in
    between must not keep the previous words until the next commit."""
    gen = corpus.searcher.generations.current()
    assert gen is not None
    before = gen.vocabulary
    assert before.frequency("zorglubesque") == 0
    Vocabulary({**before.counts, "zorglubesque": 1}).save(gen.path)
    assert gen.vocabulary.frequency("zorglubesque") == 1
    assert gen.vocabulary is gen.vocabulary  # loaded once per change, not per call
