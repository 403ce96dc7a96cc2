"""Service qualities: health, OpenAPI kept true, security headers, error shapes, logs, no stack traces."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from web import openapi, search

from .conftest import WebFactory

HTML = {"Accept": "text/html"}


def test_health(web_client: TestClient) -> None:
    body = web_client.get("/health").json()
    assert body["status"] == "ok"
    assert body["documents"] == 5 and body["passages"] == 9
    assert isinstance(body["built_at"], str) and body["built_at"][:2] == "20"


def test_health_of_an_unindexed_archive(tmp_path: Path) -> None:
    from web.app import create_app

    from .conftest import web_settings

    with TestClient(create_app(web_settings(tmp_path))) as client:
        body = client.get("/health").json()
    assert body == {**body, "status": "no_index", "documents": 0, "passages": 0, "built_at": None}


def _routes(client: TestClient) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        out.update((path, m.lower()) for m in route.methods or () if m != "HEAD")
    return out


def test_openapi_documents_every_route_and_nothing_else(web_client: TestClient) -> None:
    spec = web_client.get("/openapi.json").json()
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert documented == _routes(web_client) - {("/", "get")}


def test_openapi_documents_every_search_parameter(web_client: TestClient) -> None:
    spec = web_client.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params == set(search.PARAMETERS)
    # ...and every documented parameter is one the endpoint really reads: a bad value of each is refused
    # or changes the answer.
    base = web_client.get("/search?q=", headers={"Accept": "application/json"}).json()
    for name, value in [
        ("page", "0"),
        ("per_page", "0"),
        ("sort", "x"),
        ("from", "x"),
        ("to", "x"),
        ("format", "x"),
    ]:
        assert web_client.get(f"/search?{name}={value}").status_code == 400, name
    for name in ("agency", "offence", "year", "source", "type", "q"):
        value = "1899" if name == "year" else "zzz-inconnu"  # a year is four digits, or refused
        r = web_client.get(f"/search?{name}={value}").json()
        assert r["total"] < base["total"], name


def test_openapi_path_parameters_match_the_routes(web_client: TestClient) -> None:
    spec = openapi.spec()
    for path, ops in spec["paths"].items():
        in_path = set(re.findall(r"\{(\w+)\}", path))
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == in_path, path
            for status, response in op["responses"].items():
                assert "description" in response, (path, status)


CSP_FORBIDS_INLINE = re.compile(r"script-src[^;]*'unsafe-inline'")


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=blanchiment",
        "/search?page=0",
        "/documents/2024/blanchiment-lyon.md",
        "/documents/2024/blanchiment-lyon.md/original",
        "/health",
        "/openapi.json",
        "/static/style.css",
        "/nulle-part",
        "/",
    ],
)
def test_security_headers_on_every_response(web_client: TestClient, path: str) -> None:
    for headers in (HTML, {}):
        r = web_client.get(path, headers=headers, follow_redirects=False)
        csp = r.headers["content-security-policy"]
        assert "script-src" in csp or "default-src 'none'" in csp
        assert not CSP_FORBIDS_INLINE.search(csp)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"]
        assert r.headers["x-frame-options"] == "DENY" or "frame-ancestors" in csp or "sandbox" in csp


def test_pages_have_no_inline_script_or_style(web_client: TestClient) -> None:
    for path in ("/search?q=blanchiment", "/documents/2024/blanchiment-lyon.md?q=saisi", "/nulle-part"):
        page = web_client.get(path, headers=HTML).text
        scripts = re.findall(r"<script\b[^>]*>", page)  # the site's own files only, nothing inline
        assert scripts and all(re.fullmatch(r'<script src="/static/\w+\.js" defer>', s) for s in scripts)
        assert '<script src="/static/app.js" defer>' in scripts
        assert "<style" not in page and " style=" not in page and not re.search(r" on\w+=", page)


def test_static_files_are_served(web_client: TestClient) -> None:
    assert web_client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert "javascript" in web_client.get("/static/app.js").headers["content-type"]


def test_unknown_page_and_method(web_client: TestClient) -> None:
    r = web_client.get("/nulle-part")
    assert r.status_code == 404 and r.json() == {"error": {"code": "not_found", "message": "no such page"}}
    page = web_client.get("/nulle-part", headers=HTML)
    assert page.status_code == 404 and "Page introuvable" in page.text
    r = web_client.put("/search")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_home_redirects_to_search(web_client: TestClient) -> None:
    r = web_client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/search"


def test_a_crash_is_logged_and_never_shows_a_stack_trace(
    web_app_factory: WebFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = web_app_factory(token=None)
    home: Path = client.app.state.settings.home  # type: ignore[attr-defined]
    for toc in (home / "index").glob("gen-*/*.toc"):  # a damaged index: the core fails unexpectedly
        toc.unlink()
    with caplog.at_level(logging.ERROR, logger="web"):
        r = client.get("/search?q=blanchiment")
        page = client.get("/search?q=blanchiment", headers=HTML)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "Traceback" not in r.text and 'File "' not in r.text
    assert page.status_code == 500 and "Erreur du service" in page.text and "Traceback" not in page.text
    assert page.headers["content-security-policy"] and page.headers["x-content-type-options"] == "nosniff"
    assert any(rec.exc_info for rec in caplog.records if rec.name == "web")


def test_one_log_line_per_request(web_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="web.access"):
        web_client.get("/search?q=blanchiment")
        web_client.get("/search?page=0")
    lines = [r.getMessage() for r in caplog.records if r.name == "web.access"]
    assert len(lines) == 2
    assert re.fullmatch(r'\S+ "GET /search\?q=blanchiment" 200 \d+\.\dms', lines[0])
    assert '"GET /search?page=0" 400 ' in lines[1]
