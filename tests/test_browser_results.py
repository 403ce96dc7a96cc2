"""The results list in Debian's Chromium (issue 14 §1 and §2): crowding, the grouped view, excerpts.

One server and one browser for the module. A long report that matches in every paragraph beside short
notes: page 1 shows two of its passages and links to the rest; « regrouper par document » shows each
document once; a long passage shows excerpts and opens whole on demand, without JavaScript.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .conftest import web_build_home
from .test_browser import CHROMIUM, uvicorn_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed: `apt-get install -y chromium` "
    "(the Makefile's test set-up does it)",
)

FILLER = (
    "Les douaniers ont contrôlé les conteneurs arrivés au port pendant la nuit, vérifié les documents "
    "de bord, interrogé les équipages et dressé la liste des marchandises déclarées. "
)


def _documents() -> dict[str, str]:
    """A report whose every section speaks of transbordement, and five short notes that do once."""
    sections = "\n\n".join(
        f"## Section {i}\n\n{FILLER * 2}Le transbordement illégal a été constaté au quai {i}. {FILLER}"
        for i in range(8)
    )
    report = "---\ntitle: Rapport sur les ports\ndate: 2025-03-01\n---\n\n" + sections + "\n"
    notes = {
        f"notes/note-{i}.md": f"---\ntitle: Note {i}\ndate: 2024-0{i + 1}-10\n---\n\n"
        f"Brève {i} : un transbordement suspect signalé au port."
        for i in range(5)
    }
    return {"rapport.md": report, **notes}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = web_build_home(tmp_path_factory.mktemp("results"), _documents())
    with uvicorn_serving(home) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _page(browser: Browser, javascript: bool = True) -> Page:
    page = browser.new_context(locale="fr-FR", java_script_enabled=javascript).new_page()
    page.set_default_timeout(10_000)
    return page


def test_the_report_shows_two_passages_and_links_to_the_rest(base: str, browser: Browser) -> None:
    page = _page(browser)
    page.goto(f"{base}/search?q=transbordement")
    titles = page.locator("li.hit h3 a").all_inner_texts()
    assert Counter(titles)["Rapport sur les ports"] == 2 and len(set(titles)) == 6
    more = page.locator("p.more a")
    assert more.count() == 1
    said = re.match(r"(\d+) autres passages correspondent", more.inner_text())
    assert said is not None
    more.click()
    page.wait_for_url(re.compile(r"/documents/rapport\.md"))
    body = page.locator("body").inner_text()
    assert f"{int(said.group(1)) + 2} passages correspondent" in body


def test_grouped_by_document_each_title_once(base: str, browser: Browser) -> None:
    page = _page(browser)
    page.goto(f"{base}/search?q=transbordement")
    page.get_by_role("link", name="regrouper par document").click()
    page.wait_for_url(re.compile(r"group=document"))
    titles = page.locator("ul.hits.grouped li.hit h3 a").all_inner_texts()
    assert len(titles) == len(set(titles)) == 6  # each document once
    assert page.locator("li.hit.continued").count() == 1  # the report's second passage, under it
    page.get_by_role("link", name="voir par passage").click()
    page.wait_for_url(re.compile(r"^(?!.*group=)"))
    assert page.locator("ol.hits li.hit").count() == 7


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_a_long_passage_shows_excerpts_and_opens_whole(base: str, browser: Browser, javascript: bool) -> None:
    page = _page(browser, javascript)
    page.goto(f"{base}/search?q=transbordement+quai")
    hit = page.locator("li.hit").first
    excerpt = hit.locator("p.excerpt").first
    assert excerpt.locator("mark").count() >= 1 and "…" in excerpt.inner_text()
    assert len(excerpt.inner_text().split()) <= 45
    whole = hit.locator("details.whole")
    assert not whole.locator("p.passage").is_visible()
    whole.locator("summary").click()
    assert whole.locator("p.passage").is_visible()
    assert len(whole.locator("p.passage").inner_text().split()) > 45
