"""The patron's pages say things right: calendar files for everyone, noon, a usual length,
a move page that offers only other times, and a way back after cancelling."""

import re
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.urls import reverse
from icalendar import Calendar

from appointments.formatting import format_time
from appointments.links import make_token, private_path
from appointments.models import Status

from .factories import local, make_appointment, make_patron, make_topic, next_weekday

pytestmark = pytest.mark.django_db


def _session(librarian, topic, branch, **patron):
    rosa = make_patron("Rosa Martinez", **patron)
    return make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=rosa, start=local(next_weekday(1), 10)
    )


def test_a_patron_who_gets_texts_downloads_a_calendar_file(client, librarian, topic, branch):
    session = _session(
        librarian, topic, branch, email="", phone="+13125550142", preferred_contact="text"
    )
    response = client.get(reverse("appointments:calendar_file", args=[make_token(session)]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar"
    assert "attachment" in response["Content-Disposition"]
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == session.starts_at
    assert event.decoded("dtend") == session.ends_at
    assert "see, change or cancel" in str(event["description"])


def test_a_patron_who_wants_a_call_finds_add_to_my_calendar(client, librarian, topic, branch):
    session = _session(
        librarian, topic, branch, email="", phone="+13125550142", preferred_contact="call"
    )
    page = client.get(private_path(session)).content.decode()
    calendar_url = reverse("appointments:calendar_file", args=[make_token(session)])
    assert f'href="{calendar_url}"' in page
    assert "Add to my calendar" in page


def test_a_tampered_calendar_link_is_not_found(client, librarian, topic, branch):
    session = _session(librarian, topic, branch)
    token = make_token(session)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.get(reverse("appointments:calendar_file", args=[tampered]))
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.content


def test_the_private_link_says_see_change_or_cancel(client, librarian, topic, branch):
    session = _session(librarian, topic, branch, phone="+13125550142", preferred_contact="text")
    page = client.get(private_path(session)).content.decode()
    assert "see, change or cancel" in page
    for name in ("confirmation", "change"):
        text = render_to_string(f"messages/text/{name}.txt", {"appointment": session})
        assert "See, change or cancel:" in text


def test_twelve_oclock_is_noon_and_midnight():
    assert format_time(datetime(2026, 12, 1, 12, 0)) == "noon"
    assert format_time(datetime(2026, 12, 1, 0, 0)) == "midnight"
    assert format_time(datetime(2026, 12, 1, 12, 30)) == "12:30 pm"
    assert format_time(datetime(2026, 12, 1, 0, 30)) == "12:30 am"
    assert format_time(datetime(2026, 12, 1, 11, 0)) == "11 am"


def test_a_session_ending_at_noon_reads_noon(client, librarian, topic, branch):
    session = _session(librarian, topic, branch)
    page = client.get(private_path(session)).content.decode()
    assert "10 am to 11 am" in page
    session.ends_at = local(next_weekday(1), 12)
    session.save()
    assert "10 am to noon" in client.get(private_path(session)).content.decode()


def test_the_need_form_chooses_an_hour_and_says_why(client, librarian, branch):
    topic = make_topic("Email", lengths=(30, 60))
    librarian.topics.add(topic)
    page = client.get(reverse("appointments:need", args=[topic.slug])).content.decode()
    assert re.search(r'<input[^>]*value="60"[^>]*checked', page)
    assert not re.search(r'<input[^>]*value="30"[^>]*checked', page)
    assert "Most people choose 60 minutes; choose 30 minutes for one quick question." in page
    response = client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Attach a photo", "party_size": 1},
    )
    assert response.status_code == 200  # the choice is shown, but the patron still sends it
    response = client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Attach a photo", "party_size": 1, "length": 60},
    )
    assert response.status_code == 302


def test_the_move_page_does_not_offer_the_time_the_session_has(client, librarian, topic, branch):
    session = _session(librarian, topic, branch)
    url = reverse("appointments:reschedule", args=[make_token(session)])
    page = client.get(url, {"week": next_weekday(1).isoformat()}).content.decode()
    values = re.findall(r'name="slot" id="[^"]+" value="([^"]+)"', page)
    assert values, "other times are offered"
    assert not any(v.endswith(f"-{int(session.starts_at.timestamp())}") for v in values)
    # Thursday at 10 is still offered: only the session's own time is left out.
    assert any(v.endswith(f"-{int(local(next_weekday(3), 10).timestamp())}") for v in values)


def test_a_cancelled_session_offers_to_book_again(client, librarian, topic, branch):
    session = _session(librarian, topic, branch)
    client.post(reverse("appointments:cancel", args=[make_token(session)]))
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    page = client.get(private_path(session)).content.decode()
    assert "Book again" in page
    assert f'href="{reverse("appointments:need", args=[topic.slug])}"' in page
    assert "Add to my calendar" not in page


def test_each_open_time_reads_without_a_stray_space(client, librarian, topic):
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Email", "party_size": 1},
    )
    url = reverse("appointments:time", args=[topic.slug])
    page = client.get(url, {"week": next_weekday(1).isoformat()}).content.decode()
    assert " ," not in re.sub(r"<[^>]+>", "", page)
    assert '10 am <span class="visually-hidden">on Tuesday' in page


def test_the_current_step_is_marked_but_not_a_link(client, librarian, topic):
    page = client.get(reverse("appointments:need", args=[topic.slug])).content.decode()
    steps = re.search(r'<nav aria-label="Booking steps".*?</nav>', page, re.S)[0]
    assert '<li aria-current="step" class="current">1. What you need</li>' in steps
    assert "<a " not in steps


def test_the_desk_form_asks_about_the_patron(client, db):
    from .factories import make_user

    make_user("frontdesk", groups=("Desk",))
    client.force_login(User.objects.get(username="frontdesk"))
    page = client.get(reverse("appointments:desk_add_patron")).content.decode()
    assert "Patron&#x27;s name" in page or "Patron's name" in page
    assert "Your name" not in page
    assert "greet you" not in page
