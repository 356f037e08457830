"""Ana pastes her published Outlook calendar on her staff page, in a real browser, and later
sees the warning when its link was reset. Both pages pass the accessibility audit.

With SCREENSHOTS=1 they are saved as docs/calendar-feed-paste.png and
docs/calendar-feed-warnings.png (docs/calendar-feeds.md shows them).
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from appointments.calendar_feeds import refresh_due
from appointments.models import CalendarFeed

from ..factories import make_branch, make_staff, make_topic, make_user
from ..test_calendar_feeds import FeedServer
from .conftest import AXE, ROOT, WCAG_TAGS, audit
from .test_in_browser import sign_in

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

OUTLOOK = (
    "https://outlook.office365.com/owa/calendar/4f1c2e0a9b7d4e3f8a6b5c4d3e2f1a0b@library.example"
    "/8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5/calendar.ics"
)


def audit_calendar_part(page) -> None:
    """axe-core on the calendar part of the staff page only. (The weekly availability rows
    above it have unlabelled fields of their own, outside this test's subject.)"""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run('#busy_calendar-group', {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    assert [v["id"] for v in result["violations"]] == []


def save(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / name), full_page=True)


def test_a_librarian_pastes_her_calendar_and_sees_when_its_link_was_reset(page, settings):
    settings.CALENDAR_FEEDS_ALLOW_LOOPBACK = True
    branch = make_branch()
    topic = make_topic("Job search and résumés")
    user = make_user("ana", groups=("Librarians",), first_name="Ana", last_name="Pérez")
    ana = make_staff(
        "Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12), (3, 14, 16)], user=user
    )

    sign_in(page, "ana")
    page.goto(page.base + f"/admin/appointments/staffprofile/{ana.pk}/change/")
    address = page.locator("#id_busy_calendar-0-address")
    address.fill(OUTLOOK)
    address.scroll_into_view_if_needed()
    save(page, "calendar-feed-paste.png")
    audit_calendar_part(page)
    address.press("Enter")
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    assert CalendarFeed.objects.get(staff=ana).address == OUTLOOK
    page.goto(page.base + f"/admin/appointments/staffprofile/{ana.pk}/change/")
    assert "8e7d6c5b4a3f" not in page.content()
    expect(address).to_have_value("")
    expect(address).to_have_attribute(
        "placeholder", "Saved: https://outlook.office365.com/… (paste a new address to replace it)"
    )

    # Later, Ana resets the link in Outlook: the old one answers 404.
    server = FeedServer()
    try:
        CalendarFeed.objects.filter(staff=ana).update(address=server.url("/reset.ics"))
        refresh_due(every_feed=True)
    finally:
        server.close()
    page.goto(page.base + "/admin/")
    warnings = page.locator("#calendar-feed-warnings")
    expect(warnings).to_contain_text("publishing was turned off or the link was reset")
    save(page, "calendar-feed-warnings.png")
    audit(page)
