"""HTTP caching and compression: validators tied to the index commit, 304s, what may be stored, gzip.

Caching: a search, a document page or an export carries a weak `ETag` (the live commit and the
normalised request, hashed), `Last-Modified` (the commit's time) and `Cache-Control: public,
max-age=60, must-revalidate`; a matching `If-None-Match` gets a `304` without running the search, and
any commit (incremental reindex, full reindex, delete) changes every tag. Compression: gzip when
accepted, for every format, streaming kept; never for originals.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import re
import shutil
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message

from archive.home import Archive
from web.compression import Compression, accepts_gzip
from web.export import EXPORT_CHUNK

from .conftest import (
    HANG_GUARD,
    WEB_DOCUMENTS,
    WebFactory,
    archive_env,
    serving,
    wait_until,
    web_settings,
    within_guard,
)

AUTH = {"Authorization": "Bearer secret"}
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}

CACHEABLE = [
    ("/search?q=blanchiment", JSON),
    ("/search?q=blanchiment", HTML),
    ("/search?q=blanchiment&format=csv", {}),
    ("/documents/2024/blanchiment-lyon.md?q=saisi", JSON),
    ("/documents/2024/blanchiment-lyon.md", HTML),
]


def home_of(client: TestClient) -> Path:
    home: Path = client.app.state.settings.home  # type: ignore[attr-defined]
    return home


def reindexed(client: TestClient, full: bool = False) -> None:
    """Run a reindex job over HTTP and wait for its end (events, not delays)."""
    r = client.post("/reindex" + ("?full=true" if full else ""), headers=AUTH)
    assert r.status_code == 202
    job = r.json()["job"]
    states: list[str] = []

    def ended() -> bool:
        states.append(client.get(f"/jobs/{job}").json()["state"])
        return states[-1] in ("done", "failed")

    wait_until(ended, f"reindex job {job}", poll=0.02)
    assert states[-1] == "done"


# ------------------------------------------------------------------ validators


@pytest.mark.parametrize(("path", "headers"), CACHEABLE)
def test_reads_carry_validators_and_may_be_kept_a_minute(
    web_client: TestClient, path: str, headers: dict[str, str]
) -> None:
    r = web_client.get(path, headers=headers)
    assert r.status_code == 200
    assert r.headers["etag"].startswith('W/"') and r.headers["etag"].endswith('"')
    assert email.utils.parsedate_to_datetime(r.headers["last-modified"]).tzinfo is not None
    assert r.headers["cache-control"] == "public, max-age=60, must-revalidate"
    vary = {v.strip().lower() for v in r.headers["vary"].split(",")}
    assert {"accept", "accept-encoding"} <= vary
    assert len(r.headers.get_list("vary")) == 1 and len(vary) == len(r.headers["vary"].split(","))


@pytest.mark.parametrize(("path", "headers"), CACHEABLE)
def test_a_matching_if_none_match_answers_304_without_a_body(
    web_client: TestClient, path: str, headers: dict[str, str]
) -> None:
    first = web_client.get(path, headers=headers)
    again = web_client.get(path, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    for name in ("etag", "last-modified", "cache-control", "vary"):
        assert again.headers[name] == first.headers[name]
    head = web_client.head(path, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert head.status_code == 304


def test_if_none_match_uses_the_weak_comparison(web_client: TestClient) -> None:
    etag = web_client.get("/search?q=blanchiment").headers["etag"]
    strong = etag.removeprefix("W/")
    for given in (strong, f'"other", {etag}', f'W/"other",{strong}'):
        assert web_client.get("/search?q=blanchiment", headers={"If-None-Match": given}).status_code == 304
    for given in ('"other"', "*", etag[:-2] + '"'):
        assert web_client.get("/search?q=blanchiment", headers={"If-None-Match": given}).status_code == 200


def test_if_modified_since_counts_only_without_if_none_match(web_client: TestClient) -> None:
    first = web_client.get("/search?q=blanchiment")
    modified = first.headers["last-modified"]
    earlier = email.utils.format_datetime(
        email.utils.parsedate_to_datetime(modified).replace(year=2000), usegmt=True
    )

    def status(**headers: str) -> int:
        code: int = web_client.get("/search?q=blanchiment", headers=headers).status_code
        return code

    assert status(**{"If-Modified-Since": modified}) == 304
    assert status(**{"If-Modified-Since": earlier}) == 200
    assert status(**{"If-Modified-Since": "not a date"}) == 200
    assert status(**{"If-Modified-Since": modified, "If-None-Match": '"other"'}) == 200  # the tag decides


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("/search?q=blanchiment", "/search?q=escroquerie"),
        ("/search?q=blanchiment", "/search?q=blanchiment&format=csv"),
        ("/search?q=blanchiment", "/search?q=blanchiment&page=2"),
        ("/search?q=&year=2024&year=2023", "/search?q=&year=2023&year=2024"),  # the order shows in the answer
        ("/documents/2024/blanchiment-lyon.md", "/documents/2023/douane-cigarettes.md"),
        ("/documents/2024/blanchiment-lyon.md", "/documents/2024/blanchiment-lyon.md?q=saisi"),
    ],
)
def test_the_tag_depends_on_the_request(web_client: TestClient, one: str, other: str) -> None:
    assert web_client.get(one).headers["etag"] != web_client.get(other).headers["etag"]


def test_the_tag_depends_on_the_negotiated_format_not_on_the_order_of_parameters(
    web_client: TestClient,
) -> None:
    as_json = web_client.get("/search?q=blanchiment&year=2024", headers=JSON).headers["etag"]
    assert web_client.get("/search?year=2024&q=blanchiment", headers=JSON).headers["etag"] == as_json
    assert web_client.get("/search?q=blanchiment&year=2024", headers=HTML).headers["etag"] != as_json


def test_a_304_runs_no_search(web_client: TestClient) -> None:
    """With every search thread taken, a conditional request still answers: it needed none."""
    etag = web_client.get("/search?q=gendarmerie").headers["etag"]
    limiter = web_client.app.state.searches  # type: ignore[attr-defined]
    borrowers = [object() for _ in range(int(limiter.total_tokens))]
    assert web_client.portal is not None
    for b in borrowers:
        web_client.portal.call(limiter.acquire_on_behalf_of_nowait, b)
    try:
        r = within_guard(web_client.get, "/search?q=gendarmerie", headers={"If-None-Match": etag})
        assert r.status_code == 304
    finally:
        for b in borrowers:
            web_client.portal.call(limiter.release_on_behalf_of, b)


NEW_DOCUMENT = (
    "---\ntitle: Blanchiment à Nantes\ndate: 2025-02-02\n---\n\n"
    "Un nouveau dossier de blanchiment aggravé instruit à Nantes par la juridiction spécialisée.\n"
)


@pytest.mark.parametrize("write", ["incremental reindex", "full reindex", "delete"])
def test_every_commit_changes_the_tag(web_app_factory: WebFactory, write: str) -> None:
    client = web_app_factory()
    before = [client.get(path, headers=h) for path, h in CACHEABLE[:3]]
    if write == "incremental reindex":
        (home_of(client) / "documents" / "2025").mkdir()
        (home_of(client) / "documents" / "2025" / "nantes.md").write_text(NEW_DOCUMENT, encoding="utf-8")
        reindexed(client)
    elif write == "full reindex":
        reindexed(client, full=True)  # nothing changed but the generation: a cache cannot know that
    else:
        assert client.delete("/documents/2021/blanchiment-escroquerie.md", headers=AUTH).status_code == 200
    for (path, h), old in zip(CACHEABLE[:3], before, strict=True):
        r = client.get(path, headers={**h, "If-None-Match": old.headers["etag"]})
        assert r.status_code == 200, (write, path)
        assert r.headers["etag"] != old.headers["etag"]
        later = email.utils.parsedate_to_datetime(r.headers["last-modified"])
        assert later >= email.utils.parsedate_to_datetime(old.headers["last-modified"])
    if write == "incremental reindex":
        assert "nantes" in client.get("/search?q=Nantes").text


def test_an_incremental_commit_in_the_same_generation_changes_the_tag(web_app_factory: WebFactory) -> None:
    """The generation directory stays; its Whoosh commit changes, and so does the tag."""
    client = web_app_factory()
    generation = client.get("/health").json()["generation"]
    etag = client.get("/search?q=blanchiment").headers["etag"]
    (home_of(client) / "documents" / "2025").mkdir()
    (home_of(client) / "documents" / "2025" / "nantes.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    reindexed(client)
    assert client.get("/health").json()["generation"] == generation
    assert client.get("/search?q=blanchiment").headers["etag"] != etag


def test_the_archive_version_follows_every_commit(tmp_path: Path) -> None:
    """`Archive.version()`: None before any index, then a new tag per commit, the same without one."""
    (tmp_path / "documents" / "2024").mkdir(parents=True)
    (tmp_path / "documents" / "2024" / "a.md").write_text(WEB_DOCUMENTS["2024/blanchiment-lyon.md"], "utf-8")
    with Archive(web_settings(tmp_path)) as archive:
        assert archive.version() is None
        archive.reindex()
        first = archive.version()
        archive.reindex()  # nothing to do: no commit
        assert archive.version() == first
        (tmp_path / "documents" / "2025").mkdir()
        (tmp_path / "documents" / "2025" / "nantes.md").write_text(NEW_DOCUMENT, "utf-8")
        archive.reindex()
        second = archive.version()
        archive.reindex(full=True)
        third = archive.version()
    assert first is not None and second is not None and third is not None
    assert len({first.tag, second.tag, third.tag}) == 3
    assert first.committed <= second.committed <= third.committed


ORIGINAL = "/documents/2024/blanchiment-lyon.md/original"


def test_originals_revalidate_by_their_file(web_client: TestClient) -> None:
    first = web_client.get(ORIGINAL)
    assert first.headers["etag"].startswith('"')  # strong: the bytes as stored, never re-encoded
    assert first.headers["cache-control"] == "public, max-age=60, must-revalidate"
    again = web_client.get(ORIGINAL, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = web_client.get(ORIGINAL, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304


def test_an_original_stored_again_under_its_name_gets_a_new_tag(web_app_factory: WebFactory) -> None:
    client = web_app_factory()
    etag = client.get(ORIGINAL).headers["etag"]
    assert client.delete("/documents/2024/blanchiment-lyon.md", headers=AUTH).status_code == 200
    r = client.post(
        "/documents", headers=AUTH, data={"folder": "2024"}, files={"file": ("blanchiment-lyon.md", NEW_DOCUMENT)}
    )
    assert r.status_code == 201
    again = client.get(ORIGINAL, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.content == NEW_DOCUMENT.encode()
    assert again.headers["etag"] != etag


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/health", "no-cache"),
        ("GET", "/documents/2024/absent.md", "no-store"),
        ("GET", "/search?per_page=0", "no-store"),
        ("GET", "/jobs/nope", "no-store"),
        ("POST", "/reindex", "no-store"),
        ("DELETE", "/documents/2024/blanchiment-lyon.md", "no-store"),
        ("GET", "/openapi.json", "no-store"),
    ],
)
def test_what_may_not_be_kept(web_client: TestClient, method: str, path: str, expected: str) -> None:
    r = web_client.request(method, path)
    assert r.headers["cache-control"] == expected
    assert "etag" not in r.headers


# ------------------------------------------------------------------ compression


@pytest.mark.parametrize(("path", "headers"), CACHEABLE)
def test_gzip_when_accepted(web_client: TestClient, path: str, headers: dict[str, str]) -> None:
    plain = web_client.get(path, headers={**headers, **IDENTITY})
    packed = web_client.get(path, headers={**headers, **GZIP})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.num_bytes_downloaded < len(packed.content)
    assert packed.headers["etag"] == plain.headers["etag"]  # weak: the same answer, however encoded
    assert packed.headers["content-type"] == plain.headers["content-type"]
    if packed.headers["content-type"].startswith("application/json"):
        assert _without_timing(packed.json()) == _without_timing(plain.json())
    elif "csv" in packed.headers["content-type"]:  # two exports: only their exported_at may differ
        assert _moment_out(packed.content) == _moment_out(plain.content)


def _without_timing(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "took_ms"}


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip;q=0, identity", "br", ""])
def test_no_gzip_unless_accepted(web_client: TestClient, accept_encoding: str) -> None:
    r = web_client.get("/search?q=blanchiment", headers={"Accept-Encoding": accept_encoding})
    assert "content-encoding" not in r.headers
    assert "accept-encoding" in r.headers["vary"].lower()


@pytest.mark.parametrize(
    ("header", "accepted"),
    [("gzip", True), ("deflate, gzip;q=0.5", True), ("*", True), ("*;q=0", False), ("gzip;q=0, *", False)],
)
def test_accept_encoding_weights(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


def test_small_answers_and_originals_are_not_compressed(web_client: TestClient) -> None:
    assert "content-encoding" not in web_client.get("/health", headers=GZIP).headers
    original = web_client.get("/documents/2024/blanchiment-lyon.md/original", headers=GZIP)
    assert original.status_code == 200
    assert "content-encoding" not in original.headers
    assert original.content == WEB_DOCUMENTS["2024/blanchiment-lyon.md"].encode()


def test_a_304_is_not_compressed_and_keeps_its_headers(web_client: TestClient) -> None:
    etag = web_client.get("/search?q=blanchiment", headers=GZIP).headers["etag"]
    r = web_client.get("/search?q=blanchiment", headers={**GZIP, "If-None-Match": etag})
    assert r.status_code == 304
    assert "content-encoding" not in r.headers
    assert r.headers["cache-control"] == "public, max-age=60, must-revalidate"


def long_documents(rows: int) -> dict[str, str]:
    """Two documents of one-paragraph passages that all match `blanchiment`: `rows` passages in all."""
    out = {}
    for d in range(2):
        paragraphs = [
            f"Le paragraphe {d}-{i} rapporte une affaire de blanchiment jugée par le tribunal de Lille."
            for i in range(rows // 2)
        ]
        out[f"2024/registre-{d}.md"] = (
            f"---\ntitle: Registre {d}\ndate: 2024-0{d + 1}-01\n---\n\n" + "\n\n".join(paragraphs) + "\n"
        )
    return out


ROWS = 2 * EXPORT_CHUNK + 200
"""Three export steps."""


@pytest.fixture(scope="module")
def long_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import web_build_home

    return web_build_home(tmp_path_factory.mktemp("long-home"), long_documents(ROWS))


def _asgi_get(client: TestClient, path: str, query: str, headers: dict[str, str]) -> list[Message]:
    """The ASGI messages the app sends for one GET, as a server would receive them."""
    messages: list[Message] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "app": client.app,
    }

    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()  # the client stays connected: the response cancels this wait when done
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        messages.append(message)

    async def run() -> None:
        await client.app(scope, receive, send)

    assert client.portal is not None
    client.portal.call(run)
    return messages


def test_a_gzipped_csv_export_still_streams_chunk_by_chunk(long_home: Path) -> None:
    """Each export step leaves the app as its own gzip piece, flushed: readable the moment it arrives."""
    from web.app import create_app

    with TestClient(create_app(web_settings(long_home)), raise_server_exceptions=False) as client:
        plain = client.get("/search?q=blanchiment&format=csv", headers=IDENTITY).content
        messages = _asgi_get(client, "/search", "q=blanchiment&format=csv", {**GZIP, "Origin": "https://x.org"})
    start, *bodies = messages
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 200
    assert headers["content-encoding"] == "gzip"
    assert "content-length" not in headers
    pieces = [m["body"] for m in bodies if m["body"]]
    assert len(pieces) >= 1 + -(-ROWS // EXPORT_CHUNK)  # the header line, then one piece per step
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = b""
    for piece in pieces[:-1]:
        chunk = inflate.decompress(piece)
        assert chunk.endswith(b"\r\n"), "a piece that is not flushed waits for the next one"
        text += chunk
    text += inflate.decompress(pieces[-1]) + inflate.flush()
    assert inflate.eof
    assert _moment_out(text) == _moment_out(plain)  # two exports: only their exported_at may differ
    assert text.count(b"\r\n") == ROWS + 1


def test_ndjson_is_compressed_and_streamed(web_client: TestClient) -> None:
    """What the endpoints stream as NDJSON goes through the same compression, line by line."""

    async def lines(request: object) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for i in range(3):
                yield (json.dumps({"n": i, "text": "blanchiment " * 100}) + "\n").encode()

        return StreamingResponse(body(), media_type="application/x-ndjson")

    app = Starlette(routes=[Route("/lines", lines)])
    app.add_middleware(Compression)
    with TestClient(app) as client:
        r = client.get("/lines", headers=GZIP)
    assert r.headers["content-encoding"] == "gzip"
    assert [json.loads(line)["n"] for line in r.text.splitlines()] == [0, 1, 2]


# ------------------------------------------------------------------ a real server


@pytest.fixture
def served(long_home: Path, tmp_path: Path) -> Iterator[str]:
    """`archive serve` over a copy of the long home: its base URL."""
    home = tmp_path / "served"
    shutil.copytree(long_home, home, symlinks=True)
    env = archive_env(home, ARCHIVE_PASSAGE_MIN_WORDS="5", ARCHIVE_CORS_ORIGINS="https://dash.example.org")
    with serving(env, tmp_path / "serve.log") as (_, base):
        yield base


def test_a_real_server_streams_a_gzipped_export_and_revalidates_it(served: str) -> None:
    url = f"{served}/search?q=blanchiment&format=csv"
    with httpx.Client(timeout=HANG_GUARD) as client:
        plain = client.get(url, headers=IDENTITY)
        raw = bytearray()
        with client.stream("GET", url, headers={**GZIP, "Origin": "https://dash.example.org"}) as r:
            assert r.headers["content-encoding"] == "gzip"
            assert r.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in r.headers
            assert r.headers["access-control-allow-origin"] == "https://dash.example.org"
            for piece in r.iter_raw():
                raw += piece
        etag = r.headers["etag"]
        # the same rows; only the moment each export was made may differ (its exported_at column)
        assert _moment_out(gzip.decompress(bytes(raw))) == _moment_out(plain.content)
        # Each export step ends with a flush (an empty stored block: 00 00 ff ff) a client can read up to.
        assert raw.count(b"\x00\x00\xff\xff") >= -(-ROWS // EXPORT_CHUNK)
        again = client.get(url, headers={**GZIP, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""


def _moment_out(export: bytes) -> bytes:
    """A CSV export without its `exported_at` cells (ISO moments to the second)."""
    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"<moment>", export)
