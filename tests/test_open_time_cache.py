"""The patron's time page comes from the cache, and every change to the schedule shows at once.

Ana helps with computer basics at Central on Tuesdays and Thursdays, 10 am to noon: on a
Tuesday the hour-long sessions start at 10, 10:30 and 11. Each test looks at the page first (so
the week is cached), changes something, and looks again.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appointments.booking import cancel_appointment, reschedule_appointment
from appointments.models import Availability, WaitlistEntry, WaitlistState
from appointments.waitlist import leave, offer_open_times

from .factories import (
    book,
    local,
    make_appointment,
    make_block,
    make_closure,
    make_patron,
    make_staff,
    make_topic,
    next_weekday,
)

# Real commits: a change forgets the cached week when its transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

TUESDAY = next_weekday(1)


def _start_booking(client, topic):
    need = {"skill_level": "new", "learning_goal": "Send photos to my grandson", "party_size": 1}
    assert client.post(reverse("appointments:need", args=[topic.slug]), need).status_code == 302


def open_times(client, topic) -> set[tuple[int, int]]:
    """The (hour, minute) of each time the page offers on Tuesday, in Central's clock."""
    url = reverse("appointments:time", args=[topic.slug])
    response = client.get(url, {"week": TUESDAY.isoformat()})
    assert response.status_code == 200
    shown = set()
    for epoch in re.findall(
        r'name="slot" id="[^"]+" value="\d+-\d+-(\d+)"', response.content.decode()
    ):
        start = datetime.fromtimestamp(int(epoch), tz=UTC).astimezone(local(TUESDAY, 0).tzinfo)
        if start.date() == TUESDAY:
            shown.add((start.hour, start.minute))
    return shown


ALL_OF_TUESDAY = {(10, 0), (10, 30), (11, 0)}


@pytest.fixture
def page(client, librarian, topic):
    """The time page, looked at once so that its week is in the cache."""
    _start_booking(client, topic)
    assert open_times(client, topic) == ALL_OF_TUESDAY
    return lambda: open_times(client, topic)


def test_a_warm_time_page_makes_four_queries(client, librarian, topic, page):
    url = reverse("appointments:time", args=[topic.slug])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"week": TUESDAY.isoformat()})
    assert response.status_code == 200
    # The topic, the session, the topic's version with its filter choices, and the week.
    assert len(queries) <= 4


def test_a_booking_shows_at_once(librarian, topic, branch, page):
    book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    assert page() == {(11, 0)}


def test_a_cancellation_shows_at_once(client, librarian, topic, branch):
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(TUESDAY, 10)
    )
    _start_booking(client, topic)
    assert open_times(client, topic) == {(11, 0)}
    cancel_appointment(session)
    assert open_times(client, topic) == ALL_OF_TUESDAY


def test_a_move_shows_at_once(client, librarian, topic, branch):
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    _start_booking(client, topic)
    assert open_times(client, topic) == {(11, 0)}
    reschedule_appointment(session, branch=branch, starts_at=local(TUESDAY, 11))
    assert open_times(client, topic) == {(10, 0)}


def test_a_move_to_another_staff_members_topic_frees_the_old_time(client, librarian, topic, branch):
    """Ana also helps with another topic: moving her session off Tuesday frees Tuesday there."""
    other = make_topic("Job search")
    librarian.topics.add(other)
    session = book(topic=other, branch=branch, start=local(TUESDAY, 10))
    _start_booking(client, topic)
    assert open_times(client, topic) == {(11, 0)}
    reschedule_appointment(session, branch=branch, starts_at=local(TUESDAY + timedelta(days=2), 10))
    assert open_times(client, topic) == ALL_OF_TUESDAY


def test_a_block_shows_at_once(librarian, page):
    make_block(librarian, local(TUESDAY, 10), local(TUESDAY, 11))
    assert page() == {(11, 0)}


def test_a_closure_shows_at_once(branch, page):
    make_closure(branch, TUESDAY)
    assert page() == set()


def test_a_change_of_weekly_hours_shows_at_once(librarian, page):
    hours = Availability.objects.get(staff=librarian, weekday=1)
    hours.end_time = "11:00"
    hours.save()
    assert page() == {(10, 0)}


def test_a_staff_member_who_stops_taking_bookings_shows_at_once(librarian, page):
    librarian.is_bookable = False
    librarian.save()
    assert page() == set()


def test_a_staff_member_who_stops_helping_with_the_topic_shows_at_once(librarian, topic, page):
    librarian.topics.remove(topic)
    assert page() == set()


def test_a_new_staff_member_shows_at_once(topic, branch, page):
    make_staff("Ben R.", branch=branch, topics=[topic], hours=[(1, 14, 16)])
    assert page() == ALL_OF_TUESDAY | {(14, 0), (14, 30), (15, 0)}


def test_a_topic_setting_shows_at_once(librarian, topic, page):
    make_block(librarian, local(TUESDAY, 11), local(TUESDAY, 12))
    assert page() == {(10, 0)}
    topic.padding_after = 30  # half an hour to tidy up: the 10 o'clock would run into the block
    topic.save()
    assert page() == set()


def test_a_waiting_list_offer_and_its_end_show_at_once(librarian, topic, page):
    for hours in Availability.objects.filter(staff=librarian):
        hours.valid_from = TUESDAY  # so that the first time to offer is on that Tuesday
        hours.save()
    entry = WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron(),
        skill_level="new",
        learning_goal="Email",
        party_size=1,
        length=60,
        weekdays=[1],
    )
    offer_open_times()
    entry.refresh_from_db()
    assert entry.state == WaitlistState.OFFERED
    held = entry.offer_starts_at.astimezone(local(TUESDAY, 0).tzinfo)
    assert held.date() == TUESDAY
    # The held hour is nobody else's, and neither is any time overlapping it.
    assert (held.hour, held.minute) not in page()
    assert len(page()) < len(ALL_OF_TUESDAY)
    leave(entry)
    assert page() == ALL_OF_TUESDAY


def test_the_week_is_cached_per_topic(client, librarian, topic, branch, page):
    """A change to one topic's schedule leaves another topic's cached week alone."""
    other = make_topic("Job search")
    ben = make_staff("Ben R.", branch=branch, topics=[other], hours=[(1, 14, 16)])
    _start_booking(client, other)
    assert open_times(client, other) == {(14, 0), (14, 30), (15, 0)}
    make_block(ben, local(TUESDAY, 14), local(TUESDAY, 15))
    assert open_times(client, other) == {(15, 0)}
    url = reverse("appointments:time", args=[topic.slug])
    with CaptureQueriesContext(connection) as queries:
        client.get(url, {"week": TUESDAY.isoformat()})
    assert len(queries) <= 4  # Ana's topic is still served from the cache


def test_a_week_read_while_a_change_is_not_yet_committed_is_not_served_after(
    librarian, topic, page
):
    """Another visitor reads the week while a block is being saved: they see (and cache) the
    old week, as they should. Once the block commits, nobody is served that old week."""
    seen = []

    def other_visitor():
        try:
            seen.append(page())
        finally:
            connection.close()

    with transaction.atomic():
        make_block(librarian, local(TUESDAY, 10), local(TUESDAY, 11))
        visitor = threading.Thread(target=other_visitor)
        visitor.start()
        visitor.join()
    assert seen == [ALL_OF_TUESDAY]  # before the commit, the old week was right
    assert page() == {(11, 0)}
