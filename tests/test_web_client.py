"""A client generated from the served `/openapi.json`, used as an API client would use it.

`openapi-python-client` (the `test` extra) generates a package from the document that a real
`archive serve` serves (uvicorn on a free loopback port, its log in a file); the tests then search, read
a document, upload with the token, reindex and poll the job, delete, and provoke errors through it. A
response must parse into its generated model (`raise_on_unexpected_status`: an undocumented status
fails), every field must have its documented type, and no object may carry a field the document does not
describe (the generated models collect those in `additional_properties`).
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import httpx
import pytest

from .conftest import WEB_DOCUMENTS, archive_env, serving, wait_until, web_build_home

TOKEN = "jeton-du-client"
PACKAGE = "archive_api_client"
UNDATED = {
    "2020/sans-date.txt": "Note interne\n\nUne note sans date ni source sur des pangolins saisis par "
    "les douaniers au port, écrite à la main.\n"
}
TXT = "Les gendarmes ont saisi des faux billets lors d'un contrôle routier près de Marseille.\n".encode()
CONFIG = (
    f"package_name_override: {PACKAGE}\n"
    "post_hooks: []\n"  # no formatter run on the generated code: only its behaviour matters here
    'content_type_overrides:\n  "*/*": application/octet-stream\n'  # originals: any media type, as bytes
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("openapi_python_client") is None,
    reason="openapi-python-client is not installed (it is in the `test` extra: pip install -e '.[test]')",
)


@dataclass
class Served:
    home: Path
    base: str
    log: Path

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`archive serve` over a small indexed home, with a token."""
    tmp = tmp_path_factory.mktemp("client")
    home = web_build_home(tmp / "home", {**WEB_DOCUMENTS, **UNDATED})
    env = archive_env(home, ARCHIVE_TOKEN=TOKEN, ARCHIVE_PASSAGE_MIN_WORDS="5")
    with serving(env, tmp / "serve.log") as (_, base):
        yield Served(home, base, tmp / "serve.log")


@pytest.fixture(scope="module")
def api(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.ModuleType]:
    """The client package generated from the served document, imported."""
    out = tmp_path_factory.mktemp("generated")
    (out / "openapi.json").write_bytes(httpx.get(f"{served.base}/openapi.json", timeout=30).content)
    (out / "config.yml").write_text(CONFIG)
    generated = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json",
         "--config", "config.yml", "--meta", "none", "--output-path", PACKAGE],
        cwd=out, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "warning" not in (generated.stdout + generated.stderr).lower(), generated.stdout + generated.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(api: types.ModuleType, name: str) -> Any:
    return importlib.import_module(f"{api.__name__}.{name}")


@pytest.fixture(scope="module")
def client(api: types.ModuleType, served: Served) -> Iterator[Any]:
    with api.Client(base_url=served.base, raise_on_unexpected_status=True, timeout=httpx.Timeout(30)) as c:
        yield c


@pytest.fixture(scope="module")
def archivist(api: types.ModuleType, served: Served) -> Iterator[Any]:
    with api.AuthenticatedClient(
        base_url=served.base, token=TOKEN, raise_on_unexpected_status=True, timeout=httpx.Timeout(30)
    ) as c:
        yield c


def _conforms(value: Any, hint: Any, where: str, models: dict[str, Any]) -> None:
    """`value` has the type `hint` of a generated model's field, recursively."""
    origin = get_origin(hint)
    if hint is Any:
        return
    if origin in (Union, types.UnionType):
        _conforms_to_one(value, hint, where, models)
        return
    if origin is list:
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        for i, item in enumerate(value):
            _conforms(item, get_args(hint)[0], f"{where}[{i}]", models)
        return
    if hint is type(None):
        assert value is None, f"{where}: {value!r} is not null"
    elif hint is float:
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{where}: {value!r}"
    elif hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not int"
    elif isinstance(hint, type) and hasattr(hint, "__attrs_attrs__"):
        assert isinstance(value, hint), f"{where}: {value!r} is not {hint.__name__}"
        _typed(value, models, where)
    else:
        assert isinstance(value, hint), f"{where}: {value!r} is not {hint}"


def _conforms_to_one(value: Any, hint: Any, where: str, models: dict[str, Any]) -> None:
    """`value` has one of the types of the union `hint`."""
    for option in get_args(hint):
        try:
            _conforms(value, option, where, models)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{where}: {value!r} is not {hint}")


def _typed(model: Any, models: dict[str, Any], where: str = "") -> None:
    """Every field of a parsed model has its documented type, and nothing undocumented came with it."""
    name = type(model).__name__
    assert model.additional_properties == {}, f"{where or name}: undocumented {model.additional_properties}"
    hints = get_type_hints(type(model), localns=models)
    for field in type(model).__attrs_attrs__:
        if field.name != "additional_properties":
            _conforms(getattr(model, field.name), hints[field.name], f"{where or name}.{field.name}", models)


def _parsed(api: types.ModuleType, response: Any, status: int, model: str) -> Any:
    """The parsed body of a response, checked: its status, its model, its fields' types."""
    assert response.status_code == status, response.content[:500]
    models = vars(_module(api, "models")) | vars(_module(api, "types"))
    parsed = response.parsed
    assert type(parsed).__name__ == model, parsed
    _typed(parsed, models)
    return parsed


def test_the_generated_client_has_the_typed_models(api: types.ModuleType) -> None:
    models = _module(api, "models")
    for name in (
        "Hit",
        "FacetValue",
        "Facets",
        "SearchResults",
        "DocumentView",
        "Passage",
        "Outcome",
        "Stats",
    ):
        assert hasattr(models, name), name
    assert "date" in {f.name for f in models.Hit.__attrs_attrs__}
    assert {f.name for f in models.Facets.__attrs_attrs__} - {"additional_properties"} == {
        "agency",
        "offence",
        "year",
        "source",
        "type_",
    }


def test_search_through_the_client(api: types.ModuleType, client: Any) -> None:
    search = _module(api, "api.default.search")
    results = _parsed(api, search.sync_detailed(client=client, q="blanchiment"), 200, "SearchResults")
    assert results.total >= 2 and results.hits and "<mark>" in results.hits[0].highlight
    assert all(isinstance(f.count, int) for f in results.facets.agency)
    filtered = search.sync_detailed(client=client, q="blanchiment", year=["2024", "2023"], per_page=1, page=2)
    assert _parsed(api, filtered, 200, "SearchResults").page == 2
    undated = _parsed(api, search.sync_detailed(client=client, q="pangolins"), 200, "SearchResults")
    assert undated.hits[0].date is None and undated.hits[0].source is None
    empty = _parsed(api, search.sync_detailed(client=client, q="zzzzqqqq"), 200, "SearchResults")
    assert empty.total == 0 and empty.hits == []
    sort = _module(api, "models").SearchSort
    newest = _parsed(api, search.sync_detailed(client=client, q="", sort=sort.NEWEST), 200, "SearchResults")
    dates = [h.date for h in newest.hits if h.date]
    assert dates == sorted(dates, reverse=True)


def test_errors_through_the_client(api: types.ModuleType, client: Any, archivist: Any) -> None:
    search = _module(api, "api.default.search")
    bad = _parsed(api, search.sync_detailed(client=client, per_page=0), 400, "Error")
    assert bad.error.code == "bad_parameter" and bad.parameter == "per_page"
    missing = _module(api, "api.default.get_document").sync_detailed("2024/absent.md", client=client)
    assert _parsed(api, missing, 404, "Error").error.code == "not_found"
    job = _module(api, "api.default.get_job").sync_detailed("inconnu", client=client)
    assert _parsed(api, job, 404, "Error").error.code == "not_found"
    denied = _module(api, "api.default.reindex").sync_detailed(client=client)
    assert _parsed(api, denied, 401, "Error").error.code
    refused = _module(api, "api.default.reindex").sync_detailed(client=archivist, full="peut-etre")
    assert _parsed(api, refused, 400, "Error").error.code == "bad_parameter"


def test_a_document_through_the_client(api: types.ModuleType, client: Any) -> None:
    get_document = _module(api, "api.default.get_document")
    view = _parsed(
        api, get_document.sync_detailed("2024/blanchiment-lyon.md", client=client, q="blanchiment"), 200,
        "DocumentView",
    )  # fmt: skip
    assert view.metadata.date == "2024-06-27" and view.passages and view.matches
    assert view.passages[0].url.startswith("/documents/2024/blanchiment-lyon.md")
    original = _module(api, "api.default.get_original").sync_detailed(
        "2024/blanchiment-lyon.md", client=client
    )
    assert original.status_code == 200 and original.parsed.payload.read().startswith(b"---")
    health = _parsed(api, _module(api, "api.default.health").sync_detailed(client=client), 200, "Health")
    assert health.status.value == "ok" and health.degraded is None
    spec = _module(api, "api.default.openapi").sync_detailed(client=client)
    assert spec.status_code == 200 and spec.parsed.additional_properties["info"]["version"].startswith("1.")


def test_upload_reindex_and_delete_through_the_client(
    api: types.ModuleType, archivist: Any, served: Served
) -> None:
    upload = _module(api, "api.default.upload")
    file = _module(api, "types").File
    body = _module(api, "models").UploadBody
    added = upload.sync_detailed(
        client=archivist,
        body=body(
            file=[file(payload=io.BytesIO(TXT), file_name="billets.txt", mime_type="text/plain")],
            folder="2025",
        ),
    )
    outcome = _parsed(api, added, 201, "Upload").outcomes[0]
    assert (
        outcome.status.value == "added"
        and outcome.url == "/documents/2025/billets.txt"
        and outcome.reason is None
    )
    empty = upload.sync_detailed(
        client=archivist, body=body(file=[file(payload=io.BytesIO(b""), file_name="vide.txt")])
    )
    rejected = _parsed(api, empty, 422, "UploadError")
    assert rejected.error.code == "empty" and rejected.outcomes[0].reason.code == "empty"

    (served.home / "documents" / "2025" / "copie-a-la-main.txt").write_bytes(
        TXT.replace(b"billets", b"pangolins")
    )
    started = _parsed(
        api, _module(api, "api.default.reindex").sync_detailed(client=archivist), 202, "JobStarted"
    )
    get_job = _module(api, "api.default.get_job")
    states: list[Any] = []

    def ended() -> bool:
        states.append(_parsed(api, get_job.sync_detailed(started.job, client=archivist), 200, "Job"))
        return states[-1].state.value in ("done", "failed")

    wait_until(ended, "the reindex job to end", poll=0.02)
    assert states[-1].state.value == "done" and states[-1].counts.added == 1, states[-1]

    delete = _module(api, "api.default.delete_document")
    removed = _parsed(api, delete.sync_detailed("2025/billets.txt", client=archivist), 200, "Removed")
    assert removed.id == "2025/billets.txt" and removed.status.value == "removed"
    again = delete.sync_detailed("2025/billets.txt", client=archivist)
    assert _parsed(api, again, 404, "Error").error.code == "not_found"


def test_a_response_that_drifts_fails_to_parse(api: types.ModuleType, served: Served) -> None:
    """What the checks above rely on: a missing field, a wrong type or an extra field is caught."""
    models = _module(api, "models")
    namespace = vars(models) | vars(_module(api, "types"))
    body = httpx.get(f"{served.base}/search?q=blanchiment", timeout=30).json()
    _typed(models.SearchResults.from_dict(body), namespace)
    hit = body["hits"][0]
    with pytest.raises(KeyError):
        models.SearchResults.from_dict({**body, "hits": [{k: v for k, v in hit.items() if k != "url"}]})
    with pytest.raises(AssertionError, match="position"):
        _typed(models.SearchResults.from_dict({**body, "hits": [{**hit, "position": "3"}]}), namespace)
    with pytest.raises(AssertionError, match="undocumented"):
        _typed(models.SearchResults.from_dict({**body, "hits": [{**hit, "surprise": 1}]}), namespace)
    assert issubclass(models.SearchSort, Enum)
