"""The French citation « Citer » gives: its parts in order, what an undated or unsourced document reads,
French typography (no-break spaces), and the permalink it names."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from web import caching, citation
from web.citation import cite
from web.rendering import french_date

NBSP = "\u00a0"
DAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("source", "date", "section", "expected"),
    [
        (
            "Gendarmerie nationale",
            "2024-06-27",
            "Les faits",
            "« Blanchiment à Lyon », Gendarmerie nationale, 27 juin 2024, section « Les faits », § 3. "
            "En ligne : https://archive.example.org/documents/2024/lyon.md?at=812#c812 "
            "(consulté le 1er décembre 2026).",
        ),
        (
            None,
            None,
            "",
            "« Blanchiment à Lyon », s. d., § 3. "
            "En ligne : https://archive.example.org/documents/2024/lyon.md?at=812#c812 "
            "(consulté le 1er décembre 2026).",
        ),
    ],
    ids=["complete", "undated-unsourced"],
)
def test_the_citation_reads_as_french_bibliographies_write(
    source: str | None, date: str | None, section: str, expected: str
) -> None:
    c = cite(
        document="2024/lyon.md",
        start=812,
        title="Blanchiment à Lyon",
        source=source,
        date=date,
        section=section,
        position=3,
        base_url="https://archive.example.org",
        today=DAY,
    )
    assert c.full.replace(NBSP, " ") == expected
    assert c.href == "https://archive.example.org/documents/2024/lyon.md?at=812#c812"
    assert f"«{NBSP}Blanchiment à Lyon{NBSP}»" in c.text and f"§{NBSP}3" in c.text


def test_without_a_base_url_the_address_is_relative_and_a_title_falls_back_to_the_id() -> None:
    c = cite(
        document="2024/note sans titre.txt",
        start=0,
        title="",
        source=None,
        date="2024-01-05",
        section="",
        position=1,
        base_url="",
        today=DAY,
    )
    assert c.href == "/documents/2024/note%20sans%20titre.txt?at=0#c0"
    assert c.text.startswith(f"«{NBSP}2024/note sans titre.txt{NBSP}», 5 janvier 2024, ")


class _Tomorrow:
    """`datetime` a day later, as `web.caching` and `web.citation` see it after midnight."""

    class date(dt.date):
        @classmethod
        def today(cls) -> _Tomorrow.date:
            day = dt.date.today() + dt.timedelta(days=1)
            return cls(day.year, day.month, day.day)


def test_a_page_s_tag_changes_with_the_day_of_its_citations(
    web_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "/search?q=blanchiment"
    page = web_client.get(url, headers={"Accept": "text/html"})
    data = web_client.get(url, headers={"Accept": "application/json"})
    monkeypatch.setattr(caching, "dt", _Tomorrow)
    monkeypatch.setattr(citation, "dt", _Tomorrow)
    later = web_client.get(url, headers={"Accept": "text/html", "If-None-Match": page.headers["etag"]})
    assert later.status_code == 200  # not yesterday's « consulté le »
    tomorrow = french_date((dt.date.today() + dt.timedelta(days=1)).isoformat())
    assert f"(consulté le {tomorrow})." in later.text
    same = web_client.get(url, headers={"Accept": "application/json", "If-None-Match": data.headers["etag"]})
    assert same.status_code == 304  # JSON says no day: its tag holds
