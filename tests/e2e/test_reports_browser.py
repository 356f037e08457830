"""The reports page in a real browser: it passes the accessibility audit, on a wide screen and
at 200 % zoom; the period form works without JavaScript; printing leaves out the navigation.
With SCREENSHOTS=1 the page is saved to docs/reports.png."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from ..factories import make_user
from ..test_reports import March
from .conftest import ROOT, audit
from .test_in_browser import sign_in

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MARCH = "/desk/reports/?start=2026-03-01&end=2026-03-31"


def test_the_manager_reads_and_prints_the_march_report(page):
    March()
    make_user("carmen", groups=("Managers",), first_name="Carmen", last_name="Diaz")
    sign_in(page, "carmen")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(page.base + MARCH)
    expect(page.get_by_role("heading", name="1 March 2026 to 31 March 2026")).to_be_visible()
    expect(page.get_by_role("img", name="Sessions by month")).to_be_visible()
    expect(page.get_by_role("img", name="People helped by topic")).to_be_visible()
    expect(page.get_by_role("img", name="Busiest weekdays and hours")).to_be_visible()
    audit(page)
    if os.environ.get("SCREENSHOTS"):
        page.goto(page.base + "/desk/reports/?start=2026-02-01&end=2026-04-30")
        page.screenshot(path=str(ROOT / "docs" / "reports.png"), full_page=True)
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Site")).to_be_hidden()
    expect(page.get_by_role("button", name="Show the report")).to_be_hidden()
    expect(page.get_by_role("heading", name="By topic")).to_be_visible()


def test_the_report_reads_at_200_percent_zoom(zoomed_page):
    page = zoomed_page
    March()
    make_user("carmen", groups=("Managers",))
    sign_in(page, "carmen")
    page.goto(page.base + MARCH)
    audit(page)
    page.goto(page.base + "/desk/reports/?start=2026-03-31&end=2026-03-01")
    audit(page)
    # Nothing but the wide weekday table (in its own scrolling region) runs off the side.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_period_form_works_without_javascript(page_without_js):
    page = page_without_js
    March()
    make_user("carmen", groups=("Managers",))
    sign_in(page, "carmen")
    page.goto(page.base + "/desk/reports/")
    page.get_by_label("From", exact=True).fill("2026-03-01")
    page.get_by_label("To", exact=True).fill("2026-03-31")
    page.get_by_label("Branch", exact=True).select_option(label="Eastside")
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", name="1 March 2026 to 31 March 2026")).to_be_visible()
    assert "branch=" in page.url and "start=2026-03-01" in page.url
    page.get_by_label("To", exact=True).fill("2026-02-01")
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("alert")).to_contain_text("The last day is before the first day.")
