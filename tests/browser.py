"""Reading the report's pages in tests: parsed HTML, the heatmap's data, and a real headless Chromium.

A plain helper module, shared by test_report.py and test_workflow_report.py; the ``browser`` fixture is
imported by name into each (pytest then runs it once per test module).
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import missing

CHROMIUM = Path("/usr/bin/chromium")  # Debian's: a browser is never downloaded
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]


class Tags(HTMLParser):
    """Every start tag with its attributes, the page's text, and the text of each table row's cells."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []  # per <tr>, the whitespace-normalised text of its <td>/<th>
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def video_links(page: Tags) -> list[str]:
    """The index's links to the video pages themselves (its people cards link to anchors in them)."""
    return [a["href"] for a in page.find("a") if a.get("href", "").endswith("/report/index.html")]


def people_cards(page: Tags) -> dict[str, list[dict[str, str]]]:
    """The index's person cards in page order: card id -> the attributes of its appearances' images."""
    cards: dict[str, list[dict[str, str]]] = {}
    current = None
    for tag, attrs in page.tags:
        if tag == "div" and "person" in attrs.get("class", "").split():
            current = cards.setdefault(attrs["id"], [])
        elif tag == "section" and attrs.get("id") == "recommendations":
            current = None
        elif tag == "img" and current is not None:
            current.append(attrs)
    return cards


def heatmap_data(page: Path) -> dict:
    """The matrix the page's canvas is drawn from."""
    found = re.search(r'<script type="application/json" id="heatmap-data">(.*?)</script>', page.read_text(), re.S)
    return json.loads(found[1])


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file() or shutil.which("chromium") is None:
        missing("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (bash setup.sh --test)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, html: Path):
    """The page by file://, with every console message, page error, dialog and request recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"console": [], "errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: seen["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(html.as_uri(), wait_until="load")
    return page, seen


def assert_quiet_and_offline(seen: dict) -> None:
    """What ``open_page`` recorded: no console error or warning, page error or dialog; only file:// requests."""
    assert (
        [(t, m) for t, m in seen["console"] if t in ("error", "warning")] == []
        and seen["errors"] == []
        and seen["dialogs"] == []
    )
    assert all(url.startswith("file://") for url in seen["requests"]), seen["requests"]


def load_every_image(page) -> list[int]:
    """Scroll each image into view (they load lazily) and return their naturalWidths."""
    for img in page.locator("img").all():
        img.scroll_into_view_if_needed()
    page.wait_for_function("[...document.images].every(i => i.complete)")
    return page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
