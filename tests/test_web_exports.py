"""Exports an analyst can open: CSV for French Excel, JSON Lines for programs (issue 14, §4)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from .conftest import WebFactory

JSON = {"Accept": "application/json"}


def csv_rows(body: bytes, separator: str = ",") -> list[dict[str, str]]:
    """The rows of an export as Excel reads them: UTF-8 after the byte-order mark, `#` notes left out."""
    text = body.decode("utf-8-sig")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines)), delimiter=separator))


def ndjson_lines(body: bytes) -> list[dict[str, Any]]:
    """Every line of a JSON Lines body, parsed."""
    return [json.loads(line) for line in body.decode("utf-8").splitlines()]


def test_csv_for_french_excel(web_client: TestClient) -> None:
    """`sep=;` with the byte-order mark: Excel in French opens it in columns, accents right."""
    r = web_client.get("/search?q=blanchiment&year=2024&format=csv&sep=%3B")
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(r.content, ";")
    search = web_client.get("/search?q=blanchiment&year=2024&per_page=100", headers=JSON).json()
    assert [row["id"] for row in rows] == [h["id"] for h in search["hits"]]
    lyon = next(row for row in rows if row["id"] == "2024/blanchiment-lyon.md#p1")
    assert "blanchiment" in lyon["offence"].split()
    labels = {f["value"]: f["label"] for f in search["facets"]["offence"]}
    assert labels["blanchiment"] in lyon["offence_labels"].split(" | ")
    assert labels["blanchiment"] != "blanchiment"  # a label, not the id again
    assert float(lyon["score"].replace(",", ".")) > 0 and lyon["section"] is not None  # a decimal comma
    assert any("blanchi" in m.lower() for m in lyon["matched"].split(" | "))
    assert lyon["query"] == "q=blanchiment&year=2024"
    exported = datetime.fromisoformat(lyon["exported_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - exported).total_seconds()) < 3600


def test_export_file_names_say_what_and_when(web_client: TestClient) -> None:
    """`recherche-<mots>-<date>.csv`: the query folded to ASCII, the day of the export."""
    r = web_client.get("/search", params={"q": "Pédocriminalité « réseau »", "format": "csv"})
    name = re.search(r'filename="([^"]+)"', r.headers["content-disposition"])
    assert name is not None
    assert re.fullmatch(r"recherche-pedocriminalite-reseau-\d{4}-\d{2}-\d{2}\.csv", name.group(1))
    everything = web_client.get("/search?q=&format=ndjson").headers["content-disposition"]
    assert re.search(r'filename="recherche-\d{4}-\d{2}-\d{2}\.ndjson"', everything)


def test_ndjson_streams_every_match_as_search_hits(web_client: TestClient) -> None:
    """Every match, not the current page: the hits `/search` pages through, one per line, in order."""
    r = web_client.get("/search?q=&format=ndjson&per_page=2")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = ndjson_lines(r.content)
    assert len(lines) == int(r.headers["x-total-count"]) == 9
    pages = web_client.get("/search?q=&per_page=100", headers=JSON).json()["hits"]
    assert [line["id"] for line in lines] == [h["id"] for h in pages]
    first = lines[0]
    assert set(pages[0]) <= set(first)  # a /search hit, plus:
    assert {"agency_labels", "offence_labels", "matched"} <= set(first)
    csv_ids = [row["id"] for row in csv_rows(web_client.get("/search?q=&format=csv").content)]
    assert csv_ids == [line["id"] for line in lines]  # both formats, the same rows in the same order


def test_ndjson_says_when_it_cuts(web_app_factory: WebFactory) -> None:
    """The same honesty as CSV: headers, and a last line that is a note, not a hit."""
    client = web_app_factory(export_limit=3)
    r = client.get("/search?q=&format=ndjson")
    assert r.headers["x-export-truncated"] == "true" and r.headers["x-total-count"] == "9"
    lines = ndjson_lines(r.content)
    assert len([line for line in lines if "note" not in line]) == 3
    assert lines[-1]["note"]["code"] == "truncated"
    assert lines[-1]["note"]["message"].startswith("export limité aux 3 premiers passages sur 9")


def test_a_bad_separator_is_a_json_error(web_client: TestClient) -> None:
    r = web_client.get("/search?q=blanchiment&format=csv&sep=%7C")
    assert r.status_code == 400
    body = r.json()  # an export link answers JSON even to a browser: what it asked for is a file
    assert body["error"]["code"] == "bad_parameter" and body["parameter"] == "sep"
