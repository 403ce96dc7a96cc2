"""The vocabulary beside the index: it must agree with what Whoosh holds."""

from __future__ import annotations

from pathlib import Path

from archive import analysis
from archive.home import Archive
from archive.indexer import live_generation
from archive.request import SearchRequest
from archive.vocabulary import Vocabulary


def test_every_vocabulary_word_is_in_the_index_and_every_passage_word_in_the_vocabulary(
    archive: Archive,
) -> None:
    generation = live_generation(archive.settings.index_dir)
    assert generation is not None
    vocabulary = Vocabulary.load(generation)
    everything = archive.search(SearchRequest("", per_page=100))
    expected: dict[str, int] = {}
    for hit in everything.hits:
        for word in analysis.Analyzed(hit.text).words():
            expected[word] = expected.get(word, 0) + 1
    for word, count in expected.items():
        assert vocabulary.frequency(word) >= count, word
        # and Whoosh finds each word through its key
        assert archive.search(SearchRequest(f'"{vocabulary.form(word)}"')).total >= 1, word


def test_prefix_and_wildcard_agree_with_a_plain_scan() -> None:
    v = Vocabulary({"condamne": 3, "condamnation": 5, "condition": 1, "cond": 1, "blanchiment": 9})
    assert v.prefixed("condam", 10) == (["condamnation", "condamne"], 2)
    assert v.prefixed("cond", 1) == (["condamnation"], 4)
    assert v.matching("cond*n", 10) == (["condamnation", "condition"], 2)
    assert v.matching("?lanchiment", 10) == (["blanchiment"], 1)
    assert v.similar("blanchimant") == ["blanchiment"]


def test_incremental_update_adds_words_and_survives_reload(archive: Archive, home: Path) -> None:
    (home / "documents" / "nouveau.txt").write_text("Un hélicoptère de la gendarmerie.", encoding="utf-8")
    archive.reindex()
    generation = live_generation(archive.settings.index_dir)
    assert generation is not None
    assert Vocabulary.load(generation).form("helicoptere") == "hélicoptère"
