"""`/openapi.json` against the routes and against every response the API sends (beside schemathesis).

Each response of a broad set of requests (every endpoint, every status we can provoke, JSON, HTML and CSV)
is checked against the served document: its status and media type must be documented for its operation,
and a JSON body must match its schema with every object's fields documented (undocumented fields fail:
`unevaluatedProperties: false` is added to each object schema). `archive stats --json` is held to `Stats`.
The version test shows that `info.version` follows the document.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict, get_args

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route
from starlette.testclient import TestClient

from archive import cli, health, wire
from archive.lock import WriteLock
from archive.models import FACETS
from web import openapi
from web import wire as web_wire
from web.app import create_app

from .conftest import HIT_KEYS, WEB_DOCUMENTS, web_build_home, web_settings

TOKEN = "jeton-openapi"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
TXT = "Les gendarmes ont saisi des faux billets lors d'un contrôle routier près de Marseille.\n".encode()
UNDATED = {
    # No date, no source: its hits carry null `date` and `source`.
    "2020/note-sans-date.txt": "Note interne\n\nUne note sans date ni source sur les pangolins saisis "
    "par les douaniers au port, rédigée à la main.\n",
}
SPEC_URI = "urn:archive:openapi"


def _strict(node: Any) -> Any:
    """`node` with `unevaluatedProperties: false` on every object schema that lists its properties."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["unevaluatedProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _regex(template: str) -> re.Pattern[str]:
    """A documented path as a pattern: a document id holds slashes, other parameters do not."""
    pattern = re.escape(template).replace(re.escape("{doc_id}"), ".+")
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", pattern) + "$")


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class Conformance:
    """Checks responses against an OpenAPI document and remembers what it saw."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = _strict(document)
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self.templates = [(_regex(p), p) for p in self.document["paths"]]
        self.seen: set[tuple[str, str, int, str]] = set()

    def template(self, path: str) -> str:
        """The documented path `path` belongs to: the one with the most literal characters wins."""
        found: list[tuple[int, str]] = [
            (len(re.sub(r"\{\w+\}", "", t)), t) for rx, t in self.templates if rx.match(path)
        ]
        assert found, f"{path} is not documented"
        return max(found)[1]

    def validate_json(self, pointer: str, body: Any) -> None:
        validator = Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])

    def check(self, response: Any) -> Any:
        request = response.request
        method = request.method.lower()
        template = self.template(request.url.path)
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{method.upper()} {template} is not documented"
        status = str(response.status_code)
        answer = operation["responses"].get(status)
        assert answer is not None, f"{method.upper()} {template}: status {status} is not documented"
        media = response.headers.get("content-type", "").split(";")[0].strip()
        content = answer.get("content", {})
        if content or response.content:
            documented = media in content or "*/*" in content
            assert documented, f"{method.upper()} {template} {status}: {media} is not documented"
        if media == "application/json":
            self.validate_json(
                _pointer("paths", template, method, "responses", status, "content", media, "schema"),
                response.json(),
            )
        self.seen.add((method.upper(), template, response.status_code, media))
        return response


@pytest.fixture(scope="module")
def conformance() -> Conformance:
    return Conformance(openapi.spec())


class Checked:
    """A TestClient whose every response is checked against the served document."""

    def __init__(self, client: TestClient, conformance: Conformance) -> None:
        self.client = client
        self.conformance = conformance

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.conformance.check(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("headers", JSON)
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def wait(self, job: str) -> dict[str, Any]:
        """Poll the job until it ends (each answer checked); its last state."""
        from .conftest import wait_until

        states: list[dict[str, Any]] = []

        def ended() -> bool:
            states.append(self.get(f"/jobs/{job}").json())
            return states[-1]["state"] in ("done", "failed")

        wait_until(ended, f"job {job} to end", poll=0.02)
        return states[-1]


@contextlib.contextmanager
def _client(home: Path, token: str | None = TOKEN, **settings: object) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings(home, token, **settings)), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, conformance: Conformance) -> Iterator[Checked]:
    home = web_build_home(tmp_path_factory.mktemp("openapi-home"), {**WEB_DOCUMENTS, **UNDATED})
    with _client(home, max_upload_bytes=20_000) as client:
        yield Checked(client, conformance)


def test_the_served_document_is_the_documented_one(served: Checked) -> None:
    body = served.get("/openapi.json").json()
    assert body == openapi.spec()
    assert body["openapi"] == "3.1.0" and body["info"]["version"] == openapi.version(body)


def test_every_route_is_documented_with_its_methods() -> None:
    app = create_app(web_settings(Path("/nonexistent")))
    documented = {
        (m.upper(), p) for p, item in openapi.spec()["paths"].items() for m in item if m != "parameters"
    }
    served = {
        (m, re.sub(r"\{(\w+):path\}", r"{\1}", r.path))
        for r in app.routes
        if isinstance(r, Route) and r.path != "/"
        for m in set(r.methods or ()) - {"HEAD"}
    }
    assert served == documented


def test_every_json_body_is_a_named_schema() -> None:
    """No `{"type": "object"}` left: each JSON response names a component, which lists its fields."""
    document = openapi.spec()
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if schema is None or path == "/openapi.json":
                    continue
                name = schema.get("$ref", "").rsplit("/", 1)[-1]
                assert name in schemas, f"{method.upper()} {path} {status}: {schema}"
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["properties"], name


def test_schemas_are_the_shapes_the_models_return() -> None:
    """The names the issue asks for exist, and the shapes agree with what the core knows."""
    schemas = openapi.spec()["components"]["schemas"]
    for name in ("Hit", "FacetValue", "Facets", "SearchResults", "DocumentView", "Passage", "Outcome"):
        assert name in schemas
    for name in ("Stats", "Health", "Upload", "UploadError", "Job", "JobStarted", "Error", "Removed"):
        assert name in schemas
    assert set(schemas["Hit"]["properties"]) == HIT_KEYS
    assert tuple(wire.Facets.__annotations__) == FACETS
    assert set(wire.Counts.__annotations__) == set(get_args(wire.Status))
    assert set(schemas["Stats"]["properties"]) > set(schemas["Health"]["properties"])
    assert set(web_wire.JobStarted.__annotations__) - set(web_wire.Job.__annotations__) == {"job"}


def test_the_version_follows_the_document() -> None:
    document = openapi.spec()
    version = document["info"]["version"]
    assert re.fullmatch(rf"{openapi.CONTRACT}\.[0-9a-f]{{12}}", version)
    assert openapi.version(copy.deepcopy(document)) == version
    assert openapi.version({**document, "info": {**document["info"], "version": "autre"}}) == version
    changed = copy.deepcopy(document)
    changed["components"]["schemas"]["Hit"]["properties"]["nouveau"] = {"type": "string"}
    assert openapi.version(changed) != version
    retyped = copy.deepcopy(document)
    retyped["components"]["schemas"]["FacetValue"]["properties"]["count"] = {"type": "number"}
    assert openapi.version(retyped) != version
    status = copy.deepcopy(document)
    status["paths"]["/search"]["get"]["responses"]["429"] = {"description": "trop de demandes"}
    assert openapi.version(status) != version


class Extra(TypedDict):
    """A body the API does not send: added to the bodies, it changes the schemas and the version."""

    nouveau: str


def test_a_new_shape_changes_the_schemas_and_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = openapi.spec()
    monkeypatch.setattr(openapi, "BODIES", (*openapi.BODIES, Extra))
    openapi.components.cache_clear()
    openapi._spec.cache_clear()
    try:
        after = openapi.spec()
        assert after["components"]["schemas"]["Extra"]["required"] == ["nouveau"]
        assert after["info"]["version"] != before["info"]["version"]
    finally:
        monkeypatch.undo()
        openapi.components.cache_clear()
        openapi._spec.cache_clear()
    assert openapi.spec() == before


def test_a_body_that_drifts_fails_validation(served: Checked, conformance: Conformance) -> None:
    """The check itself: a missing field, a wrong type and an undocumented field are each refused."""
    body = served.get("/search?q=blanchiment").json()
    pointer = _pointer("paths", "/search", "get", "responses", "200", "content", "application/json", "schema")
    conformance.validate_json(pointer, body)
    hit = body["hits"][0]
    for broken in (
        {k: v for k, v in hit.items() if k != "url"},
        {**hit, "position": "3"},
        {**hit, "surprise": 1},
    ):
        with pytest.raises(AssertionError):
            conformance.validate_json(pointer, {**body, "hits": [broken]})
    with pytest.raises(AssertionError):
        conformance.validate_json(pointer, {**body, "facets": {**body["facets"], "agency": [{"value": "x"}]}})


# ---------------------------------------------------------------- reading


SEARCHES = [
    "/search?q=blanchiment",
    "/search?q=",
    "/search?q=blanchiment&agency=gendarmerie&year=2024&year=2023",
    "/search?q=zzzzqqqq",
    "/search?q=blanchimant",
    "/search?q=escroquerie&sort=newest&per_page=1&page=2",
    "/search?q=pangolins",
    "/search?q=contrebande&type=note&from=2024-01-01&to=2024-12-31",
    '/search?q="blanchiment aggravé" OR escroquerie',
]


@pytest.mark.parametrize("url", SEARCHES)
def test_search_responses_match(served: Checked, url: str) -> None:
    body = served.get(url).json()
    assert set(body["facets"]) == set(FACETS)


def test_null_dates_empty_results_and_selected_facets(served: Checked) -> None:
    undated = served.get("/search?q=pangolins").json()["hits"]
    assert undated and undated[0]["date"] is None and undated[0]["source"] is None
    empty = served.get("/search?q=zzzzqqqq&agency=europol").json()
    assert empty["hits"] == [] and empty["total"] == 0
    assert any(f["selected"] and f["count"] == 0 for f in empty["facets"]["agency"])


def test_other_formats_and_errors_of_search(served: Checked) -> None:
    assert served.get("/search?q=blanchiment", headers=HTML).status_code == 200
    assert served.get("/search?q=blanchiment&format=csv").headers["content-type"].startswith("text/csv")
    bad = served.get("/search?per_page=0").json()
    assert bad["error"]["code"] == "bad_parameter" and bad["parameter"] == "per_page"
    assert served.get("/search?sort=hasard").status_code == 400
    assert served.get("/search?" + "&".join(f"year={y}" for y in range(1990, 2015))).status_code == 400
    assert served.get("/search?" + "&".join(f"x{i}=1" for i in range(250))).status_code == 400
    assert served.get("/search?q=" + "a" * 40_000).status_code == 414


def test_document_responses_match(served: Checked) -> None:
    view = served.get("/documents/2024/blanchiment-lyon.md?q=blanchiment").json()
    assert view["passages"] and view["matches"] and view["metadata"]["date"] == "2024-06-27"
    assert served.get("/documents/2020/note-sans-date.txt").json()["metadata"]["date"] is None
    assert served.get("/documents/2024/blanchiment-lyon.md?p=2&page=1").status_code == 200
    assert served.get("/documents/2024/blanchiment-lyon.md", headers=HTML).status_code == 200
    assert served.get("/documents/2024/blanchiment-lyon.md?page=zero").status_code == 400
    assert served.get("/documents/2024/absent.md").status_code == 404
    assert served.get("/documents/2024/blanchiment-lyon.md/original").status_code == 200
    assert served.get("/documents/2024/absent.md/original").status_code == 404


def test_health_and_unknown_job(served: Checked) -> None:
    assert served.get("/health").json()["status"] == "ok"
    assert served.get("/jobs/inconnu").status_code == 404


def test_health_without_index_and_degraded(tmp_path: Path, conformance: Conformance) -> None:
    (tmp_path / "documents").mkdir()
    with _client(tmp_path) as client:
        checked = Checked(client, conformance)
        assert checked.get("/health").json()["status"] == "no_index"
        assert checked.get("/search?q=blanchiment").json()["total"] == 0
        health.record(tmp_path / "index", "reindex", "reader_failed", "the reader died twice")
        degraded = checked.get("/health").json()
        assert degraded["status"] == "degraded" and degraded["degraded"]["code"] == "reader_failed"


# ---------------------------------------------------------------- writing


@pytest.fixture
def writable(tmp_path: Path, conformance: Conformance) -> Iterator[Checked]:
    home = web_build_home(tmp_path / "home", {**WEB_DOCUMENTS, **UNDATED})
    with _client(home, max_upload_bytes=20_000) as client:
        yield Checked(client, conformance)


def _upload(client: Checked, *files: tuple[str, bytes], headers: dict[str, str] = AUTH, **data: str) -> Any:
    return client.post("/documents", headers=headers, data=data, files=[("file", f) for f in files])


def test_upload_outcomes_of_every_status(writable: Checked) -> None:
    added = _upload(writable, ("billets.txt", TXT), ("x.exe", b"MZ"), folder="2025")
    assert added.status_code == 201
    assert [o["status"] for o in added.json()["outcomes"]] == ["added", "rejected"]
    assert (
        _upload(writable, ("billets.txt", TXT), folder="2025").json()["outcomes"][0]["status"] == "unchanged"
    )
    assert _upload(writable, ("copie.txt", TXT)).json()["outcomes"][0]["status"] == "duplicate"
    taken = _upload(writable, ("billets.txt", TXT + b"Autre.\n"), folder="2025")
    assert taken.status_code == 409 and taken.json()["outcomes"][0]["reason"]["code"] == "name_taken"
    assert _upload(writable, ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)).status_code == 415
    assert _upload(writable, ("vide.txt", b"")).status_code == 422
    assert _upload(writable, ("gros.txt", TXT * 400)).status_code == 413
    assert writable.post("/documents", headers=AUTH, files={"folder": (None, "x")}).status_code == 400
    plain = writable.post("/documents", headers={**AUTH, "Content-Type": "text/plain"}, content=b"x")
    assert plain.status_code == 415
    assert _upload(writable, ("a.txt", TXT), headers={}).status_code == 401
    assert _upload(writable, ("a.txt", TXT), headers={"Authorization": "Bearer faux"}).status_code == 401


def test_writes_disabled_without_a_token(tmp_path: Path, conformance: Conformance) -> None:
    home = web_build_home(tmp_path / "home")
    with _client(home, token=None) as client:
        checked = Checked(client, conformance)
        assert _upload(checked, ("a.txt", TXT)).status_code == 403
        assert checked.post("/reindex", headers=AUTH).status_code == 403
        assert checked.delete("/documents/2024/blanchiment-lyon.md", headers=AUTH).status_code == 403


def test_delete_and_its_errors(writable: Checked) -> None:
    removed = writable.delete("/documents/2024/blanchiment-lyon.md", headers=AUTH).json()
    assert removed == {"id": "2024/blanchiment-lyon.md", "status": "removed"}
    assert writable.delete("/documents/2024/blanchiment-lyon.md", headers=AUTH).status_code == 404
    assert writable.delete("/documents/2023/douane-cigarettes.md").status_code == 401


def test_reindex_jobs_in_every_state(writable: Checked) -> None:
    home: Path = writable.client.app.state.settings.home  # type: ignore[attr-defined]
    (home / "documents" / "2025").mkdir()
    (home / "documents" / "2025" / "billets.txt").write_bytes(TXT)
    (home / "documents" / "2025" / "vide.txt").write_bytes(b"")
    with WriteLock(home / "index", "the test holds the lock"):  # the job waits: queued or running
        started = writable.post("/reindex", headers=AUTH)
        job = started.json()
        assert started.status_code == 202 and job["job"] == job["id"]
        assert writable.get(f"/jobs/{job['id']}").json()["state"] in ("queued", "running")
        busy = writable.post("/reindex", headers=AUTH)
        assert busy.status_code == 409 and busy.json()["job"] == job["id"]
    done = writable.wait(job["id"])
    assert done["state"] == "done" and done["counts"]["added"] == 1
    assert done["errors"][0]["document"] == "2025/vide.txt"
    assert writable.post("/reindex?full=peut-etre", headers=AUTH).status_code == 400
    (home / "documents" / "2023" / "douane-cigarettes.md").write_text("---\ntitle: Changé\n---\n\nAutre.\n")
    failed = writable.wait(writable.post("/reindex", headers=AUTH).json()["job"])
    assert failed["state"] == "failed" and failed["errors"][0]["code"] == "fixity"
    assert "document" not in failed["errors"][0]


def test_every_operation_was_seen(conformance: Conformance, request: pytest.FixtureRequest) -> None:
    """The tests above reached every documented operation (this runs after them, in file order)."""
    ran = {item.name for item in request.session.items if item.module is request.module}  # type: ignore[attr-defined]
    if not {n for n in globals() if n.startswith("test_")} <= {n.split("[")[0] for n in ran}:
        pytest.skip("only meaningful when the whole module runs: the tests above reach the operations")
    seen = {(m, p) for m, p, _, _ in conformance.seen}
    documented = {(m.upper(), p) for p, item in conformance.document["paths"].items() for m in item}
    assert seen == documented


# ---------------------------------------------------------------- the CLI's JSON


def test_stats_json_matches_its_schema(
    tmp_path: Path, conformance: Conformance, capsys: pytest.CaptureFixture[str]
) -> None:
    pointer = _pointer("components", "schemas", "Stats")
    empty = tmp_path / "vide"
    (empty / "documents").mkdir(parents=True)
    assert cli.main(["--home", str(empty), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    conformance.validate_json(pointer, stats)
    assert stats["status"] == "no_index" and set(stats["facets"]) == set(FACETS)
    home = web_build_home(tmp_path / "home")
    assert cli.main(["--home", str(home), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    conformance.validate_json(pointer, stats)
    assert stats["status"] == "ok" and stats["facets"]["year"]


def test_search_json_of_the_cli_matches_its_schema(
    tmp_path: Path, conformance: Conformance, capsys: pytest.CaptureFixture[str]
) -> None:
    home = web_build_home(tmp_path / "home", {**WEB_DOCUMENTS, **UNDATED})
    assert cli.main(["--home", str(home), "search", "pangolins", "--json"]) == 0
    conformance.validate_json(
        _pointer("components", "schemas", "SearchResults"), json.loads(capsys.readouterr().out)
    )
