"""A time the details page cannot book is refused as the page opens, with the real reason.

The time travels in the page's address, so it may be one the time page never offered: an old
tab, a bookmark, an edited address. Marcus hears why (too soon to book online, further ahead
than we book, not a time we offer) before typing his details, not "just taken" after.
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from appointments.models import Appointment
from patrons.models import Patron

from .factories import local, make_appointment, make_staff, make_topic, next_weekday

pytestmark = pytest.mark.django_db

NEED = {"skill_level": "some", "learning_goal": "Apply for jobs online", "party_size": 1}
MARCUS = {"name": "Marcus Lee", "email": "marcus@example.org", "preferred_contact": "email"}
NOT_OFFERED = "That is not one of the times we offer. Please choose a time from the list."
TAKEN = "That time was just taken. Please choose another time."


def tell_need(client, topic):
    assert client.post(reverse("appointments:need", args=[topic.slug]), NEED).status_code == 302


def slot(branch, start, staff=None) -> str:
    return f"{branch.pk}-{staff.pk if staff else 0}-{int(start.timestamp())}"


def open_details(client, topic, value):
    url = reverse("appointments:contact", args=[topic.slug])
    return client.get(url, {"slot": value}, follow=True)


def sent_back_with(response, topic, message: str) -> bool:
    page = response.content.decode()
    return response.redirect_chain[-1][0] == reverse("appointments:time", args=[topic.slug]) and (
        message in page
    )


def test_an_open_time_shows_the_details_page(client, librarian, topic, branch):
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(next_weekday(1), 10)))
    assert response.redirect_chain == []
    assert "Your session" in response.content.decode()


def test_a_time_inside_the_notice_is_too_soon_and_the_patron_is_told_to_call(
    client, librarian, topic, branch, settings
):
    settings.BOOKING_MIN_NOTICE_HOURS = 24 * 30
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(next_weekday(1), 10)))
    assert sent_back_with(response, topic, "That time is too soon to book online")
    page = response.content.decode()
    assert "at least 720 hours ahead" in page
    assert "Please call us at 312-555-0100 or come to the desk" in page
    assert TAKEN not in page and "Your session" not in page


def test_a_branch_with_its_own_number_gives_it(client, librarian, topic, branch, settings):
    settings.BOOKING_MIN_NOTICE_HOURS = 24 * 30
    branch.phone = "312-555-0199"
    branch.save()
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(next_weekday(1), 10)))
    assert "Please call us at 312-555-0199" in response.content.decode()


def test_a_time_beyond_the_booking_window_says_how_far_ahead_we_book(
    client, librarian, topic, branch, settings
):
    settings.BOOKING_WINDOW_DAYS = 5
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(next_weekday(1), 10)))
    assert sent_back_with(response, topic, "That time is further ahead than we book")
    assert "we book up to 5 days ahead" in response.content.decode()


def test_the_year_2100_is_further_ahead_than_we_book(client, librarian, topic, branch):
    tell_need(client, topic)
    response = open_details(client, topic, f"{branch.pk}-0-4102444800")
    assert sent_back_with(response, topic, "That time is further ahead than we book")


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(lambda day: local(day, 10, 7), id="off-the-grid"),
        pytest.param(lambda day: local(day, 20), id="after-hours"),
        pytest.param(lambda day: local(day + timedelta(days=1), 10), id="a-day-nobody-works"),
    ],
)
def test_a_time_never_offered_is_not_a_time_we_offer(client, librarian, topic, branch, when):
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, when(next_weekday(1))))
    assert sent_back_with(response, topic, NOT_OFFERED)
    assert TAKEN not in response.content.decode()


def test_a_staff_member_who_does_not_help_with_the_topic_is_not_offered(
    client, librarian, topic, branch
):
    knitter = make_staff(
        "Cal D.", branch=branch, topics=[make_topic("Knitting")], hours=[(1, 9, 17)]
    )
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(next_weekday(1), 10), knitter))
    assert sent_back_with(response, topic, NOT_OFFERED)


def test_a_time_booked_since_it_was_shown_is_taken(client, librarian, topic, branch):
    tuesday = next_weekday(1)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(tuesday, 10)))
    assert sent_back_with(response, topic, TAKEN)


def test_a_page_left_open_until_the_time_is_too_soon_says_so_on_booking(
    client, librarian, topic, branch, settings
):
    tell_need(client, topic)
    value = slot(branch, local(next_weekday(1), 10))
    assert open_details(client, topic, value).redirect_chain == []
    settings.BOOKING_MIN_NOTICE_HOURS = 24 * 30  # as if the page had stayed open for weeks
    url = reverse("appointments:contact", args=[topic.slug])
    response = client.post(url, {"slot": value, **MARCUS}, follow=True)
    assert sent_back_with(response, topic, "That time is too soon to book online")
    assert Patron.objects.count() == 0 and Appointment.objects.count() == 0


def test_an_edited_time_sent_with_the_form_is_not_a_time_we_offer(client, librarian, topic, branch):
    tell_need(client, topic)
    url = reverse("appointments:contact", args=[topic.slug])
    value = slot(branch, local(next_weekday(1), 11, 15))
    response = client.post(url, {"slot": value, **MARCUS}, follow=True)
    assert sent_back_with(response, topic, NOT_OFFERED)
    assert Patron.objects.count() == 0 and Appointment.objects.count() == 0


def test_too_soon_is_said_in_spanish(client, librarian, topic, branch, settings):
    settings.BOOKING_MIN_NOTICE_HOURS = 24 * 30
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    tell_need(client, topic)
    response = open_details(client, topic, slot(branch, local(next_weekday(1), 10)))
    page = response.content.decode()
    assert "Esa hora está demasiado cerca para reservarla en línea" in page
    assert "llámenos al 312-555-0100 o venga al mostrador" in page


def choose_on_the_time_page(client, topic, value: str) -> str:
    response = client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    assert response.status_code == 200  # the time page again, with the reason
    return response.content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(lambda b: slot(b, local(next_weekday(1), 10, 7)), NOT_OFFERED, id="off-grid"),
        pytest.param(lambda b: f"{b.pk}-0-4102444800", "further ahead than we book", id="2100"),
        pytest.param(
            lambda b: slot(b, local(next_weekday(1), 10) - timedelta(days=14)),
            "That time has passed",
            id="passed",
        ),
        pytest.param(lambda b: "99999-0-4102444800", "We could not find the time", id="garbage"),
    ],
)
def test_the_time_page_gives_the_real_reason_for_a_time_it_did_not_offer(
    client, librarian, topic, branch, value, message
):
    tell_need(client, topic)
    page = choose_on_the_time_page(client, topic, value(branch))
    assert message in page
    assert TAKEN not in page


def test_the_time_page_says_taken_for_a_time_booked_since_it_was_shown(
    client, librarian, topic, branch
):
    tuesday = next_weekday(1)
    tell_need(client, topic)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    assert TAKEN in choose_on_the_time_page(client, topic, slot(branch, local(tuesday, 10)))
