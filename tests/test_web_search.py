"""`GET /search` over HTTP: negotiation, the JSON contract, parameter errors, facets, pages, CSV, escaping."""

from __future__ import annotations

import csv
import html
import io
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from .conftest import WebFactory

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def values(body: dict[str, Any], facet: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in body["facets"][facet]}


# ------------------------------------------------------------------ content negotiation


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (HTML["Accept"], "text/html"),
        ("text/html", "text/html"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("", "application/json"),
        ("text/html;q=0.5, application/json", "application/json"),
        ("application/json;q=0.5, text/html", "text/html"),
        ("text/csv", "application/json"),
    ],
)
def test_accept_header_chooses_html_or_json(web_client: TestClient, accept: str, expected: str) -> None:
    r = web_client.get("/search?q=blanchiment", headers={"Accept": accept} if accept else {})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(expected)
    assert "accept" in r.headers["vary"].lower()


@pytest.mark.parametrize(
    ("fmt", "expected"), [("json", "application/json"), ("html", "text/html"), ("csv", "text/csv")]
)
def test_format_parameter_overrides_accept(web_client: TestClient, fmt: str, expected: str) -> None:
    for headers in (HTML, JSON):
        r = web_client.get(f"/search?q=blanchiment&format={fmt}", headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(expected)


def test_same_url_gives_same_results_to_people_and_programs(web_client: TestClient) -> None:
    body = web_client.get("/search?q=escroquerie", headers=JSON).json()
    page = web_client.get("/search?q=escroquerie", headers=HTML).text
    assert body["total"] == 2
    assert "<strong>2</strong> passages dans <strong>2</strong> documents" in page
    for hit in body["hits"]:
        assert hit["url"].split("#")[0] in page


# ------------------------------------------------------------------ the JSON contract


def test_json_contract_names_and_types(web_client: TestClient) -> None:
    body = web_client.get("/search?q=blanchiment", headers=JSON).json()
    types: dict[str, type | tuple[type, ...]] = {
        "query": str,
        "interpreted_as": str,
        "total": int,
        "page": int,
        "per_page": int,
        "took_ms": (int, float),
        "hits": list,
        "facets": dict,
    }
    for key, kind in types.items():
        assert isinstance(body[key], kind), key
    assert "suggestion" in body and (body["suggestion"] is None or isinstance(body["suggestion"], str))
    assert body["query"] == "blanchiment" and body["page"] == 1 and body["per_page"] == 10
    assert body["total"] >= 2
    hit_types: dict[str, type | tuple[type, ...]] = {
        "id": str,
        "document": str,
        "position": int,
        "section": str,
        "title": str,
        "text": str,
        "highlight": str,
        "agency": list,
        "offence": list,
        "score": (int, float),
        "url": str,
    }
    for hit in body["hits"]:
        for key, kind in hit_types.items():
            assert isinstance(hit[key], kind), key
        for key in ("date", "source", "type"):
            assert hit[key] is None or isinstance(hit[key], str)
        assert hit["id"] == f"{hit['document']}#p{hit['position']}"
        assert hit["url"].startswith("/documents/") and hit["url"].endswith(f"#p{hit['position']}")
    assert "<mark>" in body["hits"][0]["highlight"]
    assert set(body["facets"]) == {"agency", "offence", "year", "source", "type"}
    for facet_values in body["facets"].values():
        for f in facet_values:
            assert {"value", "label", "count", "selected"} <= set(f)
            assert isinstance(f["count"], int) and isinstance(f["selected"], bool)


def test_json_body_is_the_cores_to_json(web_home: Any, web_client: TestClient) -> None:
    from archive.home import Archive
    from archive.request import SearchRequest

    from .conftest import web_settings

    archive = Archive(web_settings(web_home))
    try:
        expected = cast(
            dict[str, Any],
            archive.search(SearchRequest("blanchiment", {"year": ("2024",)}, sort="newest")).to_json(),
        )
    finally:
        archive.close()
    body = web_client.get("/search?q=blanchiment&year=2024&sort=newest", headers=JSON).json()
    for key in ("took_ms",):
        body.pop(key), expected.pop(key)
    assert body == expected


def test_type_facet_has_slugs_and_french_labels(web_client: TestClient) -> None:
    body = web_client.get("/search?q=", headers=JSON).json()
    labels = {f["value"]: f["label"] for f in body["facets"]["type"]}
    assert labels["communique"] == "Communiqué"
    assert labels["decision"] == "Décision"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        '"',
        "((",
        "NOT",
        "OR OR",
        "*",
        "a*b*c*",
        "title:",
        "année:2024",
        "<script>",
        "' OR 1=1 --",
        "x" * 5000,
        "\x00\x01",
        "é" * 300,
        "%",
        "\\",
    ],
)
def test_query_text_never_causes_an_error(web_client: TestClient, query: str) -> None:
    for headers in (HTML, JSON):
        r = web_client.get("/search", params={"q": query}, headers=headers)
        assert r.status_code == 200, query


def test_empty_query_browses_everything(web_client: TestClient) -> None:
    body = web_client.get("/search?q=", headers=JSON).json()
    assert body["total"] == 9


# ------------------------------------------------------------------ parameter errors


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=20000", "page"),
        ("per_page=0", "per_page"),
        ("per_page=1000", "per_page"),
        ("per_page=dix", "per_page"),
        ("sort=alphabetical", "sort"),
        ("from=2024-13-01", "from"),
        ("from=hier", "from"),
        ("to=2024-02-30", "to"),
        ("from=2024-06-01&to=2024-01-01", "from"),
        ("format=xml", "format"),
    ],
)
def test_bad_parameters_answer_400_with_one_error_shape(
    web_client: TestClient, query: str, parameter: str
) -> None:
    r = web_client.get(f"/search?q=blanchiment&{query}", headers=JSON)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "bad_parameter"
    assert parameter in body["error"]["message"]
    assert body["parameter"] == parameter


@pytest.mark.parametrize("query", ["page=0", "per_page=1000", "page=abc", "from=2024-13-01", "sort=x"])
def test_bad_parameters_get_a_french_page_in_html(web_client: TestClient, query: str) -> None:
    r = web_client.get(f"/search?q=blanchiment&{query}", headers=HTML)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "Demande incorrecte" in r.text and 'lang="fr"' in r.text
    assert "Traceback" not in r.text


def test_bad_parameter_in_csv_export_is_a_json_error(web_client: TestClient) -> None:
    r = web_client.get("/search?q=blanchiment&format=csv&per_page=0")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_parameter"


# ------------------------------------------------------------------ facets


def test_a_facet_filters_hits(web_client: TestClient) -> None:
    body = web_client.get("/search?q=&agency=douane", headers=JSON).json()
    assert {h["document"] for h in body["hits"]} == {"2023/douane-cigarettes.md"}


def test_values_of_one_facet_are_ored_and_facets_anded(web_client: TestClient) -> None:
    one = web_client.get("/search?q=&year=2024", headers=JSON).json()
    two = web_client.get("/search?q=&year=2024&year=2023", headers=JSON).json()
    assert two["total"] == one["total"] + 2
    both = web_client.get("/search?q=&year=2024&year=2023&type=article", headers=JSON).json()
    assert {h["document"] for h in both["hits"]} == {"2023/douane-cigarettes.md"}


def test_multi_select_counts(web_client: TestClient) -> None:
    all_ = web_client.get("/search?q=", headers=JSON).json()
    picked = web_client.get("/search?q=&year=2024", headers=JSON).json()
    # The selected facet keeps counting its other values, so they can be added to the selection...
    assert values(picked, "year") == values(all_, "year")
    selected = {f["value"]: f["selected"] for f in picked["facets"]["year"]}
    assert selected["2024"] is True and selected["2023"] is False
    # ...while the other facets count only within the selection.
    assert values(picked, "type") == {"communique": 2, "note": 1}


def test_facet_checkboxes_and_chips_in_html(web_client: TestClient) -> None:
    page = web_client.get("/search?q=&year=2024&agency=gendarmerie", headers=HTML).text
    assert '<input type="checkbox" name="year" value="2024" checked>' in page
    assert '<input type="checkbox" name="year" value="2021">' in page  # counted within agency=gendarmerie
    assert 'aria-label="Retirer le filtre 2024"' in page
    # a chip is a button of the search form that sends the filter to drop, and drops only that one
    assert '<button type="submit" class="chip" name="remove" value="year:2024"' in page
    removed = web_client.get("/search?q=&year=2024&agency=gendarmerie&remove=year:2024", headers=JSON).json()
    only = web_client.get("/search?q=&agency=gendarmerie", headers=JSON).json()
    assert removed["total"] == only["total"] and not any(f["selected"] for f in removed["facets"]["year"])
    assert ">Tout effacer</a>" in page
    assert "Gendarmerie nationale" in page


# ------------------------------------------------------------------ pagination


def test_pagination_edges(web_client: TestClient) -> None:
    first = web_client.get("/search?q=&per_page=4", headers=JSON).json()
    last = web_client.get("/search?q=&per_page=4&page=3", headers=JSON).json()
    beyond = web_client.get("/search?q=&per_page=4&page=4", headers=JSON).json()
    assert first["total"] == 9 and len(first["hits"]) == 4
    assert len(last["hits"]) == 1
    assert beyond["hits"] == [] and beyond["total"] == 9
    ids = [
        h["id"]
        for p in (1, 2, 3)
        for h in web_client.get(f"/search?q=&per_page=4&page={p}", headers=JSON).json()["hits"]
    ]
    assert len(ids) == len(set(ids)) == 9
    one = web_client.get("/search?q=&per_page=100", headers=JSON).json()
    assert len(one["hits"]) == 9


def test_pagination_links_in_html(web_client: TestClient) -> None:
    first = web_client.get("/search?q=&per_page=4", headers=HTML).text
    assert "Passages 1–4 sur 9" in first and "page 1 sur 3" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first and 'rel="first"' not in first
    assert 'href="/search?q=&amp;page=2&amp;per_page=4" rel="next"' in first
    middle = web_client.get("/search?q=&per_page=4&page=2", headers=HTML).text
    assert 'rel="prev"' in middle and 'rel="next"' in middle and 'rel="first"' in middle
    last = web_client.get("/search?q=&per_page=4&page=3", headers=HTML).text
    assert "Passages 9–9 sur 9" in last and 'rel="next"' not in last
    beyond = web_client.get("/search?q=&per_page=4&page=9", headers=HTML).text
    assert "La page 9 n'existe pas" in beyond and 'href="/search?q=&amp;page=3&amp;per_page=4" rel="last"' in beyond


def test_export_links_keep_the_search(web_client: TestClient) -> None:
    page = web_client.get("/search?q=blanchiment&year=2024&page=1", headers=HTML).text
    assert 'href="/search?q=blanchiment&amp;year=2024&amp;format=csv"' in page
    assert 'href="/search?q=blanchiment&amp;year=2024&amp;format=csv&amp;sep=%3B"' in page
    assert 'href="/search?q=blanchiment&amp;year=2024&amp;format=ndjson"' in page


# ------------------------------------------------------------------ the search page


def test_search_page_keeps_the_query_and_shows_hits(web_client: TestClient) -> None:
    page = web_client.get("/search?q=blanchiment+aggravé&sort=newest", headers=HTML).text
    assert 'value="blanchiment aggravé"' in page
    assert '<option value="newest" selected>' in page
    assert "<mark>" in page
    # the link carries the search, its sort included: the document's « Retour » comes back to this list
    assert 'href="/documents/2024/blanchiment-lyon.md?q=blanchiment+aggrav%C3%A9&amp;sort=newest#p1"' in page
    assert "27 juin 2024" in page and "Gendarmerie nationale" in page and "Communiqué" in page
    assert '<main id="contenu"' in page and 'role="search"' in page and '<label for="q">' in page


def test_spelling_suggestion(web_client: TestClient) -> None:
    body = web_client.get("/search?q=blanchimant&correct=false", headers=JSON).json()
    if body["suggestion"] is None:
        pytest.skip("the core offers no suggestion for this misspelling")
    assert body["total"] == 0 and body["corrected"] is False and body["corrected_query"] is None
    page = web_client.get("/search?q=blanchimant&correct=false", headers=HTML).text
    assert "Essayez avec :" in page and body["suggestion"] in page


def test_no_results_and_empty_archive_messages(web_client: TestClient, web_app_factory: WebFactory) -> None:
    page = web_client.get("/search?q=introuvablissime", headers=HTML).text
    assert "Aucun passage trouvé" in page
    empty = web_app_factory(documents={})
    r = empty.get("/search", headers=HTML)
    assert r.status_code == 200 and "L'archive est vide" in r.text
    assert empty.get("/search?q=x", headers=JSON).json()["total"] == 0


# ------------------------------------------------------------------ CSV export


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # UTF-8 with a byte-order mark: French Excel reads the accents
    lines = [line for line in text.removeprefix("\ufeff").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def test_csv_export_streams_every_matching_passage(web_client: TestClient) -> None:
    r = web_client.get("/search?q=&format=csv&per_page=2")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.headers["x-export-truncated"] == "false"
    rows = read_csv(r.text)
    assert len(rows) == 9  # all matches, not the current page only
    assert list(rows[0]) == [
        "id",
        "document",
        "position",
        "title",
        "date",
        "source",
        "agency",
        "offence",
        "text",
        "url",
        "section",
        "score",
        "agency_labels",
        "offence_labels",
        "matched",
        "query",
        "exported_at",
        "permalink",
    ]
    lyon = next(row for row in rows if row["id"] == "2024/blanchiment-lyon.md#p1")
    assert lyon["agency"] == "gendarmerie" and "blanchiment" in lyon["offence"].split()
    assert lyon["url"].endswith("/documents/2024/blanchiment-lyon.md#p1")
    assert lyon["date"] == "2024-06-27"


def test_csv_export_says_when_it_cuts(web_app_factory: WebFactory) -> None:
    client = web_app_factory(export_limit=3)
    r = client.get("/search?q=&format=csv")
    assert r.headers["x-export-truncated"] == "true" and r.headers["x-total-count"] == "9"
    assert len(read_csv(r.text)) == 3
    assert r.text.rstrip().splitlines()[-1].startswith("# export limité aux 3 premiers passages sur 9")


def test_csv_keeps_formulas_as_text(web_app_factory: WebFactory) -> None:
    client = web_app_factory(
        documents={"a.txt": '=HYPERLINK("http://x") est une formule de tableur piégée.\n'}
    )
    rows = read_csv(client.get("/search?q=&format=csv").text)
    assert rows[0]["text"].startswith("'=HYPERLINK")


# ------------------------------------------------------------------ hostile content comes back escaped


def test_hostile_document_is_escaped_in_html(web_client: TestClient) -> None:
    page = web_client.get("/search?q=contrebande", headers=HTML).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page and "<b>Source</b>" not in page
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page or "&lt;script&gt;alert(" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript:' not in page
    assert "&lt;b&gt;Source&lt;/b&gt; douteuse" in page


def test_hostile_document_is_escaped_in_json(web_client: TestClient) -> None:
    body = web_client.get("/search?q=contrebande", headers=JSON).json()
    hit = next(h for h in body["hits"] if h["document"] == "2024/hostile.txt")
    assert "<script>" not in hit["highlight"] and "&lt;script&gt;" in hit["highlight"]
    assert "<img" not in hit["highlight"] and "<mark>contrebande</mark>" in hit["highlight"]
    assert "<script>alert('xss')</script>" in hit["text"]  # plain text stays as written: clients escape it
    assert hit["title"] == "Piège <script>alert('titre')</script>"


def test_hostile_query_is_escaped(web_client: TestClient) -> None:
    q = '"><script>alert(1)</script>'
    page = web_client.get("/search", params={"q": q}, headers=HTML).text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_sidebar_titles_every_facet_once() -> None:
    from archive.models import FACETS
    from web.searchpage import FACET_TITLES, SIDEBAR_ORDER

    assert sorted(SIDEBAR_ORDER) == sorted(FACETS) and tuple(FACET_TITLES) == SIDEBAR_ORDER


# ------------------------------------------------------------------ phrases and typos (issue 13)

GUIDES = {
    "guides/aide.md": "---\ntitle: L'aide juridictionnelle\ndate: 2024-03-01\n---\n\n"
    "Une demande d'aide juridictionnelle peut être déposée au tribunal pour financer les frais d'avocat.\n\n"
    "Placé en garde à vue, le suspect peut demander l'assistance d'un avocat dès le début de la mesure.\n",
    "guides/casier.md": "---\ntitle: Le casier judiciaire\ndate: 2024-03-02\n---\n\n"
    "Le bulletin numéro 3 du casier judiciaire peut être demandé en ligne par la personne concernée.\n",
}


@pytest.fixture(scope="module")
def guides_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from web.app import create_app

    from .conftest import web_build_home, web_settings

    home = web_build_home(tmp_path_factory.mktemp("guides"), GUIDES)
    with TestClient(create_app(web_settings(home)), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    "typed, corrected, document",
    [
        ("aide juridictionelle", "aide juridictionnelle", "guides/aide.md"),
        ("casier judicaire", "casier judiciaire", "guides/casier.md"),
    ],
)
def test_a_typo_is_answered_with_the_corrected_search(
    guides_client: TestClient, typed: str, corrected: str, document: str
) -> None:
    body = guides_client.get("/search", params={"q": typed}, headers=JSON).json()
    assert body["query"] == typed and body["corrected"] is True and body["corrected_query"] == corrected
    assert [h["document"] for h in body["hits"]] == [document] and body["suggestion"] is None
    assert body["hits"][0]["url"].endswith("#p1")
    page = guides_client.get("/search", params={"q": typed}, headers=HTML).text
    verbatim = "/search?" + urlencode({"q": typed, "correct": "false"})
    assert f'Résultats pour <a href="/search?{urlencode({"q": corrected})}"><em>{corrected}</em></a>' in page
    assert (
        f'— rechercher plutôt <a href="{html.escape(verbatim)}" rel="nofollow"><em>{typed}</em></a>' in page
    )
    # the link carries what was typed; the document corrects it as the search did, and marks what was found
    link = f"/documents/{document}?{urlencode({'q': typed})}#p1"
    assert f'href="{html.escape(link)}"' in page
    opened = guides_client.get(link, headers=HTML).text
    assert f"orthographe corrigée de « {typed} »" in opened and "<mark>" in opened
    assert guides_client.get(link, headers=JSON).json()["corrected_query"] == corrected
    exact = guides_client.get(verbatim, headers=JSON).json()
    assert (
        exact["corrected"] is False and exact["corrected_query"] is None and exact["suggestion"] == corrected
    )
    assert "Résultats pour" not in guides_client.get(verbatim, headers=HTML).text


@pytest.mark.parametrize("value", ["maybe", "2", "vrai"])
def test_correct_must_be_true_or_false(guides_client: TestClient, value: str) -> None:
    r = guides_client.get("/search", params={"q": "aide", "correct": value}, headers=JSON)
    assert r.status_code == 400 and r.json()["parameter"] == "correct"


def test_a_phrase_is_marked_in_json_html_and_on_the_document_page(guides_client: TestClient) -> None:
    body = guides_client.get("/search", params={"q": '"garde à vue"'}, headers=JSON).json()
    assert [h["id"] for h in body["hits"]] == ["guides/aide.md#p2"]
    assert "Placé en <mark>garde à vue</mark>, le suspect" in body["hits"][0]["highlight"]
    page = guides_client.get("/search", params={"q": '"garde à vue"'}, headers=HTML).text
    assert "<mark>garde à vue</mark>" in page
    document = guides_client.get(
        "/documents/guides/aide.md", params={"q": '"garde à vue"'}, headers=HTML
    ).text
    assert "Placé en <mark>garde à vue</mark>" in document and document.count("<mark>") == 1
    view = guides_client.get("/documents/guides/aide.md", params={"q": '"garde à vue"'}, headers=JSON).json()
    assert [p["highlight"].count("<mark>") for p in view["passages"]] == [0, 1]


def test_a_sloppy_phrase_and_a_fuzzy_word_over_http(guides_client: TestClient) -> None:
    body = guides_client.get("/search", params={"q": '"demande juridictionnelle"~3'}, headers=JSON).json()
    assert body["interpreted_as"] == '"demande juridictionnelle"~3' and body["total"] == 1
    assert "<mark>demande d'aide juridictionnelle</mark>" in body["hits"][0]["highlight"]
    fuzzy = guides_client.get("/search", params={"q": "juridictionelle~"}, headers=JSON).json()
    assert fuzzy["total"] == 1 and "<mark>juridictionnelle</mark>" in fuzzy["hits"][0]["highlight"]
