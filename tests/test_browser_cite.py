"""Following a search and citing a passage, in Debian's Chromium driven by Playwright: the Atom link of
the results page (in its head and in the page), « Citer » on a hit and on a document's passage (with
and without JavaScript), the permalink landing on its passage, and the year histogram's « Non daté »."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import feedparser
import pytest

from .conftest import WEB_DOCUMENTS, web_build_home
from .test_browser import CHROMIUM, uvicorn_serving

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

UNDATED = {"divers/note.txt": "Une note sans date sur le blanchiment des fonds.\n"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the web documents and an undated note; read only (no token), shared by the module."""
    home = web_build_home(tmp_path_factory.mktemp("cite") / "home", {**WEB_DOCUMENTS, **UNDATED})
    with uvicorn_serving(home) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module; each test opens its pages in a context of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Any, problems: list[str], javascript: bool = True) -> Any:
    page = browser.new_page(
        viewport={"width": 1200, "height": 900}, locale="fr-FR", java_script_enabled=javascript
    )
    page.set_default_timeout(10_000)
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page


def test_follow_a_search_and_cite_a_passage(server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(server + "/search?q=blanchiment")

    # The feed: announced in the head (feed readers and browser extensions find it there) and linked.
    alternate = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    expect(alternate).to_have_attribute("href", "/search?q=blanchiment&format=atom")
    follow = page.get_by_role("link", name="Suivre cette recherche")
    expect(follow).to_be_visible()
    href = follow.get_attribute("href")
    assert href == "/search?q=blanchiment&format=atom"
    answer = page.request.get(server + href)
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.body())
    assert not feed.bozo and feed.feed.title == "Archive — recherche « blanchiment »"
    assert len(feed.entries) == 3

    # « Citer » on the first hit: a disclosure, closed until asked; the address made absolute by the script.
    first = page.locator("li.hit").first
    title = first.locator("h3").inner_text()
    citation = first.locator("details.cite p.citation")
    expect(citation).to_be_hidden()
    first.locator("details.cite summary").click()
    expect(citation).to_be_visible()
    text = citation.inner_text().replace("\u00a0", " ")  # no-break spaces: « Titre », § 1
    assert text.startswith(f"« {title} », ")
    assert re.search(
        r", § 1\. En ligne : http://127\.0\.0\.1:\d+/documents/\S+\?at=\d+#c\d+ \(consulté le \d", text
    )
    permalink = citation.get_by_role("link")

    # The permalink lands on the cited passage, marked.
    permalink.click()
    expect(page).to_have_url(re.compile(r"/documents/.+\?at=(\d+)#c\1$"))
    target = page.evaluate("document.querySelector(':target') && document.querySelector(':target').id")
    assert re.fullmatch(r"c\d+", target)
    cited = page.locator(f"li.passage:has(> #{target})")
    expect(cited).to_be_in_viewport()
    assert cited.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 248, 214)"
    # ... and each passage of the document page can be cited too.
    cited.locator("details.cite summary").click()
    again = cited.locator("p.citation").inner_text().replace("\u00a0", " ")
    assert again.startswith(f"« {title} », ") and f"#{target} (consulté le" in again
    assert problems == []


def test_citations_without_javascript(server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = _page(browser, problems, javascript=False)
    page.goto(server + "/search?q=blanchiment&year=2024")
    hit = page.locator("li.hit").first
    hit.locator("details.cite summary").click()  # <details>: no script needed
    citation = hit.locator("p.citation")
    expect(citation).to_be_visible()
    # without the script the address stays relative (the server never trusts the Host header)
    expect(citation).to_contain_text("En ligne : /documents/2024/blanchiment-lyon.md?at=0#c0 (consulté le ")
    assert problems == []


def test_the_year_histogram_selects_the_undated(server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(server + "/search?q=blanchiment")
    years = page.locator("#facette-year")
    bars = years.locator(".bar")
    expect(bars).to_have_count(3)  # 2024, 2021 and the undated
    widths = [bar.evaluate("e => e.getBoundingClientRect().width") for bar in bars.all()]
    assert all(w > 10 for w in widths) and max(widths) - min(widths) < 1  # one passage each: equal bars
    years.get_by_role("checkbox", name="Non daté (1)").check()  # the script submits the form
    expect(page).to_have_url(re.compile(r"year=sans-date"))
    expect(page.locator("li.hit")).to_have_count(1)
    expect(page.locator("li.hit h3")).to_have_text("note")
    expect(page.get_by_role("button", name="Retirer le filtre Non daté")).to_be_visible()
    assert problems == []
