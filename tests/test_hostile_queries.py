"""Hostile query text: any string is parsed, analysed and searched, with bounded work, without raising.

`test_search.py` holds the table of classic hostile queries and a small Hypothesis test over plain text;
this module generates the hostile kinds themselves (controls, NUL, lone surrogates, RTL marks, syntax
fragments, nesting, thousands of terms, wildcards everywhere) and checks the bounds the notes promise:
the query cut to MAX_QUERY_CHARS and MAX_TERMS, every expansion to MAX_EXPANSION, and every call
returning (a hang guard, not a speed limit: how fast is measured in bench/).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from whoosh import query as wq

from archive import analysis, query
from archive.highlighting import Marks, highlight
from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings
from archive.vocabulary import Vocabulary

from .conftest import SMALL_ARCHIVE, within_guard, write_documents

PARSER = query.make_parser()

# Characters a query parser or analyzer is likely to trip on.
_NASTY = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f\x85\x9f"  # C0/C1 controls, NUL
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"  # bidi, BOM
    "\ud800\udbff\udc00\udfff"  # lone surrogates
    "*?()[]{}\"':^~+-!&|\\/<>=, .’ʼ‐–"  # the parser's syntax and the analyzer's joiners
    "éèêàçœŒæßıİﬁ\u0301\u0327"  # accents, ligatures, combining marks, dotted/dotless i
)
_FRAGMENTS = [
    "AND",
    "OR",
    "NOT",
    "ANDNOT",
    "ANDMAYBE",
    "(",
    ")",
    '"',
    "*",
    "?",
    "~",
    "~2",
    "^2",
    "^0.5",
    "^-1",
    "^1e308",
    "title:",
    "titre:",
    "agency:",
    "agence:",
    "offence:",
    "infraction:",
    "year:",
    "annee:",
    "année:",
    "doc:",
    "kind:",
    "data:",
    "content:",
    "words:",
    "section:",
    "rubrique:",
    "year:[2020 TO 2022]",
    "year:[ TO ]",
    "year:{2020 TO}",
    "[",
    "]",
    "{",
    "}",
    "TO",
    "blanchiment",
    "aggravé",
    "condamn*",
    "*ment",
    "?*?*?*",
    "*a*",
    "l'",
    "aujourd'hui",
    "anti-refoulement",
    "O.N.U.",
    "1,2",
    "garde à vue",
    "\u202e",
    "\x00",
    "\ud800",
    "",
]


@st.composite
def hostile_queries(draw: st.DrawFn) -> str:
    """Query text built from syntax fragments, nasty characters and arbitrary Unicode (surrogates included)."""
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(_FRAGMENTS),
                st.text(alphabet=_NASTY, max_size=8),
                st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
            ),
            max_size=40,
        )
    )
    separator = draw(st.sampled_from([" ", "", "  ", "\t", "\n", "\u00a0"]))
    return separator.join(pieces)


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    home: Path = tmp_path_factory.mktemp("hostile-home")
    (home / "documents").mkdir()
    write_documents(home, dict(SMALL_ARCHIVE))
    archive = Archive(Settings(home=home))
    archive.reindex()
    yield archive
    archive.close()


def _search(archive: Archive, text: str) -> None:
    """The search returns a coherent answer of one page at most."""
    request = SearchRequest(text)
    results = within_guard(archive.search, request)
    assert results.total >= 0 and isinstance(results.interpreted_as, str)
    assert len(results.hits) <= min(results.total, request.per_page)


# ------------------------------------------------------------------ property tests


@settings(max_examples=200, deadline=2000)
@given(hostile_queries())
def test_parser_never_raises_on_hostile_text(text: str) -> None:
    parsed = query.parse(PARSER, text)
    assert len(parsed.text) <= query.MAX_QUERY_CHARS
    assert not re.search(r"[\x00-\x1f\ud800-\udfff\u202a-\u202e]", parsed.text)
    assert isinstance(parsed.interpretation, str)


@settings(max_examples=200, deadline=2000)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=400) | hostile_queries())
def test_analyzer_never_raises_and_highlight_is_escaped_text(text: str) -> None:
    toks = list(analysis.tokens(text))
    assert all(0 <= t.start <= t.end <= len(text) for t in toks)
    assert isinstance(analysis.keys(text), list)
    wanted = {t.key for t in toks[::2]}
    marked = highlight(text, Marks(frozenset(wanted)))
    bare = marked.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in bare and ">" not in bare
    assert html.unescape(bare) == text  # highlighting adds <mark> and escapes; it never loses text


@settings(
    max_examples=150,
    deadline=None,  # no speed limit: a loaded machine is slow, not wrong
    suppress_health_check=[HealthCheck.too_slow],
)
@given(hostile_queries())
def test_any_hostile_query_is_searched(small_archive: Archive, text: str) -> None:
    _search(small_archive, text)


# ------------------------------------------------------------------ the extreme shapes, one by one

EXTREME = {
    "double-not": "NOT NOT blanchiment",
    "not-chain": "NOT " * 300 + "blanchiment",
    "trailing-nots": "blanchiment " + "NOT " * 50,
    "not-and": "NOT AND blanchiment",
    "not-or": "condamnés OR NOT OR blanchiment",
    "andnot-andnot": "blanchiment ANDNOT ANDNOT corruption",
    "100k-chars": ("blanchiment aggravé " * 5000)[:100_000],
    "100k-no-space": "é" * 100_000,
    "100k-surrogates-and-controls": ("\ud800\x00\u202e\udc00a" * 20_000),
    "nested-words": "(blanchiment " * 2000 + ")" * 2000,
    "nested-or": "(" * 500 + " OR ".join(["blanchiment"] * 100) + ")" * 500,
    "unbalanced-closing": ")" * 5000 + "blanchiment" + "(" * 5000,
    "thousands-of-terms": " ".join(f"mot{i}" for i in range(5000)),
    "thousands-of-or": " OR ".join(f"mot{i}" for i in range(3000)),
    "thousands-of-groups": " ".join(f"(a{i} OR b{i})" for i in range(2000)),
    "stars-everywhere": "*" * 1000,
    "questions-everywhere": "?" * 1000,
    "mixed-wildcards": "*?" * 500,
    "wildcard-words": " ".join(["*a*", "?*?*?*", "*e*", "*i*", "*o*"] * 100),
    "fields-everywhere": " ".join(f"title:*{c}* agency:{c}* year:[{c} TO {c}]" for c in "abcdefghij" * 10),
    "ranges": " ".join(f"year:[{i} TO {10**30}]" for i in range(100)),
    "boosts": " ".join(f"blanchiment^{10**i}" for i in range(300)),
    "fuzzy": " ".join(f"blanchiment~{i}" for i in range(300)),
    "long-phrase": '"' + " ".join(["blanchiment aggravé"] * 400) + '"',
    "phrase-slop": '"' + "blanchiment " * 300 + '"~99999',
    "many-phrases": " ".join('"garde à vue"' for _ in range(300)),
    "elisions": "l'" * 500,
    "hyphens": "-".join(["anti"] * 500),
    "acronym": "A." * 500,
    "numbers": "1," * 500,
    "rtl": "\u202eblanchiment\u202c \u200fcondamnés\u200e \u2067aggravé\u2069",
}


@pytest.mark.parametrize("text", list(EXTREME.values()), ids=list(EXTREME))
def test_extreme_query_shapes_parse_and_search_within_bounds(small_archive: Archive, text: str) -> None:
    parsed = within_guard(query.parse, PARSER, text)
    assert len(parsed.text) <= query.MAX_QUERY_CHARS
    if isinstance(parsed.query, wq.And | wq.Or):
        assert len(parsed.query.subqueries) <= query.MAX_TERMS
    _search(small_archive, text)


# ------------------------------------------------------------------ the analyzer over 100,000 characters

LONG_TEXTS = {
    "words": "Le blanchiment aggravé d'Europol. " * 3000,
    "one-word": "a" * 100_000,
    "elisions": "l'" * 50_000,
    "typographic-elisions": "l’" * 50_000,
    "hyphens": "a-" * 50_000,
    "apostrophes-and-hyphens": "qu'a-" * 20_000,
    "acronym": "A." * 50_000,
    "number": "1," * 50_000,
    "combining": "e\u0301" * 50_000,
    "surrogates": "\ud800a" * 50_000,
}


@pytest.mark.parametrize("text", list(LONG_TEXTS.values()), ids=list(LONG_TEXTS))
def test_analyzer_gets_through_100k_characters(text: str) -> None:
    toks = within_guard(lambda: list(analysis.tokens(text)))
    assert len(toks) <= len(text) and all(0 <= t.start <= t.end <= len(text) for t in toks)
    marked = within_guard(highlight, text, Marks(frozenset(t.key for t in toks[:10])))
    bare = marked.replace("<mark>", "").replace("</mark>", "")
    assert html.unescape(bare) == text  # nothing lost on the way, however long the text


# ------------------------------------------------------------------ expansion bounds


@pytest.fixture(scope="module")
def big_vocabulary() -> Vocabulary:
    """Thousands of words sharing prefixes and letters, more than any expansion may take."""
    return Vocabulary(
        {f"mot{i:05d}": i % 97 + 1 for i in range(5000)} | {"blanchiment": 3, "blanchiments": 1}
    )


@pytest.mark.parametrize(
    "pattern",
    [
        wq.Prefix("content", "mot"),
        wq.Wildcard("content", "*o*"),
        wq.Wildcard("content", "?*?*?*"),
        wq.Wildcard("content", "m?t*"),
        wq.FuzzyTerm("content", "mot00000", maxdist=2),
    ],
    ids=["prefix", "infix", "any-of-three", "wildcard", "fuzzy"],
)
def test_wildcard_and_fuzzy_expansion_is_bounded(big_vocabulary: Vocabulary, pattern: wq.Query) -> None:
    notes: list[str] = []
    expanded = within_guard(query.expand, pattern, big_vocabulary, notes)
    terms = [leaf for leaf in expanded.leaves()] if not expanded.is_leaf() else [expanded]
    assert 0 < len(terms) <= query.MAX_EXPANSION
    if not isinstance(pattern, wq.FuzzyTerm):
        assert any(str(query.MAX_EXPANSION) in n for n in notes), notes  # the cut is said, not silent


def test_every_wildcard_of_a_query_is_bounded(big_vocabulary: Vocabulary) -> None:
    """64 patterns of 200 words each made 12,800 terms to score in every field: one 485-byte query
    (`*a* OR *b* OR ... OR *ss*`) held a search thread for 20 s at 200,000 passages, and ten of them
    every search thread for minutes. The whole query now stands for at most MAX_EXPANDED words, and
    says so."""
    parsed = query.parse(PARSER, " OR ".join(f"*{i:02d}*" for i in range(64)))  # 64 distinct infixes
    notes: list[str] = []
    expanded = query.expand(parsed.query, big_vocabulary, notes)
    terms = [leaf for leaf in expanded.leaves() if isinstance(leaf, wq.Term)]
    assert query.MAX_EXPANSION < len(terms) <= query.MAX_EXPANDED
    assert len(cast(Any, parsed.query).subqueries) <= query.MAX_TERMS
    assert any("1000 mots pour toute la recherche" in n for n in notes), notes


def test_patterns_are_not_expanded_past_the_deadline(big_vocabulary: Vocabulary) -> None:
    """Each pattern scans the vocabulary (1.5 million words on an attacked archive): past the
    deadline the patterns left match nothing, and the notes say so."""
    parsed = query.parse(PARSER, "blanchiment OR mot* OR *o*")
    notes: list[str] = []
    expanded = query.expand(parsed.query, big_vocabulary, notes, expired=lambda: True)
    texts = [getattr(leaf, "text", None) for leaf in expanded.leaves()]
    assert not any(str(t).startswith("mot") for t in texts) and analysis.key("blanchiment") in texts, texts
    assert any("n'ont pas été développés" in n for n in notes), notes


@pytest.mark.parametrize("depth", [31, 33, 330])
def test_deeply_nested_parentheses_are_read_not_raised(web_client: TestClient, depth: int) -> None:
    """`q=` 330 × `(`, a word, 330 × `)` (671 bytes) answered 500 with 200 KB of traceback in the log
    per request: the parser coped, rendering its tree overflowed the recursion limit. Parentheses
    nested past MAX_DEPTH are dropped, the words searched, and a note says so."""
    text = "(" * depth + "blanchiment aggravé" + ")" * depth
    parsed = query.parse(PARSER, text)
    assert "blanchiment" in parsed.interpretation
    assert (depth > query.MAX_DEPTH) == any("imbriquées" in n for n in parsed.notes), parsed.notes
    for path in ("/search", "/documents/2024/blanchiment-lyon.md"):
        answer = web_client.get(path, params={"q": text}, headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.text[:300]
