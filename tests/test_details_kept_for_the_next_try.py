"""Sent back to choose another time, a patron does not type everything again.

Marcus fills in his details; someone books the time first. He chooses another, and his name and
contact details are there as he left them: kept with his need, in his session on the server (never
in an address, never in a patron record), for a few minutes, until the booking is made.

Library computers are shared, and a patron may walk away without closing the browser. So his
library card number and what would help him during the session are never kept (he types them
again), what is kept is dropped after 20 minutes, and leaving the booking (for another topic, or
the list of topics) drops it too.
"""

import re

import pytest
from django.urls import reverse

from appointments.models import Appointment, WaitlistEntry
from patrons.models import Patron

from .factories import local, make_appointment, make_topic, next_weekday

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
    assert re.search(r'value="text" id="[^"]+"[^>]* checked', page)
    # Never his card number or what would help him: the page says so, and he types them again.
    assert "2100045" not in page and "Large print" not in page
    assert "please type them again" in page
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


def test_the_card_number_and_accessibility_needs_are_never_kept(client, librarian, topic, branch):
    tuesday = next_weekday(1)
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    send_details(client, topic, slot(branch, local(tuesday, 10)), MARCUS)

    assert set(draft(client, topic)["details"]) == {"name", "email", "phone", "preferred_contact"}
    stored = str(dict(client.session))
    assert "2100045" not in stored and "Large print" not in stored
    page = client.get(reverse("appointments:join_waitlist", args=[topic.slug])).content.decode()
    assert 'value="Marcus Lee"' in page
    assert "2100045" not in page and "Large print" not in page


def move_stamps_back(client, topic, minutes, *parts):
    """As if the patron had walked away `minutes` ago (the session on the server, changed)."""
    session = client.session
    kept = session[f"booking:{topic.slug}"]
    for part in parts:
        kept[f"{part}_at"] -= minutes * 60
    session[f"booking:{topic.slug}"] = kept
    session.save()


def sent_back_after_a_taken_time(client, librarian, topic, branch):
    tuesday = next_weekday(1)
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    send_details(client, topic, slot(branch, local(tuesday, 10)), MARCUS)
    return slot(branch, local(next_weekday(3), 10))


def test_the_details_come_back_within_20_minutes(client, librarian, topic, branch):
    thursday = sent_back_after_a_taken_time(client, librarian, topic, branch)
    move_stamps_back(client, topic, 19, "details", "need")
    page = details_page(client, topic, thursday)
    assert 'value="Marcus Lee"' in page and 'value="marcus@example.org"' in page


def test_the_details_are_dropped_after_20_minutes(client, librarian, topic, branch):
    thursday = sent_back_after_a_taken_time(client, librarian, topic, branch)
    move_stamps_back(client, topic, 21, "details")
    page = details_page(client, topic, thursday)
    assert "Marcus Lee" not in page and "marcus@example.org" not in page
    assert "please type them again" not in page
    # Dropped from the session as they were read, not only left unshown; the need stays.
    assert "details" not in draft(client, topic)
    assert "marcus@example.org" not in str(dict(client.session))
    assert draft(client, topic)["need"]["learning_goal"] == "Apply for jobs online"


def test_the_need_is_kept_while_the_patron_moves_through_the_pages(
    client, librarian, topic, branch
):
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    time_url = reverse("appointments:time", args=[topic.slug])
    for _ in range(3):  # an hour choosing, a page every 15 minutes
        move_stamps_back(client, topic, 15, "need")
        assert client.get(time_url).status_code == 200
    details_page(client, topic, slot(branch, local(next_weekday(1), 10)))  # not sent back
    assert draft(client, topic)["need"]["learning_goal"] == "Apply for jobs online"


def test_a_need_left_for_20_minutes_is_forgotten_and_the_patron_told_why(client, librarian, topic):
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    move_stamps_back(client, topic, 21, "need")

    response = client.get(reverse("appointments:time", args=[topic.slug]), follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("appointments:need", args=[topic.slug])
    assert "we forget a booking left unfinished for 20 minutes" in page
    assert "Apply for jobs online" not in page
    assert draft(client, topic) == {}


def test_opening_another_topic_drops_the_details(client, librarian, topic, branch):
    sent_back_after_a_taken_time(client, librarian, topic, branch)
    other = make_topic("Smartphones and tablets")
    librarian.topics.add(other)

    page = client.get(reverse("appointments:need", args=[other.slug])).content.decode()
    assert "Apply for jobs online" not in page
    assert draft(client, topic) == {}
    assert "marcus@example.org" not in str(dict(client.session))


def test_choosing_a_different_topic_drops_the_booking_started(client, librarian, topic, branch):
    sent_back_after_a_taken_time(client, librarian, topic, branch)
    # "Choose a different topic" leads to the list of topics, where the next person starts too.
    assert client.get(reverse("appointments:home")).status_code == 200
    assert draft(client, topic) == {}
    page = client.get(reverse("appointments:need", args=[topic.slug])).content.decode()
    assert "Apply for jobs online" not in page


def test_joining_the_waiting_list_drops_the_details(client, librarian, topic, branch):
    sent_back_after_a_taken_time(client, librarian, topic, branch)
    response = client.post(
        reverse("appointments:join_waitlist", args=[topic.slug]),
        {"weekdays": ["1", "3"], **MARCUS},
    )
    assert "waiting list" in response.content.decode()
    assert WaitlistEntry.objects.get().patron.email == MARCUS["email"]
    assert draft(client, topic) == {}
    assert "marcus@example.org" not in str(dict(client.session))


def test_the_details_kept_are_offered_on_the_waiting_list_too(client, librarian, topic, branch):
    tuesday = next_weekday(1)
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    send_details(client, topic, slot(branch, local(tuesday, 10)), MARCUS)
    page = client.get(reverse("appointments:join_waitlist", args=[topic.slug])).content.decode()
    assert 'value="Marcus Lee"' in page and 'value="marcus@example.org"' in page


def test_details_typed_as_the_need_is_forgotten_wait_while_it_is_told_again(
    client, librarian, topic, branch
):
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    tuesday = slot(branch, local(next_weekday(1), 10))
    details_page(client, topic, tuesday)
    move_stamps_back(client, topic, 25, "need")  # a long while typing

    response = send_details(client, topic, tuesday, MARCUS)
    assert response["Location"] == reverse("appointments:need", args=[topic.slug])
    assert not Appointment.objects.exists()
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    page = details_page(client, topic, tuesday)
    assert 'value="Marcus Lee"' in page and "2100045" not in page
