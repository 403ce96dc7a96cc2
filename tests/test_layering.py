"""The architecture as tests: the core never imports the web layer, and Whoosh stays in six modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WHOOSH_MODULES = {"schema.py", "indexer.py", "pool.py", "searcher.py", "query.py", "postings.py"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


CORE = sorted((ROOT / "archive").glob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_does_not_import_the_web_layer(path: Path) -> None:
    assert not imports(path) & {"web", "starlette", "jinja2", "uvicorn"}


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_whoosh_stays_in_the_index_and_search_modules(path: Path) -> None:
    if path.name not in WHOOSH_MODULES:
        assert "whoosh" not in imports(path)


@pytest.mark.parametrize("path", sorted((ROOT / "web").glob("**/*.py")), ids=lambda p: p.name)
def test_web_layer_does_not_touch_whoosh(path: Path) -> None:
    assert "whoosh" not in imports(path)
