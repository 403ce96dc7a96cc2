"""Take docs/search.png: the search page over an archive home, in Debian's Chromium (and the others
below: citation.png, permalink.png).

ARCHIVE_HOME=/tmp/sample .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import sync_playwright

from archive.settings import Settings
from web.app import create_app

URL = "/search?q=blanchiment&offence=blanchiment"


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Settings.from_env()), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    out = Path(__file__).parent / "search.png"
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
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
        page.goto(f"http://127.0.0.1:{port}{URL}")
        page.screenshot(path=str(out))
        _citation_shots(page, f"http://127.0.0.1:{port}")
        browser.close()
    server.should_exit = True
    print(out)
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
