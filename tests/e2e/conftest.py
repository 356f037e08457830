"""Real-browser tests: headless Chromium driven by Playwright against the app served by the tests.

Chromium is Debian's (/usr/bin/chromium, installed by `make test` when missing). Every page a
test opens is checked for requests to other origins; `audit()` runs axe-core on the page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are
# still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def _new_page(browser, live_server, *, javascript: bool = True, **context_options):
    # bypass_csp lets the test inject axe-core; the app's own pages are unaffected.
    context = browser.new_context(
        java_script_enabled=javascript, bypass_csp=True, **context_options
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.base = live_server.url
    return context, page


def _assert_same_origin(page):
    foreign = [url for url in page.requested if not url.startswith(page.base)]
    assert foreign == [], f"requests left the site: {foreign}"


@pytest.fixture
def page(browser, live_server):
    context, page = _new_page(browser, live_server)
    yield page
    _assert_same_origin(page)
    context.close()


@pytest.fixture
def page_without_js(browser, live_server):
    context, page = _new_page(browser, live_server, javascript=False)
    yield page
    _assert_same_origin(page)
    context.close()


@pytest.fixture
def zoomed_page(browser, live_server):
    """Text at 200%: a 1280-pixel window with everything drawn twice as large."""
    context, page = _new_page(
        browser, live_server, viewport={"width": 640, "height": 900}, device_scale_factor=2
    )
    yield page
    _assert_same_origin(page)
    context.close()


def audit(page) -> None:
    """Run axe-core (WCAG 2.2 A and AA rules) on the page and fail on any violation."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    problems = [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]
    assert problems == [], f"accessibility problems on {page.url}: {problems}"
