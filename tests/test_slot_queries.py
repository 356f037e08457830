"""A month of open times costs the same few queries for a one-person branch as for a big system.

The small library is Ana alone at Central. The big one has twelve staff across two branches,
some working at both, with staff meetings blocked out, sessions already booked and a closure.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments.booking import booking_window, find_open_slots
from appointments.models import Availability

from .factories import (
    local,
    make_appointment,
    make_block,
    make_branch,
    make_closure,
    make_patron,
    make_staff,
    make_topic,
)

pytestmark = pytest.mark.django_db

# Monday to Friday: (weekday, start hour, end hour) in branch time.
WEEK = [(0, 9, 12), (1, 10, 12), (1, 13, 16), (2, 13, 17), (3, 10, 12), (4, 9, 17)]
SLOT_QUERIES_AT_MOST = 2


def build_library(topic, *, staff_count: int, branch_names: list[str], busy: bool) -> None:
    """Staff who teach `topic`, with weekly hours and, if `busy`, blocks, bookings and closures."""
    branches = [make_branch(name) for name in branch_names]
    monday = timezone.localdate() + timedelta(days=(7 - timezone.localdate().weekday()))
    for n in range(staff_count):
        home = branches[n % len(branches)]
        user = User.objects.create(username=f"{topic.slug}-{n}")
        staff = make_staff(f"Staff {n}", branch=home, topics=[topic], hours=WEEK, user=user)
        if n % 3 == 0 and len(branches) > 1:
            # Some staff also cover a Saturday at the other branch.
            other = branches[(n + 1) % len(branches)]
            staff.branches.add(other)
            Availability.objects.create(
                staff=staff, branch=other, weekday=5, start_time="10:00", end_time="14:00"
            )
        if not busy:
            continue
        for week in range(4):
            thursday = monday + timedelta(days=7 * week + 3)
            make_block(staff, local(thursday, 10), local(thursday, 11), reason="Staff meeting")
            make_appointment(
                staff=staff,
                topic=topic,
                branch=home,
                patron=make_patron(),
                start=local(monday + timedelta(days=7 * week), 9 + n % 3),
            )
    if busy:
        for branch in branches:
            make_closure(branch, monday + timedelta(days=11), reason="Staff training day")


def month_of_slots(topic):
    first_day = timezone.localdate()
    return find_open_slots(
        topic,
        length=60,
        first_day=first_day,
        last_day=first_day + timedelta(days=30),
        window=booking_window(),
    )


def count_queries(action) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        result = action()
    return len(queries), result


def test_a_month_of_slots_takes_the_same_few_queries_for_one_or_twelve_staff(
    django_assert_num_queries,
):
    small_topic = make_topic("Computer basics")
    build_library(small_topic, staff_count=1, branch_names=["Central Library"], busy=False)
    big_topic = make_topic("Job search and résumés")
    build_library(
        big_topic, staff_count=12, branch_names=["Northside Branch", "Eastside Branch"], busy=True
    )

    small_count, small_slots = count_queries(lambda: month_of_slots(small_topic))
    with django_assert_num_queries(small_count):
        big_slots = month_of_slots(big_topic)

    assert small_count <= SLOT_QUERIES_AT_MOST
    # weekly hours of those who help (with their branches' closures); then blocks, bookings and
    # times held for the waiting list, together
    assert small_count == 2
    # Sanity: the big library really is bigger, and its busy time really is in the data.
    assert len(small_slots) > 0
    assert len(big_slots) > 10 * len(small_slots)
    assert len({slot.staff_id for slot in big_slots}) == 12
    assert len({slot.branch_id for slot in big_slots}) == 2


def test_the_patron_time_page_does_not_query_more_for_more_staff(client):
    def time_page_queries(topic) -> int:
        need = {"skill_level": "new", "learning_goal": "Write a cover letter", "party_size": 1}
        assert client.post(reverse("appointments:need", args=[topic.slug]), need).status_code == 302
        url = reverse("appointments:time", args=[topic.slug])
        counts = []
        for _ in range(2):  # the first computes the week and caches it; the second reads it
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200
            assert 'name="slot"' in response.content.decode()
            counts.append(len(queries))
        return counts

    # Ana works at two branches, so both pages show the same filters (the branch picker costs
    # one query of its own when there is a choice to make).
    small_topic = make_topic("Computer basics")
    build_library(
        small_topic, staff_count=1, branch_names=["Central Library", "Westside Branch"], busy=False
    )
    big_topic = make_topic("Job search and résumés")
    build_library(
        big_topic, staff_count=12, branch_names=["Northside Branch", "Eastside Branch"], busy=True
    )

    small = time_page_queries(small_topic)
    big = time_page_queries(big_topic)

    assert big == small
    # The first page writes its week to the cache (a few queries each with the database cache);
    # from then on only the topic, the session and two cache reads.
    assert small[1] <= 4
