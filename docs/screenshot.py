"""Take docs/search.png: the search page over an archive home, in Debian's Chromium.

ARCHIVE_HOME=/tmp/sample .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

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
        browser.close()
    server.should_exit = True
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
