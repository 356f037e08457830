"""A booking costs a fixed, small number of queries, so a busy morning stays fast."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appointments.models import Appointment, Message
from patrons.models import Patron

from .factories import local, make_staff, next_weekday

pytestmark = pytest.mark.django_db

# The booking forms' posts counted 2 (the need's post started the count, so it counts up),
# topic 1, session 1, the sessions booked from this address so far 1, branch 1; the booking's
# transaction 8 (patron, person lock, the person's counts, staff hours with their locks, busy
# times, the session, its messages, the worker's wake-up); this address's count of sessions
# booked goes up 2 (it is there already); the session's update 1. Then, after the commit, 2 to
# forget the cached open times of the staff member's topics (their topics, the delete).
# Transaction control is not counted: the test's SAVEPOINT and RELEASE (BEGIN and COMMIT in
# production).
BOOKING_QUERIES_AT_MOST = 19
NEED_QUERIES_AT_MOST = 6


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _statements(queries) -> list[str]:
    """The statements that do the work: less transaction control (the test's SAVEPOINT and
    RELEASE, in production BEGIN and COMMIT)."""
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(control)]


def _listed(queries) -> str:
    return "\n".join(f"{n}. {sql[:160]}" for n, sql in enumerate(_statements(queries), 1))


def _describe_need(client, topic):
    return client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Send photos to my grandson", "party_size": 1},
    )


def _give_details(client, topic, branch, staff_id=0, **details):
    value = f"{branch.pk}-{staff_id}-{int(local(next_weekday(1), 10).timestamp())}"
    data = {"slot": value, "name": "Marcus Lee", "preferred_contact": "email"}
    data.update(details or {"email": "marcus@example.org"})
    return client.post(reverse("appointments:contact", args=[topic.slug]), data)


def test_describing_the_need_takes_a_few_queries(client, librarian, topic):
    with CaptureQueriesContext(connection) as queries:
        response = _describe_need(client, topic)
    assert response.status_code == 302
    assert len(queries) <= NEED_QUERIES_AT_MOST, _listed(queries)


def test_a_booking_takes_a_fixed_few_queries(
    client, librarian, topic, branch, django_capture_on_commit_callbacks
):
    # Two who could help, the first with an email address: two messages, one insert.
    librarian.user.email = "ana@example.org"
    librarian.user.save()
    make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    _describe_need(client, topic)
    # What runs once the booking commits counts too (forgetting the cached open times).
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _give_details(client, topic, branch)
    assert response.status_code == 302
    assert Appointment.objects.get().staff == librarian
    assert Message.objects.count() == 2
    assert len(_statements(queries)) <= BOOKING_QUERIES_AT_MOST, _listed(queries)


def test_a_refusal_for_the_same_person_costs_no_more(client, librarian, topic, branch):
    _describe_need(client, topic)
    _give_details(client, topic, branch)
    _describe_need(client, topic)
    with CaptureQueriesContext(connection) as queries:
        response = _give_details(client, topic, branch, email="MARCUS@example.org")
    assert response.status_code == 200  # refused: one a day online, whichever record
    assert "We cannot book another session online" in response.content.decode()
    assert Appointment.objects.count() == 1
    assert Patron.objects.count() == 1  # the refused booking's record was rolled back
    # A second submission of this form: the rate limit's add, then its increment.
    assert len(_statements(queries)) <= BOOKING_QUERIES_AT_MOST + 1, _listed(queries)
