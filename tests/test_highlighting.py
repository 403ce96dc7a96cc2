"""The highlighter: single words marked everywhere, phrases marked whole and only where they stand as phrases."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive import highlighting
from archive.analysis import key
from archive.highlighting import NOTHING, Marks, Phrase, highlight


def words(*texts: str) -> Marks:
    return Marks(frozenset(key(t) for t in texts))


def phrase(text: str, slop: int = 1) -> Phrase:
    """The phrase the parser builds for `"text"~slop` (stop words keep their places)."""
    from archive.phrasing import phrase_words

    parts = phrase_words(text)
    exact = Phrase.exact(parts)
    if slop <= 1:
        return exact
    return Phrase(exact.keys, tuple((1, high + slop - 1) for _, high in exact.gaps))


def test_doctests() -> None:
    assert doctest.testmod(highlighting).failed == 0


@pytest.mark.parametrize(
    "text, marks, expected",
    [
        (
            "Placé en garde à vue hier, puis en garde-à-vue.",
            Marks(phrases=(phrase("garde à vue"),)),
            "Placé en <mark>garde à vue</mark> hier, puis en <mark>garde-à-vue</mark>.",
        ),
        (  # the words of a phrase alone are not marked
            "La garde des enfants, la vue sur mer.",
            Marks(phrases=(phrase("garde à vue"),)),
            "La garde des enfants, la vue sur mer.",
        ),
        (  # a phrase with its stop word elided
            "Le délai de prescription de l'action publique court.",
            Marks(phrases=(phrase("prescription de l'action publique"),)),
            "Le délai de <mark>prescription de l'action publique</mark> court.",
        ),
        (  # a sloppy phrase marks the window of its words
            "Le délai de la prescription est de six ans ; le délai court encore, puis la prescription.",
            Marks(phrases=(phrase("délai prescription", 3),)),
            "Le <mark>délai de la prescription</mark> est de six ans ; le délai court encore, puis la prescription.",
        ),
        (  # phrase and single words together; accents and case as written
            "GARDE À VUE d'un mineur : le Mineur est entendu.",
            Marks(frozenset({key("mineur")}), (phrase("garde à vue"),)),
            "<mark>GARDE À VUE</mark> d'un <mark>mineur</mark> : le <mark>Mineur</mark> est entendu.",
        ),
        (  # a word of the query inside a phrase occurrence: one mark
            "Placé en garde à vue.",
            Marks(frozenset({key("vue")}), (phrase("garde à vue"),)),
            "Placé en <mark>garde à vue</mark>.",
        ),
        (  # markup in the text stays escaped, inside and outside marks
            "<b>garde à vue</b> & <i>",
            Marks(phrases=(phrase("garde à vue"),)),
            "&lt;b&gt;<mark>garde à vue</mark>&lt;/b&gt; &amp; &lt;i&gt;",
        ),
        ("Pédocriminalité", NOTHING, "Pédocriminalité"),
        ("La Pédocriminalité <b>", words("pedocriminalite"), "La <mark>Pédocriminalité</mark> &lt;b&gt;"),
        ("les anti-refoulement", words("refoulement"), "les anti-<mark>refoulement</mark>"),
    ],
)
def test_highlight(text: str, marks: Marks, expected: str) -> None:
    assert highlight(text, marks) == expected


def test_overlapping_occurrences_of_a_phrase_are_one_mark() -> None:
    marks = Marks(phrases=(phrase("vue vue"),))
    assert highlight("vue vue vue", marks) == "<mark>vue vue vue</mark>"


def test_the_nearest_end_of_a_sloppy_phrase_is_marked() -> None:
    marks = Marks(phrases=(phrase("délai prescription", 3),))
    assert (
        highlight("délai prescription prescription", marks) == "<mark>délai prescription</mark> prescription"
    )


@given(st.text(max_size=200), st.text(max_size=30))
def test_any_text_comes_back_escaped_with_only_marks(text: str, query: str) -> None:
    marks = Marks(frozenset(key(w) for w in query.split() if w), (phrase(query),) if query.strip() else ())
    if marks.phrases and not marks.phrases[0].keys:
        marks = Marks(marks.words)
    out = highlight(text, marks)
    bare = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in bare and bare == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FRENCH = st.lists(
    st.sampled_from(
        ["garde", "vue", "l'", "aujourd'hui", "à", "«", "-", ".", "12", "GAV", " ", "\n\n", "\u00a0"]
    ),
    max_size=40,
).map("".join)


@given(
    st.lists(
        st.sampled_from(
            [
                "garde",
                "à",
                "vue",
                "l'action",
                "S.N.C.F.",
                "1.000,50",
                "garde-à-vue",
                "prud'hommes",
                "d'un",
                "mineur",
                "«vue»",
                "12",
                "GAV",
                "—",
                "",
            ]
        ),
        max_size=25,
    ),
    st.sampled_from([" ", "  ", "\n\n", "\u00a0", "\t"]),
)
def test_a_text_tokenises_as_its_runs_do(pieces: list[str], space: str) -> None:
    """The highlighter reads a text run by run (no word spans whitespace): the same tokens, offsets and
    positions as the whole text's."""
    import re

    from archive import analysis

    text = space.join(pieces)
    whole = [(t.key, t.position, t.start, t.end, t.stop) for t in analysis.tokens(text)]
    runs, position = [], 0
    for m in re.finditer(r"\S+", text):
        found = list(analysis.tokens(m.group()))
        runs += [
            (t.key, position + t.position, m.start() + t.start, m.start() + t.end, t.stop) for t in found
        ]
        position += found[-1].position + 1 if found else 0
    assert runs == whole


@given(_FRENCH, st.sampled_from(["garde", "vue", "garde à vue", "l'action", "aujourd'hui", "vue vue"]))
def test_marks_and_words_are_read_in_one_pass(text: str, query: str) -> None:
    """`marked_words` gives `marked`'s spans and the text's whitespace-separated words; excerpts made
    with those words are the excerpts made without them."""
    from archive.excerpts import excerpts
    from archive.highlighting import marked, marked_words

    marks = Marks(frozenset(key(w) for w in query.split()), (phrase(query),))
    spans, runs = marked_words(text, marks)
    assert spans == marked(text, marks)
    assert [text[a:b] for a, b in runs] == text.split()
    long = (text + " ") * 8
    assert excerpts(long, marked(long, marks), marked_words(long, marks)[1]) == excerpts(
        long, marked(long, marks)
    )


def test_excerpts_doctests() -> None:
    from archive import excerpts

    result = doctest.testmod(excerpts)
    assert result.attempted and not result.failed


def test_excerpts_show_why_a_long_passage_matched() -> None:
    """Two stretches around the marks, the second showing what the first lacks; short passages whole."""
    from archive.excerpts import EXCERPT_WORDS, excerpts
    from archive.highlighting import marked

    long = (
        "Le tribunal rappelle les faits. "
        + "Les débats ont duré trois jours. " * 12
        + "La saisie des avoirs a été ordonnée. "
        + "Les témoins se sont succédé. " * 12
        + "La confiscation du navire est prononcée."
    )
    marks = Marks(frozenset({key("saisie"), key("confiscation")}))
    found = excerpts(long, marked(long, marks))
    assert len(found) == 2
    assert "<mark>saisie</mark>" in found[0] and "<mark>confiscation</mark>" in found[1]
    assert found[0].startswith("… La <mark>saisie</mark>")  # from the start of its sentence
    assert all(len(e.split()) <= EXCERPT_WORDS + 2 for e in found)  # the words and the two « … »
    short = "Brève : <b>saisie</b> à Lyon."
    assert excerpts(short, marked(short, marks)) == (
        "Brève : &lt;b&gt;<mark>saisie</mark>&lt;/b&gt; à Lyon.",
    )
    nothing = excerpts(long, [])
    assert len(nothing) == 1 and nothing[0].startswith("Le tribunal") and nothing[0].endswith(" …")
