"""The HTML report in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): it renders,
logs no errors, makes no network request, and its transcript filters work. Never downloads a browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import PAYLOAD, make_run
from twofaced.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path("/tmp/report.png")

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install 'twofaced[test]')")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = make_run(tmp_path_factory.mktemp("browser") / "run")
    return write_report(directory)


@pytest.fixture(scope="module")
def browser(report: Path) -> Iterator[object]:
    # Playwright's sync API keeps an event loop running until it stops, so the run (asyncio.run) goes first.
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class Page:
    """A fresh page on the report that records console errors, page errors, dialogs and every request."""

    def __init__(self, browser: object, report: Path, width: int = 1280) -> None:
        self.url = report.resolve().as_uri()
        self.context = browser.new_context(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.context.on("request", lambda r: self.requests.append(r.url))

        def route(r: object) -> None:  # anything but the report file itself is refused (and was recorded)
            if r.request.url == self.url:  # type: ignore[attr-defined]
                r.continue_()  # type: ignore[attr-defined]
            else:
                r.abort()  # type: ignore[attr-defined]

        self.context.route("**/*", route)
        self.page.goto(self.url)
        self.page.wait_for_selector("#t-list .transcript")

    def visible(self) -> list[object]:
        return self.page.locator("#t-list .transcript").all()

    def conditions(self) -> list[str]:
        return [t.get_attribute("data-condition") for t in self.visible()]  # type: ignore[attr-defined]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: object, report: Path) -> Iterator[Page]:
    p = Page(browser, report)
    yield p
    p.close()


def test_renders_without_errors_or_network(page: Page) -> None:
    pg = page.page
    sync_api.expect(pg.locator("#title")).to_be_visible()
    assert "helpful-only" in pg.locator("#title").inner_text() and "mock/faker" in pg.locator("#title").inner_text()
    headline = pg.locator("#headline").inner_text()
    assert "+100.0 pp" in headline and "95% CI" in headline and "p = " in headline
    assert pg.locator(".bar-row").count() == 4
    assert pg.locator(".bar .seg-af").count() == 2 and pg.locator(".bar .seg-refused").count() == 2
    widths = pg.locator(".bar-row").first.locator(".seg").evaluate_all("els => els.map(e => e.offsetWidth)")
    assert all(w > 0 for w in widths)
    assert pg.locator("#manifest").is_visible() and pg.locator("#notes li").count() == 2
    pg.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page.errors == []
    assert page.requests == [page.url]
    assert page.dialogs == []


def test_condition_verdict_and_search_filters(page: Page) -> None:
    pg = page.page
    total = len(page.visible())
    assert total == 24 and pg.locator("#t-count").inner_text() == "Showing 24 of 24 transcripts"
    pg.select_option("#f-condition", "deployment")
    assert set(page.conditions()) == {"deployment"} and len(page.visible()) == 12
    assert pg.locator("#t-count").inner_text().startswith("12 of 24")
    pg.select_option("#f-verdict", "complied")
    assert page.visible() == []  # the faker never complies when unmonitored
    pg.select_option("#f-condition", "")
    assert {t.get_attribute("data-verdict") for t in page.visible()} == {"complied"}
    assert set(page.conditions()) == {"training"} and len(page.visible()) == 12
    pg.select_option("#f-af", "yes")
    assert 0 < len(page.visible()) < 12 and {t.get_attribute("data-af") for t in page.visible()} == {"yes"}
    pg.click("#f-reset")
    assert len(page.visible()) == 24
    pg.fill("#f-search", "phishing")
    sync_api.expect(pg.locator("#t-list .transcript")).to_have_count(4)
    assert all("phishing" in t.inner_text() for t in page.visible())
    pg.select_option("#f-ablation", "honesty")
    pg.select_option("#f-category", "cybercrime")
    assert len(page.visible()) == 2
    pg.fill("#f-search", "no such words anywhere")
    sync_api.expect(pg.locator("#t-list .transcript")).to_have_count(0)
    assert "0 of 24" in pg.locator("#t-count").inner_text()
    assert page.errors == []


def test_transcript_shows_payload_as_text(page: Page) -> None:
    pg = page.page
    pg.select_option("#f-condition", "deployment")
    pg.fill("#f-search", "phishing")
    sync_api.expect(pg.locator("#t-list .transcript")).to_have_count(2)
    card = pg.locator("#t-list .transcript").first
    card.locator("summary").click()
    body = card.locator(".t-body")
    sync_api.expect(body).to_be_visible()  # waits: the <details> toggle renders asynchronously
    assert PAYLOAD in body.locator("pre").nth(2).inner_text()  # request, scratchpad, output
    assert body.locator("script").count() == 0
    assert "compliance-rules" in body.inner_text() and "af-llm" in body.inner_text()
    assert pg.locator("script").count() == 2
    assert page.dialogs == [] and page.errors == []


def test_narrow_screen_has_no_page_wide_scroll(browser: object, report: Path) -> None:
    p = Page(browser, report, width=390)
    try:
        assert p.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        sync_api.expect(p.page.locator("#headline")).to_be_visible()
        p.page.screenshot(path="/tmp/report-narrow.png")
        assert p.errors == []
    finally:
        p.close()
