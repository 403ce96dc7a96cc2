"""The results and document pages in Debian's Chromium (issue 14 §3 and §6), driven by Playwright.

One server and one browser for the module; each test opens its own pages. A document reached from the
results counts and steps through the search's matches, and « Retour » comes back to the same page of the
same search; the pager; the filter panel above the results on a phone; the keyboard between hits; the
query syntax; and axe-core (npm, installed by `make test`) finds no serious or critical violation on the
home, results, filtered, document and error pages.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import WEB_DOCUMENTS, custody_guides, web_build_home
from .test_browser import CHROMIUM, uvicorn_serving

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed: `apt-get install -y chromium` "
    "(the Makefile's test set-up does it)",
)

AXE = Path(__file__).parent.parent / "node_modules" / "axe-core" / "axe.min.js"
MINORS = "guides/mineurs.txt"
if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

PHONE: ViewportSize = {"width": 375, "height": 812}
WIDE: ViewportSize = {"width": 1200, "height": 900}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = web_build_home(tmp_path_factory.mktemp("pages"), {**WEB_DOCUMENTS, **custody_guides()})
    with uvicorn_serving(home) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"],
        )
        yield chromium
        chromium.close()


Opener = Callable[..., "Page"]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Opener]:
    """Open a page in a fresh context (`viewport`, `javascript`, `bypass_csp`); console errors (a CSP
    violation, a script error) fail the test, except in contexts that bypass the CSP to inject axe."""
    contexts: list[Any] = []
    problems: list[str] = []

    def make(viewport: ViewportSize = WIDE, javascript: bool = True, bypass_csp: bool = False) -> Page:
        context = browser.new_context(
            viewport=viewport, locale="fr-FR", java_script_enabled=javascript, bypass_csp=bypass_csp
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        if not bypass_csp:
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems == []


def _json(base: str, path: str, **params: str) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)


def _query(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


# ------------------------------------------------------------------ §3: counts, navigation, the way back


def test_the_document_counts_and_steps_through_the_searchs_matches(base: str, open_page: Opener) -> None:
    from playwright.sync_api import expect

    q = "garde à vue mineur"
    body = _json(base, "/search", q=q, crowding="false", per_page="100")
    expected = sorted(h["position"] for h in body["hits"] if h["document"] == MINORS)
    page = open_page()
    page.goto(f"{base}/search?{urllib.parse.urlencode({'q': q})}")
    page.get_by_role("link", name=f"{len(expected) - 2} autres passages correspondent").first.click()
    expect(page.locator("p.matches")).to_contain_text(f"{len(expected)} passages correspondent à « {q} »")
    page.get_by_role("link", name="aller au premier").click()
    visited = []
    while True:
        target = page.locator("li.passage:target")
        visited.append(int(target.get_attribute("id").removeprefix("p")))  # type: ignore[union-attr]
        expect(target.locator("mark").first).to_be_visible()
        following = target.get_by_role("link", name="↓ correspondance suivante")
        if not following.count():
            break
        following.click()
    assert visited == expected


def test_the_way_back_keeps_the_whole_search(base: str, open_page: Opener) -> None:
    from playwright.sync_api import expect

    search = {"q": "mineur", "agency": "gendarmerie", "sort": "oldest", "page": "2", "per_page": "2"}
    search["crowding"] = "false"
    page = open_page()
    page.goto(f"{base}/search?{urllib.parse.urlencode(search)}")
    page.locator("li.hit h3 a").first.click()
    expect(page.locator("p.matches")).to_contain_text("filtres compris")
    page.get_by_role("link", name="← Retour à la recherche").click()
    expect(page.locator(".pagination [aria-current=page]")).to_have_text("2")
    assert _query(page.url) == {k: [v] for k, v in search.items()}
    expect(page.get_by_role("button", name="Retirer le filtre Gendarmerie nationale")).to_be_visible()
    expect(page.locator("#sort")).to_have_value("oldest")


def test_the_pager_numbers_pages_and_offers_the_last_and_a_page_size(base: str, open_page: Opener) -> None:
    from playwright.sync_api import expect

    listed = _json(base, "/search", q="mineur", crowding="false")["listed"]
    last = -(-listed // 5)
    assert last >= 6  # enough pages for a gap in the numbers
    page = open_page()
    page.goto(f"{base}/search?q=mineur&crowding=false&per_page=5")
    pager = page.get_by_role("navigation", name="Pagination")
    expect(pager.locator("[aria-current=page]")).to_have_text("1")
    expect(pager.get_by_role("link", name=f"Page {last}", exact=True)).to_be_visible()
    pager.get_by_role("link", name="Dernière page").click()
    expect(pager.locator("[aria-current=page]")).to_have_text(str(last))
    assert _query(page.url)["page"] == [str(last)]
    pager.get_by_role("link", name="Page 1", exact=True).click()
    assert "page" not in _query(page.url)
    page.get_by_label("Par page").select_option("20")  # the script submits at once, back to page 1
    expect(page).to_have_url(re.compile(r"[?&]per_page=20(&|$)"))
    expect(page.locator("li.hit")).to_have_count(20)
    assert "page" not in _query(page.url)
    # Without words the list is by date: the sort control says so, and does not claim relevance.
    page.goto(f"{base}/search")
    options = page.locator("#sort option").all_inner_texts()
    assert options == ["Date, les plus récents d'abord", "Date, les plus anciens d'abord"]


# ------------------------------------------------------------------ §6: ergonomics


def test_on_a_phone_the_filters_are_a_closed_panel_above_the_results(base: str, open_page: Opener) -> None:
    from playwright.sync_api import expect

    for javascript in (True, False):
        page = open_page(viewport=PHONE, javascript=javascript)
        page.goto(f"{base}/search?q=blanchiment&year=2021")
        panel = page.locator("details#filtres")
        expect(panel).not_to_have_attribute("open", "")
        expect(panel.locator("summary")).to_have_text("Filtrer (1 actif)")
        summary, first = panel.locator("summary").bounding_box(), page.locator("li.hit").first.bounding_box()
        assert summary is not None and first is not None
        assert summary["y"] + summary["height"] <= first["y"] < PHONE["height"]  # above, on the first screen
        expect(page.locator("#facette-year")).to_be_hidden()
        panel.locator("summary").click()
        expect(page.locator("#facette-year")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # On a wide screen the script opens it: the sidebar, beside the results.
    page = open_page(viewport=WIDE)
    page.goto(f"{base}/search?q=blanchiment")
    expect(page.locator("details#filtres")).to_have_attribute("open", "")
    sidebar, results = page.locator("#facette-year").bounding_box(), page.locator("ol.hits").bounding_box()
    assert sidebar is not None and results is not None and sidebar["x"] + sidebar["width"] <= results["x"]


def test_the_keyboard_moves_between_hits_without_taking_typed_keys(base: str, open_page: Opener) -> None:
    from playwright.sync_api import expect

    page = open_page()
    page.goto(f"{base}/search?q=mineur&crowding=false")
    box, titles = page.locator("#q"), page.locator("ol.hits li.hit h3 a")
    expect(box).to_be_focused()  # autofocus
    page.keyboard.press("ArrowDown")
    expect(titles.nth(0)).to_be_focused()
    for key, hit in (("j", 1), ("ArrowDown", 2), ("k", 1), ("ArrowUp", 0)):
        page.keyboard.press(key)
        expect(titles.nth(hit)).to_be_focused()
    page.keyboard.press("k")
    expect(box).to_be_focused()
    page.keyboard.type(" jk")  # typed in the search box: kept there
    expect(box).to_have_value("mineur jk")
    # On the document page the focus stays at the top: no autofocus there.
    page.goto(f"{base}/documents/{MINORS}?q=mineur")
    assert page.evaluate("document.activeElement === document.body")


def test_the_query_syntax_is_one_click_away_without_script(base: str, open_page: Opener) -> None:
    from playwright.sync_api import expect

    for javascript in (True, False):
        page = open_page(javascript=javascript)
        page.goto(f"{base}/search")
        help_ = page.locator("details#aide-syntaxe")
        expect(help_.locator("dl")).to_be_hidden()
        help_.get_by_text("Aide à la recherche").click()
        for example in ('"garde à vue"', "escroquerie OR fraude", "contrefa*", '"délai prescription"~3'):
            expect(help_.get_by_text(example, exact=True)).to_be_visible()
        # The keyboard hint shows only where the script makes it true.
        expect(help_.locator(".js-only")).to_be_visible() if javascript else expect(
            help_.locator(".js-only")
        ).to_be_hidden()


# ------------------------------------------------------------------ §6: accessibility


PAGES = {
    "home": "/search",
    "results": "/search?q=mineur",
    "filtered": "/search?q=blanchiment&year=2021&type=decision",
    "document": f"/documents/{MINORS}?q=garde+%C3%A0+vue+mineur&search_page=2",
    "error": "/documents/absent.md",
}


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_axe_finds_no_serious_violation(base: str, open_page: Opener, viewport: ViewportSize) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs it (`make axe`: npm ci, from package-lock.json)")
    found: dict[str, list[str]] = {}
    for name, path in PAGES.items():
        page = open_page(viewport=viewport, bypass_csp=True)  # axe is injected as a script of the page
        response = page.goto(base + path)
        assert response is not None and response.status == (404 if name == "error" else 200)
        page.add_script_tag(path=str(AXE))
        for state in ("", " (panels open)"):  # as loaded, then with every <details> open
            if state:
                page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            found[name + state] = [
                f"{v['id']}: {v['help']} ({len(v['nodes'])}× {v['nodes'][0]['target']})"
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
    assert found == {name + state: [] for name in PAGES for state in ("", " (panels open)")}
