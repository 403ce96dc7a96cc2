"""Requests that freeze the server: the facet flood, and pages rendered on the event loop.

`GET /search?year=0&year=1&…` with 1,700 values (a 16 KB address) made a 39 MB page: each active-filter
chip was a link repeating every other value, so the page grew with the square of their number, and it
was rendered on the event loop, so three such requests kept `/health` waiting 16.9 s. Now a facet takes
at most MAX_SELECTED values (400 past it, naming the facet), the query string is bounded, each chip is a
few bytes, and templates and JSON bodies are rendered in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from archive.errors import UsageError
from archive.home import Archive
from archive.models import FACETS
from archive.request import MAX_SELECTED, SearchRequest
from web.search import MAX_PARAMETERS, MAX_QUERY_BYTES

from .conftest import WebFactory

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
ROOT = Path(__file__).parent.parent
FLOOD = "&".join(f"year={i}" for i in range(1700))
"""The reported attack: 1,700 values of one facet, a 15.9 KB query string."""


def test_facet_flood_is_refused_naming_the_facet(web_client: TestClient) -> None:
    """Attack: `GET /search?year=0&year=1&…&year=1699`, as a browser (HTML) and as a program (JSON).
    Before: a 39 MB page, built on the event loop. Now: 400 at once, naming the facet, in both forms.
    """
    r = web_client.get("/search?" + FLOOD, headers=JSON)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_parameter" and r.json()["parameter"] == "year"
    assert str(MAX_SELECTED) in r.json()["error"]["message"]
    page = web_client.get("/search?" + FLOOD, headers=HTML)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert f"au plus {MAX_SELECTED} valeurs" in page.text and len(page.content) < 10_000
    csv = web_client.get("/search?format=csv&" + FLOOD)
    assert csv.status_code == 400 and csv.json()["parameter"] == "year"


@pytest.mark.parametrize("facet", FACETS)
def test_the_cap_is_per_facet_and_exact(web_client: TestClient, facet: str) -> None:
    """MAX_SELECTED distinct values pass, one more is refused; repeated values count once."""
    allowed = [(facet, str(2000 + i) if facet == "year" else f"v{i}") for i in range(MAX_SELECTED)]
    assert web_client.get("/search", params=allowed, headers=JSON).status_code == 200
    r = web_client.get("/search", params=[*allowed, (facet, "one-more")], headers=JSON)
    assert r.status_code == 400 and r.json()["parameter"] == facet
    repeated = [(facet, "2000" if facet == "year" else "same")] * (MAX_SELECTED + 5)
    assert web_client.get("/search", params=repeated, headers=JSON).status_code == 200


def test_the_core_refuses_the_flood_too(archive: Archive) -> None:
    """The CLI and any other front end meet the same cap: `Archive.search` raises UsageError."""
    flood = SearchRequest(filters={"year": tuple(str(y) for y in range(1700))})
    with pytest.raises(UsageError) as caught:
        archive.search(flood)
    assert caught.value.parameter == "year"
    with pytest.raises(UsageError):
        archive.searcher.export(flood, 10)
    fine = SearchRequest(filters={"year": tuple(str(2010 + y) for y in range(MAX_SELECTED))})
    assert archive.search(fine).total > 0


def test_query_string_size_and_parameter_count_are_bounded(web_client: TestClient) -> None:
    """Attack: a megabyte of query string, or thousands of parameters of another name.
    Before: parsed and echoed back into the page. Now: 414 past MAX_QUERY_BYTES, 400 past MAX_PARAMETERS.
    """
    long = web_client.get("/search", params={"q": "a" * (MAX_QUERY_BYTES + 1)}, headers=JSON)
    assert long.status_code == 414 and long.json()["error"]["code"] == "uri_too_long"
    many = [("sort", "newest")] * (MAX_PARAMETERS + 1)
    r = web_client.get("/search", params=many, headers=JSON)
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_parameters"
    assert web_client.get("/documents/2024/blanchiment-lyon.md", params=many, headers=JSON).status_code == 400
    html = web_client.get("/search", params={"q": "a" * (MAX_QUERY_BYTES + 1)}, headers=HTML)
    assert html.status_code == 414 and "trop longue" in html.text
    # a long query text below the bound is still searched, cut to 1,000 characters with a note
    ok = web_client.get("/search", params={"q": "blanchiment " * 2000}, headers=JSON)
    assert ok.status_code == 200 and any("tronquée" in n for n in ok.json()["notes"])


def _page(web_client: TestClient, values: int) -> str:
    params = [("source", f"Source-{i:03d}") for i in range(values)]
    params += [("agency", f"service-{i:03d}") for i in range(values)]
    r = web_client.get("/search", params=[("q", "blanchiment"), *params], headers=HTML)
    assert r.status_code == 200
    text: str = r.text
    return text


def test_chips_grow_the_page_linearly(web_client: TestClient) -> None:
    """Attack: many selected values (within the cap now), each shown as a removable chip.
    Before: each chip's link repeated every other value: a value appeared once per chip, n² in all.
    Now: a chip is a button sending `remove=facet:value`; a value appears a fixed number of times
    (its checkbox, its chip, the page's few links), whatever the number of selected values.
    """
    few, many = _page(web_client, 2), _page(web_client, MAX_SELECTED)
    assert few.count("Source-001") == many.count("Source-001")
    assert many.count('class="chip" name="remove"') == 2 * MAX_SELECTED
    assert 'value="source:Source-019"' in many


def test_a_chip_removes_only_its_filter(web_client: TestClient) -> None:
    """`remove=facet:value` (and `remove=from`, `remove=to`) drops one filter; others stay."""
    base = [("q", ""), ("year", "2024"), ("year", "2023"), ("from", "2023-01-01"), ("to", "2024-12-31")]
    body = web_client.get("/search", params=[*base, ("remove", "year:2024"), ("remove", "to")], headers=JSON)
    expected = web_client.get(
        "/search", params=[("q", ""), ("year", "2023"), ("from", "2023-01-01")], headers=JSON
    )
    assert body.json()["total"] == expected.json()["total"] > 0
    selected = {f["value"] for f in body.json()["facets"]["year"] if f["selected"]}
    assert selected == {"2023"}
    page = web_client.get("/search", params=base, headers=HTML).text
    assert 'name="remove" value="from"' in page and 'name="remove" value="year:2023"' in page


def test_pages_and_json_are_rendered_off_the_event_loop(web_app_factory: WebFactory) -> None:
    """Attack: several large pages at once. Before: each was rendered on the event loop, and every
    other request (`/health` included) waited for it. Now: templates and JSON bodies are built in
    worker threads. Observed through Jinja's `finalize` hook, which runs for each value a template writes.
    """
    client = web_app_factory(token=None)
    on_loop: list[bool] = []

    def observe(value: object) -> object:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return value

    client.app.state.templates.env.finalize = observe  # type: ignore[attr-defined]
    assert client.get("/search?q=blanchiment", headers=HTML).status_code == 200
    assert client.get("/documents/2024/blanchiment-lyon.md?q=saisi", headers=HTML).status_code == 200
    assert client.get("/documents/absent.md", headers=HTML).status_code == 404
    assert client.get("/search?" + FLOOD, headers=HTML).status_code == 400
    assert on_loop and not any(on_loop)


# ------------------------------------------------------------------ through a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`archive serve` over a small archive home."""
    from .conftest import archive_env, serving, web_build_home

    home = web_build_home(tmp_path_factory.mktemp("flood-home"))
    env = archive_env(home, ARCHIVE_PASSAGE_MIN_WORDS="5")
    with serving(env, home.parent / f"{home.name}-serve.log") as (_, base):
        yield base


def test_the_flood_through_uvicorn_is_a_400(server: str) -> None:
    """The reported request, through the real HTTP server: uvicorn accepts its 16 KB head, the app
    answers 400 naming the facet, and the service answers the next request."""
    with httpx.Client(base_url=server, timeout=30) as c:
        for headers in (HTML, JSON):
            r = c.get("/search?" + FLOOD, headers=headers)
            assert r.status_code == 400
        assert r.json()["parameter"] == "year"
        assert c.get("/health").status_code == 200
