"""A person's path through the site, in Debian's Chromium driven by Playwright: search, tick a facet,
open a document at the passage. Runs in `make test` (its set-up installs chromium)."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed: `apt-get install -y chromium` "
    "(the Makefile's test set-up does it)",
)


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """The app served by uvicorn on a free port, over a fresh archive home."""
    from .conftest import web_build_home

    with uvicorn_serving(web_build_home(tmp_path / "home")) as base:
        yield base


@contextlib.contextmanager
def uvicorn_serving(home: Path) -> Iterator[str]:
    """The web app over `home` (web test settings) served by uvicorn in a thread: its base URL."""
    import uvicorn

    from web.app import create_app

    from .conftest import free_port, wait_until, web_settings

    port = free_port()
    config = uvicorn.Config(
        create_app(web_settings(home)), host="127.0.0.1", port=port, log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "uvicorn to start", poll=0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_search_tick_a_facet_and_open_the_passage(web_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="fr-FR")
            page.set_default_timeout(10_000)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            page.goto(web_server + "/search")
            expect(page).to_have_title(re.compile("Recherche"))
            page.get_by_label("Rechercher").fill("blanchiment")
            page.get_by_role("button", name="Rechercher").click()
            expect(page).to_have_url(re.compile(r"/search\?q=blanchiment"))
            expect(page.locator("p.count")).to_contain_text("passages dans")
            expect(page.locator("li.hit")).to_have_count(2)
            expect(page.locator("li.hit mark").first).to_have_text(re.compile("blanchiment", re.IGNORECASE))

            # Tick a facet: the script submits the form at once; the filter shows as a removable chip.
            page.locator("#facette-year").get_by_role("checkbox", name=re.compile(r"^2021 ")).check()
            expect(page).to_have_url(re.compile(r"year=2021"))
            expect(page.locator("li.hit")).to_have_count(1)
            expect(page.get_by_role("button", name="Retirer le filtre 2021")).to_be_visible()
            expect(
                page.locator("#facette-year").get_by_role("checkbox", name=re.compile(r"^2021 "))
            ).to_be_checked()

            # Open the document at the passage: the link carries the search, its filter included.
            page.locator("li.hit h3 a").first.click()
            expect(page).to_have_url(
                re.compile(r"/documents/2021/blanchiment-escroquerie\.md\?q=blanchiment&year=2021#p1$")
            )
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Blanchiment du produit d'une escroquerie"
            )
            passage = page.locator("#p1")
            expect(passage).to_be_in_viewport()
            expect(passage.locator("mark")).to_have_text("blanchiment")
            assert (
                page.evaluate("document.querySelector(':target') && document.querySelector(':target').id")
                == "p1"
            )
            expect(page.get_by_role("link", name="Télécharger l'original")).to_have_attribute(
                "href", "/documents/2021/blanchiment-escroquerie.md/original"
            )

            # On a phone the page still reads: no horizontal scrolling.
            page.set_viewport_size({"width": 375, "height": 700})
            page.goto(web_server + "/search?q=escroquerie")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            assert problems == []  # no CSP violation, no script error
        finally:
            browser.close()
