"""The models' shared definitions: the facet names and the one link shape of the JSON bodies."""

from __future__ import annotations

import pytest

from archive import wire
from archive.models import FACETS
from archive.results import FacetValue, facets_json
from archive.wire import DOCUMENT_PAGE


def test_the_facet_names_are_the_json_facets_keys_in_order() -> None:
    assert tuple(wire.Facets.__annotations__) == FACETS
    assert tuple(facets_json({})) == FACETS
    counted: dict[str, tuple[FacetValue, ...]] = {"year": (FacetValue("2024", "2024", 3, True),)}
    assert facets_json(counted)["year"] == [{"value": "2024", "label": "2024", "count": 3, "selected": True}]


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("2024/a.md",), "/documents/2024/a.md"),
        (("2024/a.md", 3), "/documents/2024/a.md#p3"),
        (("2024/a.md", DOCUMENT_PAGE), f"/documents/2024/a.md#p{DOCUMENT_PAGE}"),
        (
            ("2024/a.md", DOCUMENT_PAGE + 1),
            f"/documents/2024/a.md?p={DOCUMENT_PAGE + 1}#p{DOCUMENT_PAGE + 1}",
        ),
        (("2024/a.md", 3, "saisie « port »"), "/documents/2024/a.md?q=saisie+%C2%AB+port+%C2%BB#p3"),
        (("2024/a.md", None, "  "), "/documents/2024/a.md"),
        (("procès verbal#1?.md",), "/documents/proc%C3%A8s%20verbal%231%3F.md"),
    ],
)
def test_document_path(args: tuple[str, int | None, str], path: str) -> None:
    assert wire.document_path(*args) == path
