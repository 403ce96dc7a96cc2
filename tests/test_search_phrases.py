"""Issue 13's searches, through `Archive.search`: phrases marked, sloppy phrases, proximity, typos answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import ranking
from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings

from .conftest import write_documents

GUIDES: dict[str, str] = {
    "guides/garde-a-vue.txt": "La garde à vue\n\n"
    "Placé en garde à vue, le suspect peut demander l'assistance d'un avocat dès le début de la mesure.\n\n"
    "La garde des enfants est confiée au père ; la vue sur la cour reste dégagée pendant les travaux.\n",
    "guides/delais.txt": "Les délais pour porter plainte\n\n"
    "Le délai de prescription de l'action publique des délits est de six années révolues à compter du jour "
    "où l'infraction a été commise, sauf exceptions prévues par la loi pour certaines infractions commises "
    "contre des mineurs.\n",
    "guides/glossaire.txt": "Glossaire\n\n"
    "Prescription : délai au-delà duquel une action en justice ne peut plus être engagée. Ministère public : "
    "magistrats qui exercent les poursuites au nom de la société. Audience publique : audience ouverte à "
    "tous.\n",
    "guides/aide.txt": "L'aide juridictionnelle\n\n"
    "Une demande d'aide juridictionnelle peut être déposée au tribunal pour financer les frais d'avocat et "
    "d'huissier.\n",
    "guides/casier.txt": "Le casier judiciaire\n\n"
    "Le bulletin numéro 3 du casier judiciaire peut être demandé en ligne par la personne concernée.\n",
}
"""Made-up service-public-like guides holding the issue's examples (one passage per paragraph)."""


@pytest.fixture(scope="module")
def guides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    home: Path = tmp_path_factory.mktemp("guides")
    (home / "documents").mkdir()
    write_documents(home, dict(GUIDES))
    archive = Archive(Settings(home=home, passage_min_words=5))
    archive.reindex()
    yield archive
    archive.close()


def search(archive: Archive, text: str, **kw: object) -> list[tuple[str, str]]:
    return [(h.id, h.highlight) for h in archive.search(SearchRequest(text, **kw)).hits]  # type: ignore[arg-type]


# ------------------------------------------------------------------ phrases


def test_a_phrase_is_marked_whole_in_results(guides: Archive) -> None:
    [(passage, highlight)] = search(guides, '"garde à vue"')
    assert passage == "guides/garde-a-vue.txt#p1"
    assert highlight.startswith(
        "La <mark>garde à vue</mark>\n\nPlacé en <mark>garde à vue</mark>, le suspect"
    )
    assert highlight.count("<mark>") == 2  # the heading's and the text's, nothing else


def test_a_phrase_and_a_word_are_marked_together(guides: Archive) -> None:
    [(_, highlight)] = search(guides, '"garde à vue" avocat')
    assert "<mark>garde à vue</mark>" in highlight and "<mark>avocat</mark>" in highlight


def test_the_words_of_a_phrase_alone_are_not_marked(guides: Archive) -> None:
    both = dict(search(guides, "garde vue"))
    assert "<mark>garde</mark> des enfants" in both["guides/garde-a-vue.txt#p2"]  # plain words: marked alone
    view = guides.document("guides/garde-a-vue.txt", '"garde à vue"')
    assert view is not None and view.matches == (1,)
    assert "Placé en <mark>garde à vue</mark>" in view.highlights[0]
    assert "<mark>" not in view.highlights[1]


def test_a_sloppy_phrase_is_searched_said_and_marked(guides: Archive) -> None:
    assert search(guides, '"délai prescription"') == []
    results = guides.search(SearchRequest('"délai prescription"~3'))
    assert [h.id for h in results.hits] == ["guides/delais.txt#p1"]
    assert results.interpreted_as == '"délai prescription"~3'
    assert any("»~3" in note for note in results.notes)
    assert "Le <mark>délai de prescription</mark> de l'action" in results.hits[0].highlight
    view = guides.document("guides/delais.txt", '"délai prescription"~3')
    assert view is not None and "<mark>délai de prescription</mark>" in view.highlights[0]


# ------------------------------------------------------------------ proximity


def test_the_exact_phrase_outranks_a_glossary_of_the_same_words(
    guides: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "prescription de l'action publique"
    assert [h for h, _ in search(guides, query)] == ["guides/delais.txt#p1", "guides/glossaire.txt#p1"]
    monkeypatch.setattr(ranking, "PROXIMITY", 0.0)  # without the proximity factor, the glossary led
    assert [h for h, _ in search(guides, query)] == ["guides/glossaire.txt#p1", "guides/delais.txt#p1"]


def test_proximity_keeps_every_page_in_one_order(guides: Archive) -> None:
    query = "prescription action publique"
    whole = [h for h, _ in search(guides, query, per_page=10)]
    first = guides.search(SearchRequest(query, per_page=1))
    assert first.next_cursor is not None
    second = guides.search(SearchRequest(query, per_page=1, cursor=first.next_cursor))
    assert [first.hits[0].id, second.hits[0].id] == whole[:2]


# ------------------------------------------------------------------ typos


@pytest.mark.parametrize(
    "typed, corrected, passage",
    [
        ("aide juridictionelle", "aide juridictionnelle", "guides/aide.txt#p1"),
        ("casier judicaire", "casier judiciaire", "guides/casier.txt#p1"),
    ],
)
def test_a_typo_that_finds_nothing_is_searched_corrected(
    guides: Archive, typed: str, corrected: str, passage: str
) -> None:
    results = guides.search(SearchRequest(typed))
    assert results.query == typed and results.corrected_query == corrected
    assert [h.id for h in results.hits] == [passage] and not results.relaxed
    assert results.suggestion is None  # used, not offered
    assert results.to_json()["corrected"] is True and results.to_json()["corrected_query"] == corrected
    assert all(f"<mark>{w}</mark>" in results.hits[0].highlight for w in corrected.split())
    verbatim = guides.search(SearchRequest(typed, correct=False))
    assert verbatim.corrected_query is None and verbatim.suggestion == corrected
    assert verbatim.to_json()["corrected"] is False
    assert passage not in [h.id for h in verbatim.hits] or verbatim.relaxed  # at best missing a word


def test_no_correction_when_the_query_finds_something_or_the_suggestion_nothing(guides: Archive) -> None:
    assert guides.search(SearchRequest("aide juridictionnelle")).corrected_query is None
    unmatched = guides.search(SearchRequest("casier juridictionelle"))  # corrected, still never together
    assert unmatched.corrected_query is None and unmatched.suggestion == "casier juridictionnelle"


@pytest.mark.parametrize(
    ("word", "close"),
    [("cahier", "casier"), ("assistante", "assistance"), ("débat", "début"), ("centaines", "certaines")],
)
def test_a_french_word_the_archive_lacks_is_not_corrected(guides: Archive, word: str, close: str) -> None:
    """`cahier` is one letter from the archive's `casier`, but it is French: a researcher searching it
    wants to learn that the archive lacks it, not to read about something else."""
    results = guides.search(SearchRequest(word))
    assert results.total == 0 and results.corrected_query is None and results.suggestion is None
    assert guides.search(SearchRequest(close)).total  # one letter away: what a correction would have searched


def test_a_fuzzy_word_finds_the_right_spelling(guides: Archive) -> None:
    results = guides.search(SearchRequest("juridictionelle~"))
    assert results.interpreted_as == "juridictionelle~"
    assert "guides/aide.txt#p1" in [h.id for h in results.hits]
    assert "<mark>juridictionnelle</mark>" in results.hits[0].highlight
    exact = guides.search(SearchRequest("juridictionnelle~"))  # the word itself is among its neighbours
    assert "guides/aide.txt#p1" in [h.id for h in exact.hits]


def test_a_fuzzy_short_word_allows_fewer_edits(guides: Archive) -> None:
    """`a~` stands for `a` alone (no word of one or two letters is one edit from it); `aide~` for `aide` and
    its one-edit neighbours, never a word two edits away."""
    every = guides.search(SearchRequest("")).total
    assert guides.search(SearchRequest("de~")).total < every
    assert guides.search(SearchRequest("x~")).total == 0
    near = guides.search(SearchRequest("aide~", per_page=100))
    assert near.total and near.total == guides.search(SearchRequest("aide", per_page=100)).total


def test_a_typo_after_an_elision_is_corrected_in_place(guides: Archive) -> None:
    results = guides.search(SearchRequest("demande d'aide juridictionelle"))
    assert results.corrected_query == "demande d'aide juridictionnelle"
    assert [h.id for h in results.hits] == ["guides/aide.txt#p1"]
    assert (
        guides.search(SearchRequest("l'avocat d'huisier", correct=False)).suggestion == "l'avocat d'huissier"
    )
