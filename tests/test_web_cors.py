"""CORS: pages of the configured origins may read the archive from a browser; nobody's page may write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive.settings import Settings

from .conftest import WebFactory, web_settings

ALLOWED = "https://dash.example.org"
REFUSED = "https://evil.example"
AUTH = {"Authorization": "Bearer secret"}
TXT = "Les gendarmes ont saisi des faux billets lors d'un contrôle routier près de Marseille.\n".encode()

READS = [
    "/search?q=blanchiment",
    "/search?q=blanchiment&format=csv",
    "/search?q=blanchiment&format=html",
    "/documents/2024/blanchiment-lyon.md",
    "/documents/2024/blanchiment-lyon.md/original",
    "/health",
    "/openapi.json",
]
WRITES = [("POST", "/documents"), ("DELETE", "/documents/2024/blanchiment-lyon.md"), ("POST", "/reindex")]


def allow_headers(headers: object) -> dict[str, str]:
    """The `Access-Control-Allow-*` headers of an answer."""
    assert hasattr(headers, "items")
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("access-control-allow")}


@pytest.fixture(scope="module")
def cors_client(web_home: Path) -> Iterator[TestClient]:
    """A read-only app over the shared home that lets ALLOWED's pages read."""
    from web.app import create_app

    app = create_app(web_settings(web_home, cors_origins=(ALLOWED,)))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("path", READS)
def test_an_allowed_origin_may_read(cors_client: TestClient, path: str) -> None:
    r = cors_client.get(path, headers={"Origin": ALLOWED})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in r.headers
    assert "origin" in r.headers["vary"].lower()  # a cache keeps one answer per origin
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "x-total-count", "link"} <= exposed


@pytest.mark.parametrize("path", READS)
def test_a_refused_origin_gets_no_allow_origin(cors_client: TestClient, path: str) -> None:
    r = cors_client.get(path, headers={"Origin": REFUSED})
    assert r.status_code == 200  # the server answers; the browser keeps the answer from the page
    assert "access-control-allow-origin" not in r.headers
    assert "origin" in r.headers["vary"].lower()


def test_a_read_preflight_from_an_allowed_origin_is_answered(cors_client: TestClient) -> None:
    r = cors_client.options(
        "/search",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert set(r.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD"}
    assert "If-None-Match" in r.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"  # security headers wrap CORS


def test_a_read_preflight_from_a_refused_origin_is_refused(cors_client: TestClient) -> None:
    r = cors_client.options("/search", headers={"Origin": REFUSED, "Access-Control-Request-Method": "GET"})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


def test_a_preflight_asking_to_send_the_token_is_refused(cors_client: TestClient) -> None:
    r = cors_client.options(
        "/search",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert r.status_code == 400
    assert "authorization" not in r.headers.get("access-control-allow-headers", "").lower()


@pytest.mark.parametrize("origins", [(ALLOWED,), ("*",)])
@pytest.mark.parametrize(("method", "path"), WRITES)
def test_the_preflight_of_a_write_gets_no_allow_headers(
    web_app_factory: WebFactory, origins: tuple[str, ...], method: str, path: str
) -> None:
    client = web_app_factory(cors_origins=origins)
    r = client.options(
        path,
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert r.status_code == 405
    assert allow_headers(r.headers) == {}


@pytest.mark.parametrize("origins", [(ALLOWED,), ("*",)])
def test_writes_never_carry_allow_origin(web_app_factory: WebFactory, origins: tuple[str, ...]) -> None:
    """Even from an allowed origin and with the right token: a write's answer is never readable by a page."""
    client = web_app_factory(cors_origins=origins)
    headers = {**AUTH, "Origin": ALLOWED}
    answers = [
        client.post("/documents", headers=headers, data={"folder": "2025"}, files={"file": ("a.txt", TXT)}),
        client.delete("/documents/2024/blanchiment-lyon.md", headers=headers),
        client.post("/reindex", headers=headers),
        client.delete("/documents/2024/absent.md", headers=headers),  # and errors of writes
        client.post("/reindex", headers={"Origin": ALLOWED}),  # and refusals
    ]
    assert [r.status_code for r in answers] == [201, 200, 202, 404, 401]
    for r in answers:
        assert allow_headers(r.headers) == {}, r.request.url
        assert r.headers["cache-control"] == "no-store"


def test_any_origin_may_read_with_a_star(web_app_factory: WebFactory) -> None:
    client = web_app_factory(token=None, cors_origins=("*",))
    r = client.get("/search?q=blanchiment", headers={"Origin": REFUSED})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_errors_of_reads_are_readable_by_an_allowed_origin(cors_client: TestClient) -> None:
    """CORS wraps the error handlers: a script learns why its request failed."""
    for path, status in [("/documents/2024/absent.md", 404), ("/search?per_page=0", 400)]:
        r = cors_client.get(path, headers={"Origin": ALLOWED})
        assert r.status_code == status
        assert r.headers["access-control-allow-origin"] == ALLOWED
        assert r.json()["error"]["code"]


def test_a_429_is_readable_by_an_allowed_origin(web_home: Path) -> None:
    """CORS wraps the rate limit: a script learns it must wait, and for how long."""
    from web.app import create_app

    app = create_app(web_settings(web_home, cors_origins=(ALLOWED,), rate_limit="2/minute"))
    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [client.get("/search?q=douane", headers={"Origin": ALLOWED}) for _ in range(3)]
    refused = statuses[-1]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert refused.headers["access-control-allow-origin"] == ALLOWED
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["cache-control"] == "no-store"


def test_no_cors_unless_configured(web_client: TestClient) -> None:
    r = web_client.get("/search?q=blanchiment", headers={"Origin": ALLOWED})
    assert allow_headers(r.headers) == {}
    preflight = web_client.options("/search", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 405
    assert allow_headers(preflight.headers) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("*", ("*",)),
        ("https://dash.example.org", ("https://dash.example.org",)),
        (" https://Dash.Example.org , http://localhost:8888,", ("https://dash.example.org", "http://localhost:8888")),
        ("http://[::1]:3000", ("http://[::1]:3000",)),
    ],
)
def test_cors_origins_setting(raw: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env({"ARCHIVE_CORS_ORIGINS": raw}).cors_origins == expected


@pytest.mark.parametrize(
    "raw", ["dash.example.org", "https://dash.example.org/", "https://x.org/path", "ftp://x.org", "null", "*, https://x.org"]
)
def test_cors_origins_setting_refuses_what_is_no_origin(raw: str) -> None:
    with pytest.raises(ValueError, match="ARCHIVE_CORS_ORIGINS"):
        Settings.from_env({"ARCHIVE_CORS_ORIGINS": raw})
