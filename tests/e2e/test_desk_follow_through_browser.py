"""The desk's patron page, the call list and the session page, in a real browser: each passes
the accessibility audit. With SCREENSHOTS=1 the first two are saved to docs/ for the README."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Message, MessageKind, MessageState, Status

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
from .conftest import ROOT, audit
from .test_in_browser import sign_in

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def save(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / name), full_page=True)


def test_desk_patron_page_call_list_and_session_page_pass_the_audit(page):
    branch = make_branch()
    phones = make_topic("Smartphones and tablets")
    ana = make_staff(
        "Ana P.", branch=branch, topics=[phones], hours=[(d, 10, 16) for d in range(5)]
    )
    make_user("frontdesk", groups=("Desk",), first_name="María", last_name="Ruiz")
    rosa = make_patron(
        "Rosa Martinez",
        email="",
        phone="312-555-0142",
        preferred_contact="call",
        accessibility_needs="Hard of hearing: please speak up",
    )
    coming = book(
        patron=rosa,
        topic=phones,
        branch=branch,
        start=local(next_weekday(1), 10),
        skill_level="new",
        learning_goal="Send photos to my grandson and make video calls",
        channel="online",
    )
    make_appointment(
        staff=ana,
        topic=phones,
        branch=branch,
        patron=rosa,
        start=local(next_weekday(1, weeks_ahead=-3), 11),
        status=Status.ATTENDED,
    )
    call = Message.objects.get(appointment=coming, kind=MessageKind.CONFIRMATION)
    Message.objects.filter(pk=call.pk).update(
        state=MessageState.NOT_REACHED, attempts=1, handled_at=timezone.now() - timedelta(hours=1)
    )

    sign_in(page, "frontdesk")
    page.goto(page.base + "/desk/")
    page.get_by_label("Find a patron").fill("Rosa")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Sessions of Rosa Martinez").click()
    expect(page.get_by_role("heading", name="Rosa Martinez")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel (patron asked)")).to_be_visible()
    expect(page.get_by_text("Signed in as María Ruiz")).to_be_visible()
    audit(page)
    save(page, "desk-patron.png")

    page.get_by_role("link", name="Call list").click()
    expect(page.get_by_text("Tried 1 time")).to_be_visible()
    expect(page.get_by_role("link", name="(312) 555-0142")).to_have_attribute(
        "href", "tel:+13125550142"
    )
    audit(page)
    save(page, "call-list.png")

    page.goto(page.base + f"/desk/session/{coming.reference}/")
    expect(page.get_by_role("link", name="Move this session")).to_be_visible()
    audit(page)
    page.get_by_role("button", name="Log out").click()
    page.goto(page.base + "/desk/calls/")
    expect(page.get_by_label("Username")).to_be_visible()
