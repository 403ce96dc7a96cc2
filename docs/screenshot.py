"""Take the screenshots of docs/: the pages of the service over an archive home, in Debian's Chromium.

ARCHIVE_HOME=/tmp/sample .venv/bin/python docs/screenshot.py

- search.png: the results page with a filter (facets, chips, highlighted excerpts);
- results.png: a whole results page, down to its pager (page numbers, page size, exports);
- phone.png: the same search on a phone, 375 px wide: the filter panel closed above the results;
- document.png: the document the first hit opens, its matches counted and linked;
- citation.png, permalink.png: a hit's « Citer » open, and a permalink's landing;
- duplicates.png: a passage republished by a newspaper, listed once with « Aussi dans 1 autre document ».
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Page, sync_playwright

from archive.settings import Settings
from web.app import create_app

URL = "/search?q=blanchiment&offence=blanchiment"
COPIES = "/search?q=travailleurs+saisonniers+vendanges"
RESULTS = "/search?q=blanchiment&per_page=5&page=2"
OUT = Path(__file__).parent


def _shots(page: Page, base: str) -> list[Path]:
    """Every screenshot, each of one page at one size."""
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(base + URL)
    page.screenshot(path=str(OUT / "search.png"))
    page.goto(base + RESULTS)
    page.screenshot(path=str(OUT / "results.png"), full_page=True)
    page.locator("li.hit h3 a").first.click()
    page.wait_for_load_state()
    page.evaluate("window.scrollTo(0, 0)")  # its head: the count of matches and the way back
    page.screenshot(path=str(OUT / "document.png"))
    page.goto(base + COPIES)
    page.locator("li.hit").first.screenshot(path=str(OUT / "duplicates.png"))
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(base + URL)
    page.screenshot(path=str(OUT / "phone.png"))
    return [OUT / name for name in ("search.png", "results.png", "document.png", "duplicates.png", "phone.png")]


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Settings.from_env()), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(locale="fr-FR")
        taken = _shots(page, f"http://127.0.0.1:{port}")
        page.set_viewport_size({"width": 1280, "height": 1000})
        _citation_shots(page, f"http://127.0.0.1:{port}")
        browser.close()
    server.should_exit = True
    print(*taken, sep="\n")
    return 0


def _citation_shots(page: Any, base: str) -> None:
    """docs/citation.png: a hit's « Citer » open; docs/permalink.png: a permalink's landing, its passage
    marked and its own « Citer » open (issue 14 §5)."""
    here = Path(__file__).parent
    page.goto(f"{base}/search?q=blanchiment")
    hit = page.locator("li.hit").first
    hit.locator("details.cite summary").click()
    hit.screenshot(path=str(here / "citation.png"))
    links = page.locator("li.hit p.citation a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    # a passage inside its document, rather than its first
    permalink = next((link for link in links if not link.endswith("#c0")), links[0])
    page.goto(f"{base}{permalink}")
    cited = page.locator("li.passage:has(> .cited)")
    cited.locator("details.cite summary").click()
    page.screenshot(path=str(here / "permalink.png"))
    print(here / "citation.png", here / "permalink.png")


if __name__ == "__main__":
    sys.exit(main())
