"""The French analyzer's specification, as a table of cases."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archive import analysis
from archive.analysis import key, keys, tokens
from archive.highlighting import Marks, highlight


def test_doctests() -> None:
    result = doctest.testmod(analysis)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize(
    "query, document",
    [
        ("pedocriminalite", "Pédocriminalité"),
        ("DOUANES", "douanes"),
        ("douane", "DOUANES"),
        ("enquête", "l’enquête"),
        ("enquete", "L'ENQUÊTE"),
        ("europol", "d’Europol"),
        ("opérations", "opération"),
        ("operations", "opération"),
        ("condamnés", "condamnée"),
        ("condamnee", "condamné"),
        ("condamnes", "condamnées"),
        ("condamné", "condamnes"),
        ("saisir", "saisis"),
        ("saisie", "saisir"),
        ("saisis", "saisies"),
        ("blanchiment", "blanchiments"),
        ("aggravé", "aggravée"),
        ("organisee", "organisé"),
        ("interpellés", "interpellées"),
        ("délit", "délits"),
        ("détenus", "détenu"),
        ("oeuvre", "œuvre"),
        ("ONU", "O.N.U."),
        ("onu", "l'O.N.U."),
        ("refoulement", "anti-refoulement"),
        ("stupefiants", "stupéfiants"),
    ],
)
def test_query_finds_document_word(query: str, document: str) -> None:
    doc_keys = set(keys(document))
    assert set(keys(query)) & doc_keys, (keys(query), doc_keys)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("l’enquête", ["enquet"]),
        ("l'enquête", ["enquet"]),
        ("d'argent", ["argent_"]),  # marked: `argenter`'s key is `argent`
        ("j'ai", []),
        ("m'a", []),
        ("n'est", []),
        ("s'est", []),
        ("t'as", []),
        ("c'est", []),
        ("qu'il", []),
        ("jusqu'au", []),
        ("lorsqu’il", []),
        ("puisqu'elle", []),
        ("quoiqu'on", []),
        ("les des la le de du et à en", []),
        ("aujourd’hui", ["aujourdhui"]),
        ("1,2 million", ["1,2", "million"]),
        ("35 kg", ["35", "kg"]),
        ("2024", ["2024"]),
    ],
)
def test_elisions_stop_words_and_numbers(text: str, expected: list[str]) -> None:
    assert keys(text) == expected


def test_les_and_des_are_stop_words_but_keep_positions() -> None:
    toks = list(tokens("saisie des avoirs"))
    assert [(t.word, t.position, t.stop) for t in toks] == [
        ("saisie", 0, False),
        ("des", 1, True),
        ("avoirs", 2, False),
    ]


def test_hyphenated_word_gives_parts_and_whole() -> None:
    found = {t.key: t.position for t in tokens("un anti-refoulement")}
    assert found[key("anti")] == found[key("antirefoulement")] == 1
    assert found[key("refoulement")] == 2


def test_accent_and_stem_traps_do_not_merge_different_words() -> None:
    assert key("blanchiment") != key("trafic")
    assert key("gendarmerie") != key("douane")
    assert key("saisie") != key("saint")


@pytest.mark.parametrize(
    "a, b",
    [
        ("casier", "cas"),
        ("favoritisme", "favorable"),
        ("favoritisme", "favoriser"),
        ("personnaliser", "personnalité"),
        ("personnalisé", "personnalité"),
        ("publique", "publicité"),
        ("publique", "publication"),
        ("délai", "délit"),
        ("viol", "violation"),
        ("amende", "amendement"),
        ("audit", "audition"),
        ("importance", "importation"),
        ("infirmier", "infirmer"),
        ("montant", "mont"),
        ("laisse", "lai"),
    ],
)
def test_derivations_and_look_alikes_keep_their_own_keys(a: str, b: str) -> None:
    assert key(a) != key(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("tribunaux", "tribunal"),
        ("lieux", "lieu"),
        ("travaux", "travail"),
        ("directrice", "directeur"),
        ("active", "actifs"),
        ("privée", "privé"),
        ("première", "premier"),
        ("étrangère", "étranger"),
        ("frauduleuse", "frauduleux"),
        ("criminelle", "criminels"),
        ("longue", "long"),
        ("jugeant", "juger"),
        ("exerçant", "exercer"),  # `commençant`, a noun of its own (beginner), does not
        ("saisissent", "saisir"),
        ("saisira", "saisie"),
        ("appliquée", "applique"),
        ("mentionnées", "mentionnés"),
        ("ordonnée", "ordonner"),
        ("considère", "considérer"),
        ("prononcera", "prononcé"),
    ],
)
def test_inflections_meet(a: str, b: str) -> None:
    assert key(a) == key(b)


def test_stemming_swaps_the_step_everywhere_then_restores_it() -> None:
    before = keys("Le casier judiciaire")
    with analysis.stemming(lambda word: word[:3]):
        assert keys("Le casier judiciaire") == ["cas", "jud"]
        assert analysis.Analyzed("Le casier judiciaire").kept() == (["cas", "jud"], [1, 2])
    assert keys("Le casier judiciaire") == before == ["casi", "judiciair"]


@pytest.mark.parametrize(
    "text, query, expected",
    [
        ("La Pédocriminalité en ligne", "pedocriminalite", "La <mark>Pédocriminalité</mark> en ligne"),
        ("L’enquête avance", "enquete", "L’<mark>enquête</mark> avance"),
        ("Ils ont été condamnés.", "condamnee", "Ils ont été <mark>condamnés</mark>."),
        (
            "<script>alert(1)</script> saisie",
            "saisir",
            "&lt;script&gt;alert(1)&lt;/script&gt; <mark>saisie</mark>",
        ),
        ("un anti-refoulement", "refoulement", "un anti-<mark>refoulement</mark>"),
        ("un anti-refoulement", "anti-refoulement", "un <mark>anti-refoulement</mark>"),
    ],
)
def test_highlight_marks_original_words_and_escapes(text: str, query: str, expected: str) -> None:
    assert highlight(text, Marks(frozenset(keys(query)))) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("ʼ")  # U+02BC: a letter to Unicode, taken alone as a word with an empty key
@example("ʼʼ lʼenquête ʼ")
def test_any_text_tokenizes_with_offsets_inside_the_text(text: str) -> None:
    for t in tokens(text):
        assert 0 <= t.start < t.end <= len(text)
        assert t.key
        assert "<" not in highlight(text, Marks(frozenset({t.key}))).replace("<mark>", "").replace("</mark>", "")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"aeéèàçœÉO.N.U'’-‐ 0123456789,;:!?«»\n\tlqdjsu", "aujourd'hui", "l'", "qu'", "État"]
        ),
        max_size=80,
    ).map("".join)
    | st.text()
)
def test_index_terms_equal_the_tokens_without_offsets(text: str) -> None:
    """The indexer's cached road (each word as written, each whitespace-free chunk analysed alone) gives
    what `tokens` gives: kept keys with their positions, vocabulary words, and what `words` gives to the
    taxonomy (one word per position), so that a passage analysed once serves the index and the tags."""
    expected = [(t.key, t.position, t.stop, t.word) for t in analysis.tokens(text)]
    analyzed = analysis.Analyzed(text)
    kept = [(key, position) for key, position, stop, _ in expected if not stop]
    assert list(zip(*analyzed.kept(), strict=True)) == kept
    assert analyzed.words() == {
        analysis.fold(word): word.lower() for _, _, stop, word in expected if not stop and word.isalnum()
    }
    assert analyzed.sequence() == [(t.key, t.word) for t in analysis.words(text)]
