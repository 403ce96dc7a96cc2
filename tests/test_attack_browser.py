"""The defences against request floods, as a person meets them in Chromium: a filter chip is a button of
the search form that drops only its filter, and a search hit deep in a paginated document lands on the
passage. Skipped without Debian's Chromium, like test_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import WEB_DOCUMENTS, web_build_home
from .test_attack_documents import marker, register
from .test_browser import CHROMIUM, uvicorn_serving

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """The app served by uvicorn over the web tests' documents and a 450-passage register."""
    with uvicorn_serving(web_build_home(tmp_path / "home", {**WEB_DOCUMENTS, "registre.md": register()})) as base:
        yield base


def test_chips_remove_one_filter_and_deep_links_land(web_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="fr-FR")
            page.set_default_timeout(10_000)
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))

            page.goto(web_server + "/search?q=&year=2021&year=2023")
            expect(page.locator("li.hit")).to_have_count(4)
            page.get_by_role("button", name="Retirer le filtre 2021").click()
            expect(page.get_by_role("button", name="Retirer le filtre 2021")).to_have_count(0)
            expect(page.get_by_role("button", name="Retirer le filtre 2023")).to_be_visible()
            year_2021 = page.locator("#facette-year").get_by_role("checkbox", name=re.compile(r"^2021 "))
            expect(year_2021).not_to_be_checked()
            expect(page.locator("li.hit")).to_have_count(2)

            page.goto(web_server + "/search?q=" + marker(250))
            page.locator("li.hit h3 a").first.click()
            expect(page).to_have_url(re.compile(r"/documents/registre\.md\?p=250&q=\w+#p250$"))
            expect(page.locator("#p250")).to_be_in_viewport()
            assert page.evaluate("document.querySelector(':target').id") == "p250"
            expect(page.get_by_role("link", name="‹ Passages précédents").first).to_be_visible()
            assert problems == []
        finally:
            browser.close()
