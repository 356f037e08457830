"""One patron, two browser tabs, one topic: each tab books the time its details page showed.

Both tabs share the browser's session, so the test client (one session) stands for both. The
chosen time travels with each tab's pages, in the details page's address and its form.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from appointments.models import Appointment
from patrons.models import Patron

from .factories import local, make_appointment, make_staff, make_topic, next_weekday

pytestmark = pytest.mark.django_db
NEED = {"skill_level": "some", "learning_goal": "Apply for jobs online", "party_size": 1}
MARCUS = {"name": "Marcus Lee", "email": "marcus@example.org", "preferred_contact": "email"}


def tell_need(client, topic):
    return client.post(reverse("appointments:need", args=[topic.slug]), NEED)


def slot(branch, start, staff=None) -> str:
    return f"{branch.pk}-{staff.pk if staff else 0}-{int(start.timestamp())}"


def open_details(client, topic, value, query=""):
    """Choose a time, as the time page's form does, and open the details page it leads to."""
    time_url = reverse("appointments:time", args=[topic.slug]) + query
    chosen = client.post(time_url, {"slot": value})
    assert chosen.status_code == 302
    page = client.get(chosen["Location"])
    assert page.status_code == 200
    return chosen["Location"], page.content.decode()


def shown_slot(page: str) -> str:
    return re.search(r'<input type="hidden" name="slot" value="([^"]+)"', page)[1]


def test_two_tabs_each_book_the_time_they_showed(client, librarian, topic, branch):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    tell_need(client, topic)
    tab_a_url, tab_a = open_details(client, topic, slot(branch, local(tuesday, 10)))
    assert "10 am" in tab_a and tuesday.strftime("%A") in tab_a
    # Tab B, same session, picks another time for the same topic.
    tab_b_url, tab_b = open_details(client, topic, slot(branch, local(thursday, 11)))
    assert "11 am" in tab_b and thursday.strftime("%A") in tab_b

    response = client.post(tab_a_url, {"slot": shown_slot(tab_a), **MARCUS})
    assert response.status_code == 302
    booked = Appointment.objects.get()
    assert booked.starts_at == local(tuesday, 10)

    # Tab B's booking would be a second session: the need was cleared with the first booking
    # (library computers are shared), so tab B is asked for it again and books nothing.
    response = client.post(tab_b_url, {"slot": shown_slot(tab_b), **MARCUS}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("appointments:need", args=[topic.slug])
    assert "First, tell us a little about what you need." in response.content.decode()
    assert list(Appointment.objects.values_list("starts_at", flat=True)) == [local(tuesday, 10)]
    assert Patron.objects.count() == 1


def test_the_tab_that_chose_first_still_books_its_own_time(client, librarian, topic, branch):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    tell_need(client, topic)
    tab_a_url, tab_a = open_details(client, topic, slot(branch, local(tuesday, 10)))
    open_details(client, topic, slot(branch, local(thursday, 11)))
    # A reload of tab A after tab B chose still shows tab A's time.
    reloaded = client.get(tab_a_url).content.decode()
    assert shown_slot(reloaded) == shown_slot(tab_a) and tuesday.strftime("%A") in reloaded
    client.post(tab_a_url, {"slot": shown_slot(tab_a), **MARCUS})
    assert Appointment.objects.get().starts_at == local(tuesday, 10)


def two_tabs_booking_the_same_morning(client, topic, branch):
    """Tab A books Tuesday 10 am; the patron tells the need again and tab B asks for 10:30."""
    tuesday = next_weekday(1)
    tell_need(client, topic)
    tab_a_url, tab_a = open_details(client, topic, slot(branch, local(tuesday, 10)))
    tab_b_url, tab_b = open_details(client, topic, slot(branch, local(tuesday, 10, 30)))
    client.post(tab_a_url, {"slot": shown_slot(tab_a), **MARCUS})
    tell_need(client, topic)
    return client.post(tab_b_url, {"slot": shown_slot(tab_b), **MARCUS}, follow=True)


def test_a_second_tab_the_same_day_meets_the_daily_limit(client, librarian, topic, branch):
    make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    response = two_tabs_booking_the_same_morning(client, topic, branch)
    assert response.redirect_chain == []
    assert "more than we can book online" in response.content.decode()
    assert Appointment.objects.get().starts_at == local(next_weekday(1), 10)
    assert Patron.objects.count() == 1


def test_a_second_tab_overlapping_the_first_booking_is_refused(
    client, librarian, topic, branch, settings
):
    settings.BOOKING_MAX_PER_DAY = 2
    make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    response = two_tabs_booking_the_same_morning(client, topic, branch)
    assert response.redirect_chain[-1][0] == reverse("appointments:time", args=[topic.slug])
    assert "You already have a session at that time." in response.content.decode()
    assert Appointment.objects.get().starts_at == local(next_weekday(1), 10)
    assert Patron.objects.count() == 1


def test_the_time_a_named_staff_member_was_chosen_with_is_kept(client, librarian, topic, branch):
    ben = make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    tuesday = next_weekday(1)
    tell_need(client, topic)
    value = slot(branch, local(tuesday, 10), staff=ben)
    url, page = open_details(client, topic, value, query=f"?staff={ben.pk}")
    assert "with Ben O." in page
    client.post(url, {"slot": shown_slot(page), **MARCUS})
    assert Appointment.objects.get().staff == ben


def test_a_time_taken_while_the_tab_was_open_sends_the_patron_back(
    client, librarian, topic, branch
):
    tuesday = next_weekday(1)
    tell_need(client, topic)
    url, page = open_details(client, topic, slot(branch, local(tuesday, 10)))
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    response = client.post(url, {"slot": shown_slot(page), **MARCUS}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("appointments:time", args=[topic.slug])
    assert "That time was just taken. Please choose another time." in response.content.decode()
    assert Appointment.objects.count() == 1
    assert not Patron.objects.filter(email=MARCUS["email"]).exists()


NOT_FOUND = "We could not find the time you chose. Please choose a time again."
NOT_OFFERED = "That is not one of the times we offer. Please choose a time from the list."


@pytest.mark.parametrize(
    "tampered, message",
    [
        pytest.param(lambda branch, at, other: "", NOT_FOUND, id="nothing"),
        pytest.param(lambda branch, at, other: "tomorrow please", NOT_FOUND, id="words"),
        pytest.param(lambda branch, at, other: slot(branch, at) + "-1", NOT_FOUND, id="extra"),
        pytest.param(lambda branch, at, other: "1" * 5000, NOT_FOUND, id="far-too-long"),
        pytest.param(lambda branch, at, other: f"{branch.pk}\x00-0-1", NOT_FOUND, id="null"),
        pytest.param(
            lambda branch, at, other: f"{branch.pk}-0-999999999999", NOT_FOUND, id="year-33658"
        ),
        pytest.param(
            lambda branch, at, other: f"{branch.pk + 1000}-0-{int(at.timestamp())}",
            NOT_FOUND,
            id="unknown-branch",
        ),
        pytest.param(
            lambda branch, at, other: f"{10**30}-0-{int(at.timestamp())}",
            NOT_FOUND,
            id="branch-past-bigint",
        ),
        pytest.param(
            lambda branch, at, other: f"{branch.pk}-{other.pk + 1000}-{int(at.timestamp())}",
            NOT_FOUND,
            id="unknown-staff",
        ),
        pytest.param(
            lambda branch, at, other: slot(branch, at - timedelta(weeks=3)),
            "That time has passed. Please choose another time.",
            id="past",
        ),
        pytest.param(
            lambda branch, at, other: slot(branch, at.replace(minute=7)),
            NOT_OFFERED,
            id="off-the-grid",
        ),
        pytest.param(
            lambda branch, at, other: slot(branch, at.replace(hour=20)),
            NOT_OFFERED,
            id="after-hours",
        ),
        pytest.param(
            lambda branch, at, other: slot(branch, at, staff=other),
            NOT_OFFERED,
            id="staff-not-on-this-topic",
        ),
    ],
)
def test_a_tampered_time_is_refused_plainly_and_saves_nothing(
    client, librarian, topic, branch, tampered, message
):
    other = make_staff("Cal D.", branch=branch, topics=[make_topic("Knitting")])
    value = tampered(branch, local(next_weekday(1), 10), other)
    tell_need(client, topic)
    url = reverse("appointments:contact", args=[topic.slug])
    response = client.post(url, {"slot": value, **MARCUS}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("appointments:time", args=[topic.slug])
    assert message in response.content.decode()
    assert Patron.objects.count() == 0
    assert Appointment.objects.count() == 0


def test_a_post_without_the_time_is_not_booked_from_the_session(client, librarian, topic, branch):
    tell_need(client, topic)
    url, _ = open_details(client, topic, slot(branch, local(next_weekday(1), 10)))
    response = client.post(url, MARCUS, follow=True)
    assert NOT_FOUND in response.content.decode()
    assert Patron.objects.count() == 0 and Appointment.objects.count() == 0


def test_a_tampered_address_is_sent_back_to_choose_a_time(client, librarian, topic):
    tell_need(client, topic)
    url = reverse("appointments:contact", args=[topic.slug])
    response = client.get(url, {"slot": "1-2-three"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("appointments:time", args=[topic.slug])
    assert NOT_FOUND in response.content.decode()


def test_choosing_a_different_time_from_the_details_page(client, librarian, topic, branch):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    tell_need(client, topic)
    _, page = open_details(client, topic, slot(branch, local(tuesday, 10)))
    change = re.search(r'<a href="([^"]+)">Choose a different time</a>', page)[1]
    assert client.get(change).status_code == 200
    url, page = open_details(client, topic, slot(branch, local(thursday, 10)))
    client.post(url, {"slot": shown_slot(page), **MARCUS})
    assert Appointment.objects.get().starts_at == local(thursday, 10)
