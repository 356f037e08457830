"""One library, one address: every public computer and the Wi-Fi reach the site from it.

The booking forms' posts are counted together, generously, so a busy computer lab is not locked
out; the sessions booked online from one address are counted apart and kept few, so nobody fills
a topic's calendar under made-up names. The desk, at the same address, is never limited. The
page that says so tells the truth: this network, not this device, and how long the wait is.
"""

import math
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from appointments.models import Appointment
from patrons.models import Patron

from .factories import local, make_appointment, make_patron, make_user, next_weekday

pytestmark = pytest.mark.django_db

NEED = {"skill_level": "new", "learning_goal": "Send photos to my grandson", "party_size": 1}
LIBRARY_NETWORK = "203.0.113.40"


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def patron_at_a_library_computer(address: str = LIBRARY_NETWORK) -> Client:
    return Client(REMOTE_ADDR=address)


def slot(branch, start) -> str:
    return f"{branch.pk}-0-{int(start.timestamp())}"


def book_online(client, topic, branch, start, name: str):
    """The three steps, as a patron at one of the library's computers takes them."""
    client.post(reverse("appointments:need", args=[topic.slug]), NEED)
    email = name.lower().replace(" ", ".") + "@example.org"
    return client.post(
        reverse("appointments:contact", args=[topic.slug]),
        {"slot": slot(branch, start), "name": name, "email": email, "preferred_contact": "email"},
    )


def minutes_said(page: str) -> int:
    return int(re.search(r"try again in about (\d+) minutes?", page)[1])


def test_a_busy_computer_lab_is_not_stopped_by_the_form_limit(librarian, topic, branch):
    """Forty-five posts from one address in minutes (the old limit stopped the 31st)."""
    need_url = reverse("appointments:need", args=[topic.slug])
    time_url = reverse("appointments:time", args=[topic.slug])
    for n in range(15):
        computer = patron_at_a_library_computer()
        assert computer.post(need_url, NEED).status_code == 302, n
        assert computer.post(time_url, {"slot": "not a time"}).status_code == 200, n
        assert computer.post(need_url, NEED).status_code == 302, n


def test_one_network_books_only_a_few_sessions_an_hour_online(librarian, topic, branch, settings):
    settings.RATELIMIT_ONLINE_BOOKINGS = "2/h"
    tuesday = next_weekday(1)
    for name, hour in [("Ann Made Up", 10), ("Bob Made Up", 11)]:
        response = book_online(
            patron_at_a_library_computer(), topic, branch, local(tuesday, hour), name
        )
        assert response.status_code == 302, name

    third = patron_at_a_library_computer()
    assert third.post(reverse("appointments:need", args=[topic.slug]), NEED).status_code == 302
    # Told as the details page opens, before typing anything.
    contact_url = reverse("appointments:contact", args=[topic.slug])
    opened = third.get(contact_url, {"slot": slot(branch, local(next_weekday(3), 10))})
    assert opened.status_code == 429
    page = opened.content.decode()
    assert "Online booking is paused for a while" in page
    assert "Many sessions have been booked online from this network in the last hour." in page
    assert "probably not something you did" in page
    assert "this device" not in page
    assert "Or call us at 312-555-0100, or ask at the library" in page
    wait = int(opened["Retry-After"])
    assert 0 < wait <= 3600
    assert minutes_said(page) == math.ceil(wait / 60)

    refused = book_online(third, topic, branch, local(next_weekday(3), 10), "Cy Made Up")
    assert refused.status_code == 429
    assert Appointment.objects.count() == 2
    assert not Patron.objects.filter(name="Cy Made Up").exists()

    # Another network (a patron at home) books as usual.
    at_home = patron_at_a_library_computer("198.51.100.7")
    response = book_online(at_home, topic, branch, local(next_weekday(3), 10), "Marcus Lee")
    assert response.status_code == 302
    assert Appointment.objects.count() == 3


def test_a_refused_booking_is_not_counted(client, librarian, topic, branch, settings):
    settings.RATELIMIT_ONLINE_BOOKINGS = "1/h"
    tuesday = next_weekday(1)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    taken = book_online(client, topic, branch, local(tuesday, 10), "Marcus Lee")
    assert taken["Location"] == reverse("appointments:time", args=[topic.slug])
    booked = book_online(client, topic, branch, local(tuesday, 11), "Marcus Lee")
    assert booked.status_code == 302
    assert Appointment.objects.filter(patron__email="marcus.lee@example.org").count() == 1


def test_the_desk_at_the_same_address_is_never_limited(librarian, topic, branch, settings):
    settings.RATELIMIT_ONLINE_BOOKINGS = "1/h"
    settings.RATELIMIT_BOOKING = "2/h"  # the need, the details: then no more posts
    tuesday = next_weekday(1)
    assert (
        book_online(
            Client(REMOTE_ADDR=LIBRARY_NETWORK), topic, branch, local(tuesday, 10), "Marcus Lee"
        ).status_code
        == 302
    )

    desk = Client(REMOTE_ADDR=LIBRARY_NETWORK)
    desk.force_login(make_user("frontdesk", groups=("Desk",)))
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    url = reverse("appointments:desk_book", args=[rosa.pk])
    url += f"?topic={topic.pk}&week={tuesday.isoformat()}"
    for start in [local(tuesday, 11), local(next_weekday(3), 10)]:
        offered = re.findall(
            r'name="slot" id="[^"]+" value="([^"]+)"', desk.get(url).content.decode()
        )
        value = next(v for v in offered if v.endswith(f"-{int(start.timestamp())}"))
        answers = {"skill_level": "new", "learning_goal": "Video calls", "party_size": 1}
        response = desk.post(url, {"slot": value, "channel": "phone", **answers})
        assert response.status_code == 302
    assert Appointment.objects.filter(patron=rosa).count() == 2


def test_the_booking_forms_posts_are_counted_together_and_the_wait_is_told(
    client, librarian, topic, branch, settings
):
    settings.RATELIMIT_BOOKING = "3/h"
    need_url = reverse("appointments:need", args=[topic.slug])
    assert client.post(need_url, NEED).status_code == 302
    value = slot(branch, local(next_weekday(1), 10))
    assert (
        client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value}).status_code
        == 302
    )
    contact_url = reverse("appointments:contact", args=[topic.slug])
    assert client.post(contact_url, {"slot": value, "name": ""}).status_code == 200
    refused = client.post(contact_url, {"slot": value, "name": "Marcus Lee"})
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Please wait a little" in page
    assert "from this network" in page and "this device" not in page
    assert minutes_said(page) == math.ceil(int(refused["Retry-After"]) / 60)
    assert "312-555-0100" in page
    # Reading a page is never counted.
    assert client.get(need_url).status_code == 200
    assert Patron.objects.count() == 0


def test_the_pause_is_explained_in_spanish(client, librarian, topic, branch, settings):
    settings.RATELIMIT_BOOKING = "1/h"
    need_url = reverse("appointments:need", args=[topic.slug])
    client.post(need_url, NEED, HTTP_ACCEPT_LANGUAGE="es")
    page = client.post(need_url, NEED, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Por favor, espere un poco" in page
    assert "desde esta red" in page
    assert "Puede intentarlo de nuevo en aproximadamente" in page
    assert "Please wait" not in page
