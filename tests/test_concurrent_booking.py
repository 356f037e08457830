"""Several people click the same time at the same moment: exactly as many get it as there is room.

Each thread has its own database connection and its own transaction, as separate web requests
would; a barrier releases them together. These tests commit for real, so they run in
transactional test mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from django.db import IntegrityError, OperationalError, connection

from appointments.booking import SLOT_TAKEN, BookingError
from appointments.models import Appointment

from .factories import (
    book,
    local,
    make_appointment,
    make_branch,
    make_patron,
    make_staff,
    make_topic,
    next_weekday,
)

pytestmark = pytest.mark.django_db(transaction=True)

CLICKERS = 8


def all_at_once(work: list[Callable[[], object]]) -> list[object]:
    """Run each callable in its own thread, released together; return results or exceptions."""
    barrier = threading.Barrier(len(work))
    results: list[object] = [None] * len(work)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work[index]()
        except Exception as error:  # the test inspects what each thread got
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a booking thread hung"
    return results


@pytest.fixture
def central():
    branch = make_branch()
    topic = make_topic("Job search and résumés")
    # groups=() because a transactional test may follow another one that emptied the tables.
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12)], groups=())
    return branch, topic, ana


def from_next_tuesday(hour: int):
    return local(next_weekday(1), hour)


def test_eight_patrons_click_the_same_time_and_one_gets_it(central):
    branch, topic, ana = central
    start = from_next_tuesday(10)
    patrons = [make_patron(f"Patron {n}") for n in range(CLICKERS)]

    results = all_at_once(
        [
            partial(book, patron=p, topic=topic, branch=branch, start=start, staff=ana)
            for p in patrons
        ]
    )

    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, BookingError)]
    assert len(booked) == 1, results
    assert len(refused) == CLICKERS - 1, results
    assert {(e.code, e.message) for e in refused} == {("taken", SLOT_TAKEN)}
    saved = Appointment.objects.get()
    assert saved.pk == booked[0].pk
    assert saved.staff == ana
    assert saved.starts_at == start


def test_with_any_staff_and_two_staff_exactly_two_get_the_time(central):
    branch, topic, ana = central
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12)], groups=())
    start = from_next_tuesday(10)
    patrons = [make_patron(f"Patron {n}") for n in range(CLICKERS)]

    results = all_at_once(
        [partial(book, patron=p, topic=topic, branch=branch, start=start) for p in patrons]
    )

    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, BookingError)]
    assert len(booked) == 2, results
    assert len(refused) == CLICKERS - 2, results
    assert {e.code for e in refused} == {"taken"}
    saved = Appointment.objects.all()
    assert {a.staff_id for a in saved} == {ana.pk, ben.pk}
    assert len({a.patron_id for a in saved}) == 2


def test_one_patron_double_clicking_on_two_staff_gets_one_session(central):
    branch, topic, ana = central
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12)], groups=())
    start = from_next_tuesday(10)
    marcus = make_patron("Marcus Lee")

    results = all_at_once(
        [
            partial(book, patron=marcus, topic=topic, branch=branch, start=start, staff=staff)
            for staff in (ana, ben, ana, ben)
        ]
    )

    booked = [r for r in results if isinstance(r, Appointment)]
    assert len(booked) == 1, results
    assert Appointment.objects.filter(patron=marcus).count() == 1
    assert all(isinstance(r, (Appointment, BookingError)) for r in results), results


def test_the_exclusion_constraint_alone_stops_a_double_booking(central):
    branch, topic, ana = central
    start = from_next_tuesday(10)
    patrons = [make_patron(f"Patron {n}") for n in range(CLICKERS)]

    def insert(patron, minutes_later: int):
        return lambda: make_appointment(
            staff=ana,
            topic=topic,
            branch=branch,
            patron=patron,
            start=start + timedelta(minutes=minutes_later),
        )

    # Straight inserts, no service and no locks: same hour, or overlapping by half an hour.
    results = all_at_once([insert(p, 30 * (n % 2)) for n, p in enumerate(patrons)])

    inserted = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, (IntegrityError, OperationalError))]
    assert len(inserted) == 1, results
    assert len(refused) == CLICKERS - 1, results
    # PostgreSQL checks an exclusion constraint after inserting, so two inserts at the very same
    # moment can each wait for the other; its deadlock detector then turns one of them away.
    assert all(
        "appointment_no_staff_overlap" in str(e) or "deadlock detected" in str(e) for e in refused
    ), refused
    assert Appointment.objects.count() == 1


def test_one_person_booking_twice_at_once_under_two_new_records_is_held_to_the_limit(
    central, settings
):
    settings.BOOKING_MAX_UPCOMING = 1
    settings.BOOKING_MAX_PER_WEEK = 5
    branch, topic, ana = central
    # Two tabs, two online bookings: each makes its own record with the same email.
    tabs = [make_patron("Marcus Lee", email="marcus@example.org") for _ in range(2)]

    results = all_at_once(
        [
            partial(book, patron=patron, topic=topic, branch=branch, start=from_next_tuesday(hour))
            for patron, hour in zip(tabs, (10, 11), strict=True)
        ]
    )

    assert Appointment.objects.count() == 1, results
    refused = [r for r in results if isinstance(r, BookingError)]
    assert [e.code for e in refused] == ["limit"], results
