"""The waiting list: patrons join when no time suits; a freed time goes to one at a time."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.booking import find_open_slots
from appointments.models import (
    Appointment,
    Availability,
    Message,
    MessageKind,
    WaitlistEntry,
    WaitlistState,
)
from appointments.waitlist import offer_open_times, offer_token

from .factories import make_appointment, make_patron, make_staff, next_weekday

pytestmark = pytest.mark.django_db


def wait(topic, name, **extra):
    return WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron(name),
        skill_level="new",
        learning_goal="Email",
        party_size=1,
        length=60,
        **extra,
    )


@pytest.fixture
def one_open_time(topic, branch):
    """Ana has exactly one open hour: Tuesday 10 to 11."""
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 11)])
    tuesday = next_weekday(1)
    Availability.objects.filter(staff=ana).update(valid_from=tuesday, valid_until=tuesday)
    return ana


def test_a_freed_time_is_offered_to_exactly_one_patron_at_a_time(topic, branch, one_open_time):
    first, second = wait(topic, "First Waiting"), wait(topic, "Second Waiting")
    assert offer_open_times()["offered"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == WaitlistState.OFFERED
    assert second.state == WaitlistState.WAITING
    assert Message.objects.filter(kind=MessageKind.WAITLIST_OFFER, patron=first.patron).count() == 1
    # Held: nobody else sees it, and a second run offers it to nobody else.
    assert (
        find_open_slots(topic, length=60, first_day=next_weekday(1), last_day=next_weekday(1)) == []
    )
    assert offer_open_times()["offered"] == 0


def test_an_offer_not_taken_expires_and_moves_on(topic, branch, one_open_time):
    first, second = wait(topic, "First Waiting"), wait(topic, "Second Waiting")
    offer_open_times()
    later = timezone.now() + timedelta(hours=13)
    WaitlistEntry.objects.filter(pk=first.pk).update(offer_expires_at=later - timedelta(hours=1))
    counts = offer_open_times(now=later)
    assert counts["expired"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.state == WaitlistState.OFFERED
    assert first.state == WaitlistState.WAITING


def test_patron_takes_the_offered_time_with_the_private_link(client, topic, branch, one_open_time):
    entry = wait(topic, "Marcus Lee")
    offer_open_times()
    entry.refresh_from_db()
    url = reverse("appointments:waitlist_offer", args=[offer_token(entry)])
    assert "A time has opened for you" in client.get(url).content.decode()
    response = client.post(url, {"answer": "yes"})
    assert response.status_code == 302
    session = Appointment.objects.get()
    assert session.patron == entry.patron and session.starts_at == entry.offer_starts_at
    entry.refresh_from_db()
    assert entry.state == WaitlistState.BOOKED
    assert client.get(url).status_code == 410


def test_an_offer_is_withdrawn_once_the_time_is_booked_another_way(
    client, topic, branch, one_open_time
):
    entry = wait(topic, "Marcus Lee")
    offer_open_times()
    entry.refresh_from_db()
    make_appointment(staff=one_open_time, topic=topic, branch=branch, start=entry.offer_starts_at)
    assert offer_open_times()["withdrawn"] == 1
    entry.refresh_from_db()
    assert entry.state == WaitlistState.WAITING
    url = reverse("appointments:waitlist_offer", args=[offer_token(entry)])
    assert client.post(url, {"answer": "yes"}).status_code in (404, 410)
    assert Appointment.objects.count() == 1


def test_patron_joins_the_waiting_list_when_no_time_suits(client, topic, branch, one_open_time):
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "some", "learning_goal": "Spreadsheets", "party_size": 1},
    )
    url = reverse("appointments:join_waitlist", args=[topic.slug])
    bad = client.post(url, {"name": "Ann", "preferred_contact": "email"})
    assert "Please give an email address or a phone number." in bad.content.decode()
    assert WaitlistEntry.objects.count() == 0
    client.post(
        url,
        {
            "name": "Ann Lee",
            "email": "ann@example.org",
            "preferred_contact": "email",
            "weekdays": ["1", "3"],
        },
    )
    entry = WaitlistEntry.objects.get()
    assert entry.weekdays == [1, 3] and entry.learning_goal == "Spreadsheets"
