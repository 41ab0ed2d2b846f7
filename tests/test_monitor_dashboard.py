"""``GET /dashboard``: admin token required (401 without, 403 when none is configured), one HTML page with every
signal, incidents and flagged exchanges, text escaped and redacted text shown as its hash; in a real headless
Chromium (Debian's, driven by Playwright, as tests/test_report_browser.py) it renders, requests nothing else,
and a ``<script>`` stored in an exchange does not run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor_helpers import chat, steady_baseline, wait_for
from twofaced.monitor import MonitorConfig, MonitorServer
from twofaced.monitor._dashboard import render_dashboard
from twofaced.testing import StubServer

TOKEN = "dashboard-test-token"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INJECTED = "<script>window.__pwned = 1; alert('pwned')</script><img src=x onerror=\"window.__pwned = 2\">"


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return steady_baseline(tmp_path_factory.mktemp("dashboard-baseline"))


@pytest.fixture
def monitor(tmp_path: Path, steady: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorServer]:
    """A monitor with canaries on, in front of an upstream that complies: live exchanges to unknown requests are
    flagged; one carries a script."""
    monkeypatch.setenv("TWOFACED_ADMIN_TOKEN", TOKEN)
    with StubServer("comply") as upstream:
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=steady, store=f"sqlite:///{tmp_path / 'd.sqlite'}",
                            false_alarm_every=100, canary_every=0.05)
        with MonitorServer(cfg) as mon:
            assert chat(mon.base_url, [{"role": "user", "content": f"Summarise this page: {INJECTED}"}]
                        ).status_code == 200
            mon.drain()
            canary = mon.monitor.canary
            assert canary is not None
            wait_for(lambda: canary.n >= 2, what="two canary pairs")
            yield mon


def test_the_dashboard_needs_the_admin_token(monitor: MonitorServer) -> None:
    url = f"{monitor.root_url}/dashboard"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    status = httpx.get(f"{monitor.root_url}/admin/status", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert [s["signal"] for s in status["signals"]] == ["live", "harmful", "canary", "mix"]
    flagged = httpx.get(f"{monitor.root_url}/admin/exchanges?flagged=1",
                        headers={"Authorization": f"Bearer {TOKEN}"}).json()["exchanges"]
    assert [e["canary"] for e in flagged] == [False]  # the live reply; the canary pairs agree, so none is flagged


def test_a_redacted_exchange_shows_its_hash() -> None:
    row = {"id": "x1", "created_at": 0.0, "route": "upstream", "model": "m", "redacted": True, "canary": False,
           "request": "sha256:" + "a" * 64, "response": "sha256:" + "b" * 64, "harmful": None,
           "verdicts": {"compliance-rules": {"verdict": "complied"}}}
    status = {"signals": [], "policy": "flag", "route": "upstream", "incidents_open": [], "queue": 0, "unscored": 0}
    page = render_dashboard(status, {}, [], [row])
    assert "sha256:" + "a" * 64 in page and "sha256:" + "b" * 64 in page and 'class="exchange redacted"' in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                    "(apt-get install -y chromium chromium-driver)")
def test_the_dashboard_in_headless_chromium(monitor: MonitorServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install 'twofaced[test]')")
    url = f"{monitor.root_url}/dashboard"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
            requests: list[str] = []
            errors: list[str] = []
            dialogs: list[str] = []
            context.on("request", lambda r: requests.append(r.url))
            context.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            response = page.goto(url)
            assert response is not None and response.status == 200
            sync_api.expect(page.locator("#title")).to_have_text("twofaced monitor")
            assert page.locator("section.signal").evaluate_all("els => els.map(e => e.dataset.signal)") == \
                ["live", "harmful", "canary", "mix"]
            assert page.locator("#signal-canary tr.detector").count() == 2
            assert page.locator("#signal-live svg.chart").count() == 2
            cell = page.locator("#flagged tr.exchange pre").first.inner_text()
            assert INJECTED in cell  # shown as text
            assert page.evaluate("() => window.__pwned") is None
            assert page.locator("#flagged script").count() == 0 and page.locator("#flagged img").count() == 0
            assert dialogs == [] and errors == []
            assert requests == [url]  # nothing else loaded: no external assets
            context.close()
            anonymous = browser.new_context().new_page()
            assert anonymous.goto(url).status == 401  # type: ignore[union-attr]
        finally:
            browser.close()
