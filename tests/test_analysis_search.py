"""Issue 13, §1: what the French analyzer conflates, seen through `Archive.search` on a small archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings

from .conftest import write_documents

DOCUMENTS = {
    "casier.txt": "Le casier judiciaire du prévenu ne mentionne aucune condamnation antérieure.",
    "cas.txt": "En cas de cybermalveillance, la victime peut contacter la plateforme nationale.",
    "favoritisme.txt": "Le délit de favoritisme fausse la concurrence dans les marchés des collectivités.",
    "favorable.txt": "Le comité rend un avis favorable afin de favoriser la reprise de l'entreprise.",
    "personnaliser.txt": "Le tribunal doit personnaliser la peine prononcée contre chaque condamné.",
    "personnalise.txt": "Un accompagnement personnalisé est proposé à chaque détenu libéré.",
    "personnalite.txt": "L'expertise psychiatrique porte sur la personnalité de l'auteur des faits.",
    "publique.txt": "Le ministère public requiert pour atteinte à la sécurité publique.",
    "publicite.txt": "La publicité mensongère est une pratique commerciale trompeuse sanctionnée.",
    "publication.txt": "Le tribunal ordonne la publication du jugement dans deux quotidiens.",
    "pedocriminalite.txt": "La Pédocriminalité en ligne mobilise les enquêteurs spécialisés de l'office.",
    "operation.txt": "Une opération conjointe a permis de démanteler le réseau de trafiquants.",
    "enquete.txt": "Une enquête préliminaire est ouverte par le parquet après la plainte.",
    "condamnee.txt": "Elle a été condamnée à deux ans d'emprisonnement dont un avec sursis.",
    # the lexicon (issue 13): irregular verb forms, and nouns spelled like a verb's stem
    "condamnait.txt": "Le tribunal correctionnel le condamnait déjà pour des faits similaires.",
    "maniere.txt": "Le prévenu a agi de manière frauduleuse et répétée.",
    "manier.txt": "Savoir manier les outils informatiques ne suffit pas.",
    "port.txt": "Le port du masque est obligatoire dans les locaux.",
    "porter.txt": "La victime peut porter plainte au commissariat.",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    home: Path = tmp_path_factory.mktemp("conflation")
    write_documents(home, dict(DOCUMENTS))
    with Archive(Settings(home=home)) as a:
        a.reindex()
        yield a


def documents(archive: Archive, query: str) -> set[str]:
    return {h.document for h in archive.search(SearchRequest(query, per_page=50)).hits}


@pytest.mark.parametrize(
    "query, found, not_found",
    [
        ("casier", {"casier.txt"}, {"cas.txt"}),
        ("favoritisme", {"favoritisme.txt"}, {"favorable.txt"}),
        ("favorable", {"favorable.txt"}, {"favoritisme.txt"}),
        ("personnaliser", {"personnaliser.txt", "personnalise.txt"}, {"personnalite.txt"}),
        ("personnalité", {"personnalite.txt"}, {"personnaliser.txt", "personnalise.txt"}),
        ("publique", {"publique.txt"}, {"publicite.txt", "publication.txt"}),
        ("publicité", {"publicite.txt"}, {"publique.txt", "publication.txt"}),
        ("manière", {"maniere.txt"}, {"manier.txt"}),
        ("manier", {"manier.txt"}, {"maniere.txt"}),
        ("port", {"port.txt"}, {"porter.txt"}),
        ("porter", {"porter.txt"}, {"port.txt"}),
    ],
)
def test_different_words_do_not_meet(
    archive: Archive, query: str, found: set[str], not_found: set[str]
) -> None:
    hits = documents(archive, query)
    assert found <= hits and not hits & not_found, hits


@pytest.mark.parametrize(
    "query, document",
    [
        ("pedocriminalite", "pedocriminalite.txt"),
        ("opérations", "operation.txt"),
        ("operations", "operation.txt"),
        ("l'enquête", "enquete.txt"),
        ("l’enquete", "enquete.txt"),
        ("condamnés", "condamnee.txt"),
        ("condamnes", "condamnee.txt"),
        ("public", "publique.txt"),
        ("condamner", "condamnait.txt"),
        ("condamnée", "condamnait.txt"),
        ("maniere", "maniere.txt"),
    ],
)
def test_inflections_accents_and_elisions_meet(archive: Archive, query: str, document: str) -> None:
    assert document in documents(archive, query)


def test_highlight_marks_the_inflected_form_only(archive: Archive) -> None:
    hit = archive.search(SearchRequest("personnaliser")).hits
    marked = {h.document: h.highlight for h in hit}
    assert "<mark>personnalisé</mark>" in marked["personnalise.txt"]
    assert "<mark>personnaliser</mark>" in marked["personnaliser.txt"]


@pytest.mark.parametrize(
    "query, found, not_found",
    [
        ("port~", {"port.txt", "porter.txt"}, set()),  # `port` (marked key) and `porte` (the verb's)
        ("manieere", {"maniere.txt"}, {"manier.txt"}),  # a typo: the corrected query is searched
    ],
)
def test_fuzzy_words_and_typos_reach_the_keys_the_lexicon_marks(
    archive: Archive, query: str, found: set[str], not_found: set[str]
) -> None:
    hits = documents(archive, query)
    assert found <= hits and not hits & not_found, hits
