"""The HTTP API against its own OpenAPI document (schemathesis): no 5xx, every response as documented.

Reads run against an indexed throwaway home; writes run with and without the bearer token. Each operation
gets at most `EXAMPLES` generated requests through the ASGI app (schemathesis runs its lifespan).
schemathesis's own pytest plugin is not used: its `from_fixture` fails under pytest 9, so each operation's
Hypothesis strategy is driven directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from web import openapi
from web.app import create_app

from .conftest import web_build_home, web_settings

TOKEN = "jeton-de-test"
EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [(method.upper(), path) for path, item in openapi.spec()["paths"].items() for method in item]
WRITES = [(m, p) for m, p in OPERATIONS if m in ("POST", "DELETE")]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home: Path = web_build_home(tmp_path_factory.mktemp("schemathesis-home"))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(web_settings(home, TOKEN)))


def _exercise(api: Any, method: str, path: str, headers: dict[str, str] | None) -> None:
    operation = api[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_without_token(api: Any, method: str, path: str) -> None:
    _exercise(api, method, path, None)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_writes_with_the_token(api: Any, method: str, path: str) -> None:
    _exercise(api, method, path, {"Authorization": f"Bearer {TOKEN}"})
