"""Sloppy phrases (`"délai prescription"~3`) on the arrays give Whoosh's own answers: matches, scores, order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import query as wq

from archive import phrases, query
from archive.codec.positions import encode
from archive.codec.reader import position_lists
from archive.home import Archive
from archive.settings import Settings

from .conftest import write_documents
from .test_postings import _corpus

PARSER = query.make_parser()
SLOPPY = [
    '"blanchiment escroquerie"~2',
    '"argent cocaïne port"~3',
    '"saisie de la peine"~2',  # "peine" 3 positions after "saisie" in the query: 1 to 4 here
    '"juge juge"~4',
    '"douane gendarmerie réseau enquête"~5',
    '"blanchiment remplacé"~3',  # in the documents the update replaced (old versions deleted)
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    home: Path = tmp_path_factory.mktemp("slop")
    (home / "documents").mkdir()
    write_documents(home, _corpus(11, 60))
    archive = Archive(Settings(home=home, passage_min_words=10, passage_max_words=40))
    archive.reindex()
    for name in ("2015/doc000.md", "2016/doc001.md"):  # deleted documents stay in the segments
        (home / "documents" / name).write_text("---\ntitle: Remplacé\n---\n\nblanchiment x remplacé.\n")
    archive.reindex(accept_changes=True)
    yield archive
    archive.close()


@pytest.mark.parametrize("text", SLOPPY)
@pytest.mark.parametrize("ranked", [False, True], ids=["passage", "three fields"])
def test_sloppy_phrases_equal_whooshs(corpus: Archive, text: str, ranked: bool) -> None:
    parsed = query.parse(PARSER, text)
    q = parsed.scoring if ranked else parsed.query
    assert q is not None
    with corpus.searcher.generations.use() as gen:
        assert gen is not None
        passages = set(gen.searcher.docs_for_query(wq.Term("kind", "p")))
        expected = sorted(set(gen.searcher.docs_for_query(q)) & passages)
        assert gen.arrays.evaluate(q).tolist() == expected
        ours = gen.arrays.top(q, np.asarray(expected, dtype=np.int64), 15, gen.searcher)
        theirs = gen.searcher.search(q, filter=passages, limit=15)
        assert [d for d, _ in ours] == [h.docnum for h in theirs]
        assert [round(s, 6) for _, s in ours] == [round(h.score, 6) for h in theirs]
        if text != SLOPPY[-1]:
            assert expected, "the phrase should match something in this corpus"


def _term(
    per_candidate: list[list[int]],
) -> tuple[phrases.Positions, np.ndarray[tuple[int], np.dtype[np.int64]]]:
    """A term's positions in candidates 0, 2, 4, ... with a posting between each two (docnums 1, 3, ...)."""
    postings_ = [p for positions in per_candidate for p in (positions, [99, 100])]
    ids = np.arange(len(postings_), dtype=np.int64)
    return position_lists([encode(p) for p in postings_]), ids


_positions = st.lists(st.integers(0, 30), min_size=1, max_size=6, unique=True).map(sorted)


@st.composite
def _sloppy(draw: st.DrawFn) -> tuple[int, list[list[list[int]]], list[tuple[int, int]]]:
    count = draw(st.integers(1, 6))
    n = draw(st.integers(2, 4))
    words = [draw(st.lists(_positions, min_size=count, max_size=count)) for _ in range(n)]
    reach = []
    for _ in range(n - 1):
        low = draw(st.integers(1, 3))
        reach.append((low, low + draw(st.integers(0, 4))))
    return count, words, reach


def _reachable(words: list[list[int]], reach: list[tuple[int, int]]) -> bool:
    ends = set(words[0])
    for positions, (low, high) in zip(words[1:], reach, strict=True):
        ends = {p for p in positions if any(low <= p - e <= high for e in ends)}
    return bool(ends)


@given(_sloppy(), st.sampled_from([1, 3, 1024]))
def test_sloppy_verification_equals_a_loop_over_sets(
    phrase: tuple[int, list[list[list[int]]], list[tuple[int, int]]], every: int
) -> None:
    count, words, reach = phrase
    candidates = np.arange(0, 2 * count, 2, dtype=np.int64)
    chain = [phrases.Word.of(*_term(per), candidates, 0) for per in words]
    expected = [_reachable([per[j] for per in words], reach) for j in range(count)]
    saved = phrases.CHECK_EVERY
    phrases.CHECK_EVERY = every
    try:
        keep, done = phrases.verify(chain, count, None, reach)
    finally:
        phrases.CHECK_EVERY = saved
    assert done == count and keep.tolist() == expected


def test_a_sloppy_phrase_is_read_by_the_arrays() -> None:
    chain = query.parse(PARSER, '"délai prescription"~3').query
    from archive.postings import _chain

    assert isinstance(chain, wq.Query)
    assert [(low, high) for *_, low, high in _chain(chain)] == [(0, 0), (1, 3)]
    assert not phrases.exact(_chain(chain)) and phrases.offsets(_chain(chain)) == [0, 0]
