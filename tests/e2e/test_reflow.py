"""The desk's tables reflow on a phone and at 200 % zoom (WCAG 1.4.10): the call list, Today,
a patron's page and the closure step of the admin never scroll sideways, and the buttons to mark
a call or a session are on the screen."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Message, MessageKind, MessageState

from ..factories import (
    book,
    local,
    make_appointment,
    make_branch,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)
from .conftest import audit
from .test_in_browser import sign_in

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(params=["phone", "zoomed_page"])
def narrow_page(request):
    """A phone 375 pixels wide, or a 1280-pixel window at 200 %."""
    if request.param == "zoomed_page":
        return request.getfixturevalue("zoomed_page")
    page = request.getfixturevalue("page")
    page.set_viewport_size({"width": 375, "height": 800})
    return page


def assert_fits(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow} px too wide"


def assert_on_screen(page, button) -> None:
    box = button.bounding_box()
    width = page.evaluate("window.innerWidth")
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box


def test_desk_pages_and_the_closure_step_reflow(narrow_page):
    page = narrow_page
    branch = make_branch()
    topic = make_topic("Smartphones and tablets")
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(d, 10, 16) for d in range(5)])
    make_user("frontdesk", groups=("Desk",), first_name="María", last_name="Ruiz")
    make_user("carmen", groups=("Managers",))
    rosa = make_patron(
        "Rosa Martinez",
        email="",
        phone="312-555-0142",
        preferred_contact="call",
        accessibility_needs="Hard of hearing: please speak up",
    )
    monday = next_weekday(0)
    coming = book(
        patron=rosa,
        topic=topic,
        branch=branch,
        start=local(monday, 10),
        learning_goal="Send photos to my grandson and make video calls, and share an album",
        channel="online",
    )
    today = timezone.now().astimezone(branch.tz).date()
    make_appointment(
        staff=ana,
        topic=topic,
        branch=branch,
        patron=make_patron("Marcus Lee", email="marcus.lee@example.org"),
        start=local(today, 10),
        learning_goal="Apply for jobs online and keep my résumé up to date",
    )
    call = Message.objects.get(appointment=coming, kind=MessageKind.CONFIRMATION)
    Message.objects.filter(pk=call.pk).update(state=MessageState.NOT_REACHED, attempts=1)

    sign_in(page, "frontdesk")
    page.goto(page.base + "/desk/calls/")
    called = page.get_by_role("button", name=re.compile(r"^Called\W+Rosa Martinez"))
    expect(called).to_be_visible()
    assert_fits(page)
    assert_on_screen(page, called)
    assert_on_screen(
        page, page.get_by_role("button", name=re.compile(r"^Not reached\W+Rosa Martinez"))
    )
    audit(page)

    page.goto(page.base + f"/desk/today/?branch={branch.pk}")
    attended = page.get_by_role("button", name=re.compile(r"^Attended\W+Marcus Lee"))
    expect(attended).to_be_visible()
    assert_fits(page)
    assert_on_screen(page, attended)
    assert_on_screen(
        page, page.get_by_role("button", name=re.compile(r"^Did not come\W+Marcus Lee"))
    )
    audit(page)

    page.goto(page.base + f"/desk/patron/{rosa.pk}/")
    move = page.get_by_role("link", name="Move the session")
    expect(move).to_be_visible()
    assert_fits(page)
    assert_on_screen(page, move)
    audit(page)

    page.get_by_role("button", name="Log out").click()
    sign_in(page, "carmen")
    page.goto(page.base + "/admin/appointments/closure/add/")
    page.get_by_label("Branch").select_option(label=branch.name)
    page.get_by_label("First day").fill(monday.isoformat())
    page.get_by_label("Last day").fill(monday.isoformat())
    page.get_by_label("Reason").fill("burst pipe")
    page.get_by_label("Reason").press("Enter")
    expect(page.get_by_role("heading", name="Booked sessions in this time")).to_be_visible()
    assert_fits(page)
    audit(page)


def test_the_failed_messages_on_the_call_list_reflow_and_pass_the_audit(narrow_page):
    page = narrow_page
    branch = make_branch()
    topic = make_topic("Smartphones and tablets")
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(d, 10, 16) for d in range(5)])
    make_user("frontdesk", groups=("Desk",), first_name="María", last_name="Ruiz")
    marcus = make_patron("Marcus Okafor", email="marcus.okafor@example.org", phone="312-555-0199")
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    Message.objects.filter(patron=marcus).update(
        state=MessageState.FAILED,
        attempts=4,
        last_error="ConnectionRefusedError: [Errno 111] Connection refused",
    )

    sign_in(page, "frontdesk")
    page.goto(page.base + "/desk/calls/")
    handled = page.get_by_role("button", name=re.compile(r"^Handled\W+Marcus Okafor"))
    expect(handled).to_be_visible()
    expect(page.get_by_text("The mail server could not be reached.")).to_be_visible()
    assert_fits(page)
    assert_on_screen(page, handled)
    audit(page)
    handled.click()
    expect(page.get_by_text("Marked handled: the message leaves the list.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Undo\W+Marcus Okafor"))).to_be_visible()
    assert_fits(page)
    audit(page)
