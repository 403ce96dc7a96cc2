"""Fair use: a per-client limit on searches, documents and exports, `429` with `Retry-After` past it.

Limits here are tiny (5 a minute) so that the sixth request is refused at once: nothing waits for a
window to pass, and nothing measures time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from archive.settings import DEFAULT_RATE_LIMIT, Settings
from web.fairuse import client_key

from .conftest import web_build_home, web_settings

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
READS = [
    "/search?q=blanchiment",
    "/search?q=&agency=gendarmerie&format=csv",
    "/documents/2024/blanchiment-lyon.md",
    "/documents/2024/blanchiment-lyon.md?format=json",
    "/documents/2024/blanchiment-lyon.md/original",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return web_build_home(tmp_path_factory.mktemp("fairuse-home"))


@pytest.fixture
def limited(home: Path) -> Iterator[TestClient]:
    """A fresh app allowing 5 reads a minute per client, its client at a public address."""
    from web.app import create_app

    app = create_app(web_settings(home, "secret", rate_limit="5/minute"))
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 40000)) as client:
        yield client


def test_the_sixth_read_in_a_minute_is_refused_with_retry_after(limited: TestClient) -> None:
    for _ in range(5):
        assert limited.get("/search?q=blanchiment", headers=JSON).status_code == 200
    r = limited.get("/search?q=blanchiment", headers=JSON)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "rate_limited"
    assert "5 per 1 minute" in body["error"]["message"]
    assert "no-store" in r.headers["cache-control"]


def test_people_get_a_french_page(limited: TestClient) -> None:
    for _ in range(5):
        limited.get("/search?q=blanchiment", headers=HTML)
    r = limited.get("/search?q=blanchiment", headers=HTML)
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("text/html")
    assert "Trop de demandes" in r.text
    assert "au plus 5 par minute" in r.text
    assert f"Réessayez dans {r.headers['retry-after']} s" in r.text


def test_searches_exports_documents_and_originals_share_one_count(limited: TestClient) -> None:
    assert [limited.get(path).status_code for path in READS] == [200] * 5
    for path in READS:
        assert limited.get(path, headers=JSON).status_code == 429, path


def test_writes_health_jobs_and_the_api_description_are_not_counted(limited: TestClient) -> None:
    for _ in range(5):
        limited.get("/search?q=blanchiment")
    assert limited.get("/search?q=blanchiment").status_code == 429
    assert limited.get("/health").status_code == 200
    assert limited.get("/openapi.json").status_code == 200
    assert limited.get("/jobs/nope").status_code == 404
    assert limited.get("/static/style.css").status_code == 200
    auth = {"Authorization": "Bearer secret"}
    assert limited.delete("/documents/2099/nope.md", headers=auth).status_code == 404


def test_each_client_has_its_own_count(home: Path) -> None:
    from web.app import create_app

    app = create_app(web_settings(home, rate_limit="5/minute"))
    with (
        TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 1)) as first,
        TestClient(app, raise_server_exceptions=False, client=("198.51.100.9", 2)) as second,
    ):
        for _ in range(5):
            assert first.get("/search?q=douane").status_code == 200
        assert first.get("/search?q=douane").status_code == 429
        assert second.get("/search?q=douane").status_code == 200
        # an IPv6 subscriber's whole /64 is one client: rotating addresses within it does not help
        assert [_status(app, f"2001:db8:1:2::{i + 1}") for i in range(5)] == [200] * 5
        assert _status(app, "2001:db8:1:2::99") == 429
        assert _status(app, "2001:db8:1:3::1") == 200


def _status(app: Starlette, address: str) -> int:
    """The status of one search from `address`, to an app already started."""
    client = TestClient(app, raise_server_exceptions=False, client=(address, 3))
    try:
        code: int = client.get("/search?q=douane").status_code
        return code
    finally:
        client.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_not_counted_without_a_trusted_proxy(home: Path, address: str) -> None:
    from web.app import create_app

    app = create_app(web_settings(home, rate_limit="5/minute"))
    with TestClient(app, raise_server_exceptions=False, client=(address, 1)) as client:
        assert {client.get("/search?q=douane").status_code for _ in range(8)} == {200}


def test_behind_a_trusted_proxy_loopback_is_counted(home: Path) -> None:
    """uvicorn replaces the client by the one X-Forwarded-For names; what still comes from loopback
    (the proxy itself, or a request it forwarded without the header) is counted like anyone."""
    from web.app import create_app

    app = create_app(web_settings(home, rate_limit="5/minute", trusted_proxies=("127.0.0.1",)))
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 1)) as client:
        assert [client.get("/search?q=douane").status_code for _ in range(6)] == [200] * 5 + [429]


def test_several_limits_apply_together(home: Path) -> None:
    from web.app import create_app

    app = create_app(web_settings(home, rate_limit="3/second;100/minute"))
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 1)) as client:
        statuses = [client.get("/search?q=douane").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_off_means_no_limit(home: Path) -> None:
    from web.app import create_app

    app = create_app(web_settings(home))  # the tests' default: ARCHIVE_RATE_LIMIT=off
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 1)) as client:
        assert {client.get("/search?q=douane").status_code for _ in range(30)} == {200}


def test_clients_with_nothing_left_in_their_window_are_forgotten(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage keeps an empty entry per address it has seen; a sweep drops those, not the others."""
    from web import fairuse
    from web.app import create_app

    monkeypatch.setattr(fairuse, "SWEEP_EVERY", 3)
    app = create_app(web_settings(home, rate_limit="5/minute"))
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 1)) as client:
        client.get("/search?q=douane")
        events = app.state.fair_use._storage.events
        events["198.51.100.1"] = []  # a client whose window has expired
        client.get("/search?q=douane")
        assert "198.51.100.1" in events
        client.get("/search?q=douane")  # the third check sweeps
        assert "198.51.100.1" not in events
        assert [len(window) for key, window in events.items() if "203.0.113.7" in key] == [3]  # still counted


# ------------------------------------------------------------------ the setting


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, DEFAULT_RATE_LIMIT),
        ("", DEFAULT_RATE_LIMIT),
        ("120/minute", "120/minute"),
        ("10/second;600/minute", "10/second;600/minute"),
        ("1000 per hour", "1000 per hour"),
        ("off", None),
        ("OFF", None),
        ("0", None),
    ],
)
def test_archive_rate_limit_is_read_from_the_environment(raw: str | None, expected: str | None) -> None:
    env = {} if raw is None else {"ARCHIVE_RATE_LIMIT": raw}
    assert Settings.from_env(env).rate_limit == expected


@pytest.mark.parametrize("raw", ["600", "fast", "600/fortnight", "0/minute", "-5/minute", "5/minute;"])
def test_a_bad_archive_rate_limit_is_a_clear_error(raw: str) -> None:
    with pytest.raises(ValueError, match="ARCHIVE_RATE_LIMIT"):
        Settings.from_env({"ARCHIVE_RATE_LIMIT": raw})


def test_the_default_is_generous() -> None:
    assert DEFAULT_RATE_LIMIT == "600/minute"
    assert Settings(home=Path(".")).rate_limit == DEFAULT_RATE_LIMIT


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_who_is_counted(host: str, key: str) -> None:
    assert client_key(host) == key
