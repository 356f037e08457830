"""A manager closes Central Library over booked sessions, by keyboard, in a real browser.

With UPDATE_SCREENSHOTS=1 the confirmation step is saved as docs/closure-dialog.png.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from appointments.models import Appointment, Closure, Message, Status

from ..factories import (
    local,
    make_appointment,
    make_branch,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)
from .conftest import ROOT, audit

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sign_in(page, username: str):
    page.goto(page.base + "/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_label("Password").press("Enter")


def test_manager_closes_a_branch_over_booked_sessions_by_keyboard(page):
    branch = make_branch()
    topic = make_topic("Job search and résumés")
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(d, 10, 16) for d in range(5)])
    monday = next_weekday(0)
    for hour, patron in [
        (10, make_patron("Marcus Lee", email="marcus@example.org")),
        (
            11,
            make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call"),
        ),
    ]:
        make_appointment(
            staff=ana, topic=topic, branch=branch, patron=patron, start=local(monday, hour)
        )
    make_user("carmen", groups=("Managers",))

    sign_in(page, "carmen")
    page.goto(page.base + "/admin/appointments/closure/add/")
    page.get_by_label("Branch").select_option(label=branch.name)
    page.get_by_label("First day").fill(monday.isoformat())
    page.get_by_label("Last day").fill(monday.isoformat())
    page.get_by_label("Reason").fill("burst pipe")
    page.get_by_label("Reason").press("Enter")

    expect(page.get_by_role("heading", name="Booked sessions in this time")).to_be_visible()
    table = page.get_by_role("table", name="Booked sessions in this time")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).to_contain_text("Rosa Martinez")
    expect(table).to_contain_text("phone call")
    choice = page.get_by_role("group", name="What should happen to them?")
    expect(choice).to_contain_text("2 booked sessions fall in this time")
    audit(page)
    assert not Closure.objects.exists()

    offer = choice.get_by_label("Cancel them, tell each patron their own way, and offer")
    offer.focus()
    page.keyboard.press("Space")
    expect(offer).to_be_checked()
    if os.environ.get("UPDATE_SCREENSHOTS"):
        page.locator("#booked-sessions").scroll_into_view_if_needed()
        page.screenshot(path=str(ROOT / "docs" / "closure-dialog.png"), full_page=True)
    page.keyboard.press("Tab")  # out of the radio group, to the first button
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_text("Cancelled 2 sessions.")).to_be_visible()
    audit(page)
    assert Closure.objects.get().reason == "burst pipe"
    assert set(Appointment.objects.values_list("status", flat=True)) == {Status.CANCELLED}
    call = Message.objects.get(kind="cancellation", channel="call")
    assert "Central Library is closed that day (burst pipe)." in call.body
