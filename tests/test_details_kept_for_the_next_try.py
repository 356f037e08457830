"""Sent back to choose another time, a patron does not type everything again.

Marcus fills in his details; someone books the time first. He chooses another, and his name,
contact details and what would help him are there as he left them: kept with his need, in his
session on the server (never in an address, never in a patron record) until the booking is made.
"""

import re

import pytest
from django.urls import reverse

from appointments.models import Appointment
from patrons.models import Patron

from .factories import local, make_appointment, next_weekday

pytestmark = pytest.mark.django_db

NEED = {"skill_level": "some", "learning_goal": "Apply for jobs online", "party_size": 1}
MARCUS = {
    "name": "Marcus Lee",
    "email": "marcus@example.org",
    "phone": "312-555-0142",
    "preferred_contact": "text",
    "card_number": "2100045",
    "accessibility_needs": "Large print, please",
}


def slot(branch, start) -> str:
    return f"{branch.pk}-0-{int(start.timestamp())}"


def details_page(client, topic, value) -> str:
    response = client.get(reverse("appointments:contact", args=[topic.slug]), {"slot": value})
    assert response.status_code == 200
    return response.content.decode()


def send_details(client, topic, value, details):
    url = reverse("appointments:contact", args=[topic.slug])
    return client.post(url, {"slot": value, **details})


def draft(client, topic) -> dict:
    return client.session.get(f"booking:{topic.slug}", {})


def test_after_a_taken_time_the_details_are_there_for_the_next_time(
    client, librarian, topic, branch
):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    details_page(client, topic, slot(branch, local(tuesday, 10)))
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))

    response = send_details(client, topic, slot(branch, local(tuesday, 10)), MARCUS)
    assert response["Location"] == reverse("appointments:time", args=[topic.slug])
    assert not Patron.objects.filter(email=MARCUS["email"]).exists()

    page = details_page(client, topic, slot(branch, local(thursday, 10)))
    assert 'value="Marcus Lee"' in page
    assert 'value="marcus@example.org"' in page
    assert 'value="312-555-0142"' in page
    assert 'value="2100045"' in page
    assert re.search(r"<textarea[^>]*>\s*Large print, please</textarea>", page)
    assert re.search(r'value="text" id="[^"]+"[^>]* checked', page)
    # The need is still there too, and the new time books with both.
    response = send_details(client, topic, slot(branch, local(thursday, 10)), MARCUS)
    booked = Appointment.objects.get(patron__email=MARCUS["email"])
    assert booked.starts_at == local(thursday, 10)
    assert booked.patron.accessibility_needs == "Large print, please"
    # Booked: nothing of it stays in the session (library computers are shared).
    assert draft(client, topic) == {}
    assert "marcus@example.org" not in str(dict(client.session))


def test_only_answers_that_passed_their_checks_are_kept(client, librarian, topic, branch, settings):
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    value = slot(branch, local(next_weekday(1), 10))
    details_page(client, topic, value)
    settings.BOOKING_MIN_NOTICE_HOURS = 24 * 30  # the page was left open for weeks
    send_details(client, topic, value, {**MARCUS, "phone": "12", "card_number": "9" * 40})
    kept = draft(client, topic)["details"]
    assert kept["name"] == "Marcus Lee" and kept["email"] == "marcus@example.org"
    assert "phone" not in kept and "card_number" not in kept
    assert draft(client, topic)["need"]["learning_goal"] == "Apply for jobs online"


def test_the_details_kept_are_offered_on_the_waiting_list_too(client, librarian, topic, branch):
    tuesday = next_weekday(1)
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    send_details(client, topic, slot(branch, local(tuesday, 10)), MARCUS)
    page = client.get(reverse("appointments:join_waitlist", args=[topic.slug])).content.decode()
    assert 'value="Marcus Lee"' in page and 'value="marcus@example.org"' in page
