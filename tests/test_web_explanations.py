"""What a search tells about itself, as a researcher read it on 304 real French legal documents.

The headline of a loosened query, its interpretation and notes, the errors of a bad sort or year, a
page past the last, and CSV numbers for French Excel: through the real app (TestClient) over a real
index of documents written for these cases.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from archive import SearchRequest, UsageError

from .conftest import HANG_GUARD, web_build_home, web_settings

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}

DOCUMENTS = {
    "2024/codes.md": "---\ntitle: Articles du code pénal\ndate: 2024-03-01\ntype: article\n---\n\n"
    "L'article 450-1 du code pénal définit l'association de malfaiteurs en vue de préparer un crime.\n\n"
    "L'article 450-2 prévoit une exemption de peine pour qui révèle le groupement aux autorités.\n\n"
    "L'Office anti-stupéfiants coordonne la lutte contre le trafic de drogue en France.\n\n"
    "Un office de tourisme n'a rien à voir avec les stupéfiants saisis au port du Havre.\n\n"
    "Le chapitre 1 rappelle le principe de la légalité des délits et des peines.\n\n"
    "Le titre 1 du livre premier traite de la loi pénale et de son application.\n",
    "2023/garde.md": "---\ntitle: La garde à vue\ndate: 2023-05-02\ntype: article\n---\n\n"
    "La garde à vue d'un mineur obéit à des règles particulières fixées par la loi.\n\n"
    "La garde à vue dure vingt-quatre heures et peut être prolongée par le procureur.\n\n"
    "Le mineur est assisté d'un avocat pendant toute la procédure pénale engagée.\n\n"
    "Les enquêteurs consignent chaque audition dans un procès-verbal signé par la personne.\n",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app over DOCUMENTS, indexed once for the module (the tests only read)."""
    from web.app import create_app

    home: Path = web_build_home(tmp_path_factory.mktemp("explanations"), DOCUMENTS)
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as c:
        # the counts asserted are complete ones, never partial after 3 s on a loaded machine
        c.app.state.archive.searcher.deadline = HANG_GUARD  # type: ignore[attr-defined]
        yield c


def body(client: TestClient, query: str, **params: Any) -> dict[str, Any]:
    r = client.get("/search", params={"q": query, **params}, headers=JSON)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def page(client: TestClient, query: str, **params: Any) -> str:
    r = client.get("/search", params={"q": query, **params}, headers=HTML)
    assert r.status_code == 200, r.text
    return str(r.text)


# ---------------------------------------------------------------- 1. the headline of a loosened query


def test_a_loosened_query_counts_the_passages_holding_every_word_apart(client: TestClient) -> None:
    """`garde à vue mineur`: one passage holds every word, others join with the essential of it. The big
    number was reported as the answer: the headline and `complete_total` give the complete one."""
    loose = body(client, "garde à vue mineur")
    strict = body(client, '"garde" "vue" "mineur"')  # quoted words: explicit, never loosened
    assert loose["relaxed"] and not strict["relaxed"]
    assert loose["complete_total"] == strict["total"] == 1 < loose["total"]
    assert strict["complete_total"] == strict["total"]  # not loosened: the same number
    html = page(client, "garde à vue mineur")
    documents = f"<strong>{loose['documents']}</strong> document" + ("s" if loose["documents"] > 1 else "")
    assert (
        f"<strong>1</strong> passage contient tous les mots&nbsp;· <strong>{loose['total']}</strong> passages dans "
        f"{documents} en contiennent l'essentiel ("
    ) in html
    plain = page(client, "garde")
    assert (
        "tous les mots" not in plain
        and f"<strong>{body(client, 'garde')['total']}</strong> passages" in plain
    )


def test_a_loosened_query_with_no_complete_passage_says_none(client: TestClient) -> None:
    loose = body(client, "mineur tourisme")
    assert loose["relaxed"] and loose["complete_total"] == 0 < loose["total"]
    assert "Aucun passage ne contient tous les mots&nbsp;· <strong>" in page(client, "mineur tourisme")


# ---------------------------------------------------------------- 2. interpretations and notes


def test_the_words_typed_are_counted_and_a_hyphenated_word_names_its_parts(client: TestClient) -> None:
    """`Office anti-stupéfiants` is two words typed (four index terms); `450-1` is one, whose
    interpretation read « 450-1, puis 450-1 (l'essentiel des 3 mots) »."""
    two = body(client, "Office anti-stupéfiants")
    assert two["relaxed"] and two["interpreted_as"].endswith("(l'essentiel des 2 mots)")
    one = body(client, "450-1")
    assert one["relaxed"], one
    assert one["interpreted_as"] == "450-1, puis 450 OR 4501 OR 1 (l'essentiel des parties de « 450-1 »)"
    assert one["notes"][0].startswith("1 passage(s) contiennent « 450-1 » en entier ; ")
    other = body(client, "450\u20111")  # a non-breaking hyphen, as word processors write it
    assert other["interpreted_as"] == one["interpreted_as"].replace("-", "\u2011"), other


def test_an_unclosed_quote_is_ignored_and_said(client: TestClient) -> None:
    unclosed = body(client, '"garde à vue')
    assert unclosed["interpreted_as"].startswith("garde AND vue") and '"' not in unclosed["interpreted_as"]
    assert unclosed["total"] == body(client, "garde à vue")["total"]
    assert any(
        n.startswith("guillemet non fermé ignoré : les mots sont cherchés séparément")
        for n in unclosed["notes"]
    )
    assert "Guillemet non fermé ignoré" in page(client, '"garde à vue')


def test_a_query_of_stop_words_says_so_instead_of_an_empty_interpretation(client: TestClient) -> None:
    stops = body(client, "la")
    assert stops["interpreted_as"] == "" and stops["total"] == 0
    assert stops["notes"] == ["tous les mots sont trop courants pour être cherchés : la"]
    html = page(client, "la")
    assert "Recherche comprise comme" not in html
    assert "Tous les mots sont trop courants pour être cherchés : la" in html


def test_a_word_like_an_unknown_field_is_searched_as_text_and_said(client: TestClient) -> None:
    found = body(client, "date:2019 garde")
    [note] = [n for n in found["notes"] if "champ inconnu" in n]
    assert note.startswith("« date » : champ inconnu, cherché comme du texte (champs : title (titre)")
    assert "year (année)" in note
    assert not [n for n in body(client, "titre:garde")["notes"] if "champ inconnu" in n]  # a known alias


def test_notes_are_sentences_on_the_page_and_stable_phrases_in_json(client: TestClient) -> None:
    assert "mots ignorés (trop courants) : à" in body(client, "garde à vue")["notes"]
    assert '<p class="note">Mots ignorés (trop courants) : à</p>' in page(client, "garde à vue")


# ---------------------------------------------------------------- 3. sort


@pytest.mark.parametrize(
    ("french", "english"),
    [("pertinence", "relevance"), ("Récents", "newest"), ("anciens", "oldest"), ("Newest", "newest")],
)
def test_the_page_labels_are_accepted_as_sorts(client: TestClient, french: str, english: str) -> None:
    ids = [h["id"] for h in body(client, "garde", sort=french, per_page=20)["hits"]]
    assert ids == [h["id"] for h in body(client, "garde", sort=english, per_page=20)["hits"]]


def test_a_bad_sort_names_the_values_with_their_labels(client: TestClient) -> None:
    r = client.get("/search", params={"q": "garde", "sort": "hasard"}, headers=JSON)
    assert r.status_code == 400 and r.json()["parameter"] == "sort"
    assert "relevance, newest, oldest" in r.json()["error"]["message"]
    html = client.get("/search", params={"q": "garde", "sort": "hasard"}, headers=HTML)
    assert html.status_code == 400 and html.headers["content-type"].startswith("text/html")
    assert "sort=relevance (pertinence), sort=newest (date, les plus récents d&#39;abord)" in html.text


# ---------------------------------------------------------------- 4. year


@pytest.mark.parametrize("year", ["20x9", "abc", "19", "20245", "٢٠٢٤", "<script>"])
def test_a_year_that_is_none_is_refused(client: TestClient, year: str) -> None:
    r = client.get("/search", params={"q": "garde", "year": year}, headers=JSON)
    assert r.status_code == 400 and r.json()["parameter"] == "year"
    assert repr(year) in r.json()["error"]["message"]
    html = client.get("/search", params={"q": "garde", "year": year}, headers=HTML)
    assert html.status_code == 400 and "n&#39;est pas une année" in html.text
    assert "« &lt;script&gt; »" in html.text if year == "<script>" else f"« {year} »" in html.text
    with pytest.raises(UsageError):
        SearchRequest("garde", {"year": (year,)}).validate()


def test_years_and_undated_are_accepted(client: TestClient) -> None:
    assert body(client, "garde", year="2023")["total"] > 0
    assert body(client, "garde", year="sans-date")["total"] == 0
    assert body(client, "garde", year="2023", remove="year:2023")["total"] > 0


# ---------------------------------------------------------------- 5. a page past the last


def test_a_page_past_the_last_says_so_and_links_to_the_last(client: TestClient) -> None:
    first = body(client, "garde", per_page=1, crowding="false")
    last = first["pages"]
    assert last >= 2
    past = body(client, "garde", per_page=1, crowding="false", page=99)
    assert past["hits"] == [] and past["pages"] == last and past["total"] == first["total"]
    html = page(client, "garde", per_page=1, crowding="false", page=99)
    assert "La page 99 n'existe pas</h2>" in html
    assert f"Cette recherche compte {last} pages." in html
    assert f'href="/search?q=garde&amp;page={last}&amp;per_page=1&amp;crowding=false" rel="last"' in html
    assert "Passages 0" not in html and "page 99 sur" not in html


# ---------------------------------------------------------------- 6. CSV for French Excel


def scores(text: str, separator: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=separator))
    return [row["score"] for row in rows]


def test_scores_have_a_decimal_comma_with_the_french_separator(client: TestClient) -> None:
    french = scores(client.get("/search", params={"q": "garde", "format": "csv", "sep": ";"}).text, ";")
    plain = scores(client.get("/search", params={"q": "garde", "format": "csv"}).text, ",")
    assert french and all("," in s and "." not in s for s in french)
    assert all("." in s and "," not in s for s in plain)
    assert [s.replace(",", ".") for s in french] == plain


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_bad_export_link_clicked_in_a_browser_gets_the_french_page(client: TestClient, fmt: str) -> None:
    query = (
        {"q": "garde", "format": fmt, "sep": "tab"}
        if fmt == "csv"
        else {"q": "garde", "format": fmt, "page": "x"}
    )
    html = client.get("/search", params=query, headers=HTML)
    assert html.status_code == 400 and html.headers["content-type"].startswith("text/html")
    program = client.get("/search", params=query)  # a script's Accept: */*
    assert program.status_code == 400 and program.json()["error"]["code"] == "bad_parameter"
    asked = client.get("/search", params={**query, "format": "json"}, headers=HTML)  # explicit JSON wins
    assert asked.headers["content-type"].startswith("application/json")


def test_the_separator_error_page_is_french(client: TestClient) -> None:
    html = client.get("/search", params={"q": "garde", "format": "csv", "sep": "tab"}, headers=HTML).text
    assert "Le séparateur du CSV doit être une virgule ou un point-virgule" in html
