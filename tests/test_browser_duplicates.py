"""Near-duplicates in Debian's Chromium (issue 14 §1): a communiqué republished by two papers is listed once,
« Aussi dans 2 autres documents », with links to the copies, their titles shown as written (escaped)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from . import test_browser_results
from .conftest import web_build_home
from .test_browser import CHROMIUM, uvicorn_serving
from .test_duplicates import COMMUNIQUES, ESCAPED_TITLE, STUPS, documents

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed: `apt-get install -y chromium` "
    "(the Makefile's test set-up does it)",
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    texts = {name: text for name, text in documents().items() if isinstance(text, str)}
    home = web_build_home(tmp_path_factory.mktemp("copies"), texts)
    with uvicorn_serving(home) as url:
        yield url


browser = test_browser_results.browser  # the module's Chromium: the same fixture, one per module


def _page(browser: Browser, javascript: bool) -> Page:
    page = browser.new_context(locale="fr-FR", java_script_enabled=javascript).new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_a_republished_communique_is_listed_once_with_links_to_its_copies(
    base: str, browser: Browser, javascript: bool
) -> None:
    page = _page(browser, javascript)
    page.goto(f"{base}/search?q={STUPS}&sort=oldest")
    titles = page.locator("ol.hits li.hit h3 a").all_inner_texts()
    assert titles == ["Note sur le port du Havre", "Communiqué du ministère de l'Intérieur"]
    copies = page.locator("li.hit div.copies")
    assert copies.count() == 1
    assert copies.inner_text().startswith("Aussi dans 2 autres documents")
    links = copies.locator("a")
    assert sorted(links.all_inner_texts()) == sorted([ESCAPED_TITLE, "L'Hebdo du Sud"])
    page.screenshot(path=f"/tmp/dupwork/copies-{javascript}.png", full_page=True) if javascript else None
    copies.get_by_role("link", name=ESCAPED_TITLE).click()
    page.wait_for_url(re.compile(r"/documents/presse/quotidien\.md\?.*#p1$"))
    assert page.locator("#p1 mark").count() >= 1  # the search's words marked in the copy
    assert {"presse/quotidien.md"} < COMMUNIQUES
