"""Phrases, slop and fuzzy words as the parser reads them, and what a query asks a highlight to mark."""

from __future__ import annotations

import pytest
from whoosh import query as wq

from archive import phrasing, query
from archive.analysis import key
from archive.highlighting import Phrase

PARSER = query.make_parser()


def test_a_phrase_keeps_the_places_of_its_stop_words() -> None:
    parsed = query.parse(PARSER, '"garde à vue"')
    assert parsed.interpretation == '"garde à vue"' and parsed.notes == []
    marks = phrasing.marks(parsed.scoring)
    assert marks.words == frozenset() and marks.phrases == (Phrase((key("garde"), key("vue")), ((2, 2),)),)


def test_a_sloppy_phrase_is_understood_and_said() -> None:
    parsed = query.parse(PARSER, '"délai prescription"~3')
    assert parsed.interpretation == '"délai prescription"~3'
    assert parsed.notes == [
        "« délai prescription »~3 : ces mots dans cet ordre, avec jusqu'à 2 autre(s) mot(s) entre deux d'entre eux"
    ]
    assert phrasing.marks(parsed.query).phrases == (Phrase((key("délai"), key("prescription")), ((1, 3),)),)


def test_a_slop_of_one_is_an_exact_phrase_and_a_huge_one_is_cut() -> None:
    exact = query.parse(PARSER, '"délai prescription"~1')
    assert exact.interpretation == '"délai prescription"' and exact.notes == []
    assert phrasing.marks(exact.query).phrases[0].gaps == ((1, 1),)
    huge = query.parse(PARSER, '"délai prescription"~999')
    assert huge.interpretation == f'"délai prescription"~{phrasing.MAX_SLOP}'
    assert "ramené à 50" in huge.notes[0]
    assert phrasing.marks(huge.query).phrases[0].gaps == ((1, phrasing.MAX_SLOP),)


def test_a_sloppy_phrase_keeps_stop_words_in_its_reach() -> None:
    parsed = query.parse(PARSER, '"garde à vue"~2')  # "vue" 2 words after "garde", 1 more allowed
    assert phrasing.marks(parsed.query).phrases[0].gaps == ((1, 3),)


@pytest.mark.parametrize(
    "text, shown, maxdist",
    [("juridictionelle~", "juridictionelle~", 1), ("judicaire~2", "judicaire~2", 2)],
)
def test_fuzzy_words(text: str, shown: str, maxdist: int) -> None:
    parsed = query.parse(PARSER, text)
    assert isinstance(parsed.query, wq.FuzzyTerm) and parsed.query.maxdist == maxdist
    assert parsed.interpretation == shown


def test_marks_leave_out_negated_words_and_phrases() -> None:
    parsed = query.parse(PARSER, 'blanchiment NOT "garde à vue" NOT cigarettes')
    marks = phrasing.marks(parsed.scoring)
    assert marks.words == {key("blanchiment")} and marks.phrases == ()


def test_a_phrase_asked_of_three_fields_is_marked_once() -> None:
    parsed = query.parse(PARSER, '"blanchiment aggravé" saisie')
    marks = phrasing.marks(parsed.scoring)
    assert len(marks.phrases) == 1 and marks.words == {key("saisie")}


@pytest.mark.parametrize(
    "text, near",
    [
        ("prescription de l'action publique", [("prescription", 0), ("action", 2), ("publique", 3)]),
        ("garde vue", [("garde", 0), ("vue", 1)]),
        ("blanchiment", []),  # one word: nothing to bring together
        ('"garde à vue" mineur', []),  # not plain words
        ("garde OR vue", []),
    ],
)
def test_the_words_proximity_ranks_on(text: str, near: list[tuple[str, int]]) -> None:
    assert query.parse(PARSER, text).near == [(key(w), p) for w, p in near]
