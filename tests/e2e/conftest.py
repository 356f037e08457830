"""Real-browser tests: headless Chromium driven by Playwright against the app served by the tests.

Chromium is Debian's (/usr/bin/chromium, installed by `make test` when missing). Every page a
test opens is checked for requests to other origins; `audit()` runs axe-core on the page.

By default the app runs in the test process (pytest-django's live_server). With
E2E_SERVER=production the same tests run against `scripts/serve web`: gunicorn with DEBUG=false,
static files collected and served by whitenoise, on the test database that the tests fill
through the ORM. Tests marked `in_process_only` or `production_only` run in one mode alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from ..servers import ProductionServer

# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are
# still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PRODUCTION = os.environ.get("E2E_SERVER", "in-process") == "production"
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    """Leave out, as deselected (never skipped), the tests that belong to the other mode."""
    other_mode = "in_process_only" if PRODUCTION else "production_only"
    deselected = [item for item in items if item.get_closest_marker(other_mode)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production server hashes with the real hashers only, so there users are made with
    them too (a quarter second each); in process, the fast one of tests/conftest.py."""
    if not PRODUCTION:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def production_server(django_db_setup, tmp_path_factory):
    from django.db import connection

    folder = tmp_path_factory.mktemp("production")
    server = ProductionServer(
        connection.settings_dict["NAME"], folder / "static", folder / "server.log", role="web"
    )
    yield server
    server.stop()


@pytest.fixture
def app_server(request):
    """What the browser talks to: an object with `.url`, in this process or in production."""
    if PRODUCTION:
        return request.getfixturevalue("production_server")
    return request.getfixturevalue("live_server")


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


def _new_page(browser, app_server, *, javascript: bool = True, **context_options):
    # bypass_csp lets the test inject axe-core; the app's own pages are unaffected.
    context = browser.new_context(
        java_script_enabled=javascript, bypass_csp=True, **context_options
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.base = app_server.url
    return context, page


def _assert_same_origin(page):
    foreign = [url for url in page.requested if not url.startswith(page.base)]
    assert foreign == [], f"requests left the site: {foreign}"


@pytest.fixture
def page(browser, app_server):
    context, page = _new_page(browser, app_server)
    yield page
    _assert_same_origin(page)
    context.close()


@pytest.fixture
def page_without_js(browser, app_server):
    context, page = _new_page(browser, app_server, javascript=False)
    yield page
    _assert_same_origin(page)
    context.close()


@pytest.fixture
def zoomed_page(browser, app_server):
    """Text at 200%: a 1280-pixel window with everything drawn twice as large."""
    context, page = _new_page(
        browser, app_server, viewport={"width": 640, "height": 900}, device_scale_factor=2
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
