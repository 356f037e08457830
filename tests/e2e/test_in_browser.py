"""A patron, the desk and a librarian, each in a real browser, finding things by label and role."""

from __future__ import annotations

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from appointments.models import Appointment, Availability, Block, Status

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
from .conftest import audit

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def library():
    """Central Library; Ana helps with job search on weekdays, 10 am to 4 pm."""
    branch = make_branch()
    topic = make_topic("Job search and résumés", lengths=(30, 60))
    ana = make_staff(
        "Ana P.", branch=branch, topics=[topic], hours=[(day, 10, 16) for day in range(5)]
    )
    return branch, topic, ana


def book_online(page, topic_name: str, *, check_accessibility: bool = True):
    page.goto(page.base + "/")
    if check_accessibility:
        audit(page)
    page.get_by_role("link", name=topic_name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(topic_name)
    page.get_by_label("Some experience").check()
    page.get_by_label("What would you like to learn or do?").fill(
        "My résumé is 10 years old and I don't know how to apply online."
    )
    page.get_by_label("60 minutes").check()
    if check_accessibility:
        audit(page)
    page.get_by_role("button", name="Next: choose a time").click()
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    if check_accessibility:
        audit(page)
    page.locator("fieldset.day label").first.click()
    page.get_by_role("button", name="Next: your details").click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    if check_accessibility:
        audit(page)
    page.get_by_label("Your name").fill("Marcus Lee")
    page.get_by_label("Email address (optional").fill("marcus@example.org")
    page.get_by_label("Email", exact=True).check()
    page.get_by_role("button", name="Book this session").click()


def test_patron_books_from_home_page_and_cancels_with_private_link(page, library):
    book_online(page, "Job search and résumés")
    expect(page.get_by_text("You're booked")).to_be_visible()
    audit(page)
    appointment = Appointment.objects.get()
    assert appointment.status == Status.CONFIRMED
    assert appointment.minutes == 60
    page.get_by_role("link", name="Cancel this session").click()
    audit(page)
    page.get_by_role("button", name="Yes, cancel this session").click()
    expect(page.get_by_text("Your session is cancelled")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED


def test_patron_books_with_javascript_turned_off(page_without_js, library):
    book_online(page_without_js, "Job search and résumés", check_accessibility=False)
    expect(page_without_js.get_by_text("You're booked")).to_be_visible()
    assert Appointment.objects.filter(status=Status.CONFIRMED).count() == 1


def test_form_errors_are_tied_to_their_fields(page, library):
    page.goto(page.base + "/book/job-search-and-resumes/")
    page.get_by_role("button", name="Next: choose a time").click()
    goal = page.get_by_label("What would you like to learn or do?")
    expect(goal).to_have_attribute("aria-invalid", "true")
    described_by = goal.get_attribute("aria-describedby")
    assert "Please tell us what you would like help with." in " ".join(
        page.locator(f"#{id_}").inner_text() for id_ in described_by.split()
    )
    audit(page)
    assert Appointment.objects.count() == 0


def test_time_picker_works_by_keyboard_alone(page, library):
    page.goto(page.base + "/book/job-search-and-resumes/")
    page.get_by_label("New to this").check()
    page.get_by_label("What would you like to learn or do?").fill("Apply for jobs online")
    page.get_by_label("30 minutes").check()
    page.get_by_role("button", name="Next: choose a time").click()
    first = page.locator("input[name=slot]").first
    first.focus()
    page.keyboard.press("ArrowRight")
    second = page.locator("input[name=slot]").nth(1)
    expect(second).to_be_checked()
    expect(second).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()


def test_pages_work_with_text_zoomed_to_200_percent(zoomed_page, library):
    page = zoomed_page
    for path in ["/", "/book/job-search-and-resumes/"]:
        page.goto(page.base + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways at 200%"
    book_online(page, "Job search and résumés", check_accessibility=False)
    expect(page.get_by_text("You're booked")).to_be_visible()


def sign_in(page, username: str):
    page.goto(page.base + "/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()


def test_desk_books_for_a_phone_caller(page, library):
    make_user("frontdesk", groups=("Desk",))
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    sign_in(page, "frontdesk")
    page.goto(page.base + "/desk/")
    audit(page)
    page.get_by_label("Find a patron").fill("555 0142")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Book for Rosa Martinez").click()
    page.get_by_label("Topic", exact=True).select_option(label="Job search and résumés")
    page.get_by_role("button", name="Show times").click()
    audit(page)
    page.locator("fieldset.day label").first.click()
    page.get_by_label("New to this").check()
    page.get_by_label("What does the patron want to learn or do?").fill(
        "Send photos to her grandson"
    )
    page.get_by_label("By phone").check()
    page.get_by_role("button", name="Book this session").click()
    expect(page.get_by_role("heading", name="Booked for Rosa Martinez")).to_be_visible()
    audit(page)
    appointment = Appointment.objects.get()
    assert appointment.patron == rosa
    assert appointment.channel == "phone"
    assert appointment.booked_by.username == "frontdesk"


def test_blocked_afternoon_disappears_from_the_patron_page(page, library):
    branch, topic, ana = library
    ana.user.username = "ana"
    ana.user.save()
    tuesday = next_weekday(1)
    Availability.objects.filter(staff=ana).exclude(weekday=1).delete()
    times_url = page.base + f"/book/{topic.slug}/time/?week={tuesday.isoformat()}"

    def afternoon_times_offered() -> int:
        page.goto(page.base + f"/book/{topic.slug}/")
        page.get_by_label("Confident").check()
        page.get_by_label("What would you like to learn or do?").fill("LinkedIn profile")
        page.get_by_label("60 minutes").check()
        page.get_by_role("button", name="Next: choose a time").click()
        page.goto(times_url)
        labels = page.locator("fieldset.day", has_text=tuesday.strftime("%A")).locator("label")
        return sum(1 for text in labels.all_inner_texts() if " pm" in text)

    assert afternoon_times_offered() > 0
    sign_in(page, "ana")
    page.goto(page.base + "/admin/appointments/block/add/")
    page.locator("#id_starts_at_0").fill(tuesday.isoformat())
    page.locator("#id_starts_at_1").fill("12:00:00")
    page.locator("#id_ends_at_0").fill(tuesday.isoformat())
    page.locator("#id_ends_at_1").fill("16:00:00")
    page.get_by_label("Reason").fill("Staff meeting")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    block = Block.objects.get()
    assert block.staff == ana
    assert block.starts_at.astimezone(branch.tz).time() == time(12)
    assert afternoon_times_offered() == 0


def test_every_other_patron_and_desk_page_passes_the_audit(page, library):
    from appointments.links import make_feedback_token, private_path

    branch, topic, ana = library
    appointment = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(next_weekday(2), 10)
    )
    attended = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(next_weekday(3), 10)
    )
    manage = private_path(appointment)
    pages = [
        manage,
        manage + "change/",
        f"/feedback/{make_feedback_token(attended)}/",
        "/booking/not-a-real-link/",
        "/no-such-page/",
    ]
    for path in pages:
        page.goto(page.base + path)
        audit(page)
    make_user("frontdesk", groups=("Desk",))
    sign_in(page, "frontdesk")
    for path in ["/desk/", "/desk/patron/new/", "/desk/calls/"]:
        page.goto(page.base + path)
        audit(page)
    page.goto(page.base + "/desk/patron/new/")
    page.get_by_role("button", name="Add and book").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check the form")
    audit(page)


def test_privacy_waiting_list_and_working_day_pages_pass_the_audit(page, library):
    from appointments.links import private_path
    from appointments.models import WaitlistEntry
    from appointments.waitlist import offer_open_times, offer_token, place_token

    branch, topic, ana = library
    appointment = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(next_weekday(2), 10)
    )
    manage = private_path(appointment)
    entry = WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron("Priya Shah"),
        skill_level="new",
        learning_goal="Excel",
        length=60,
    )
    offer_open_times()
    entry.refresh_from_db()
    for path in [
        "/privacy/",
        manage + "my-data/",
        manage + "my-data/delete/",
        f"/waiting-list/{offer_token(entry)}/",
        f"/waiting-list/{place_token(entry)}/change/",
        f"/waiting-list/{place_token(entry)}/leave/",
    ]:
        page.goto(page.base + path)
        audit(page)
    page.goto(page.base + "/book/job-search-and-resumes/")
    page.get_by_label("New to this").check()
    page.get_by_label("What would you like to learn or do?").fill("Cover letters")
    page.get_by_label("60 minutes").check()
    page.get_by_role("button", name="Next: choose a time").click()
    page.get_by_role("link", name="Join the waiting list").click()
    audit(page)
    make_user("carmen", groups=("Managers",))
    sign_in(page, "carmen")
    for path in ["/desk/today/", "/desk/reports/", "/desk/calls/"]:
        page.goto(page.base + path)
        audit(page)


def test_a_refused_form_takes_the_patron_to_its_problems(page, library):
    page.goto(page.base + "/")
    page.get_by_role("link", name="Job search and résumés").click()
    page.get_by_role("button", name="Next: choose a time").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    audit(page)
    # The link for a group of choices lands on its first choice, ready for the arrow keys.
    summary.get_by_role("link", name="How confident").click()
    expect(page.get_by_label("New to this")).to_be_focused()


def test_desk_moves_and_cancels_a_session_from_the_admin_without_javascript(
    page, page_without_js, library
):
    """From the session's admin page to a new time and back, keyboard only, no JavaScript;
    the same pages pass the accessibility audit (which itself needs JavaScript)."""
    branch, topic, ana = library
    session = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(next_weekday(2), 10)
    )
    make_user("frontdesk", groups=("Desk",))
    move = f"/desk/session/{session.reference}/move/"
    sign_in(page, "frontdesk")
    for path in [move, f"/desk/session/{session.reference}/cancel/"]:
        page.goto(page.base + path)
        audit(page)

    browser = page_without_js
    sign_in(browser, "frontdesk")
    browser.goto(browser.base + f"/admin/appointments/appointment/{session.pk}/change/")
    browser.get_by_role("link", name="Move to another time").click()
    expect(browser.get_by_role("heading", level=1)).to_contain_text("Move")
    browser.locator("fieldset.day input[type=radio]").nth(2).focus()
    browser.keyboard.press("Space")
    browser.get_by_role("button", name="Move the session to this time").press("Enter")
    expect(browser.get_by_text("The patron is told their usual way")).to_be_visible()
    session.refresh_from_db()
    assert session.starts_at != local(next_weekday(2), 10)
    browser.get_by_role("link", name="Cancel this session").click()
    browser.get_by_label("The patron asked").check()
    browser.get_by_role("button", name="Cancel the session").click()
    expect(browser.get_by_text("The session is cancelled")).to_be_visible()
    session.refresh_from_db()
    assert (session.status, session.marked_by.username) == ("cancelled", "frontdesk")
