"""Who may book which time: the rules book_appointment enforces, and the database behind them.

Ana helps with computer basics at Central Library on Tuesdays and Thursdays, 10 am to noon
(the `librarian` fixture). Every refused booking must leave nothing behind.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from appointments.booking import (
    ONLINE_REFUSAL,
    SLOT_TAKEN,
    BookingError,
    cancel_appointment,
)
from appointments.models import Appointment, Availability, Status

from .factories import (
    book,
    local,
    make_appointment,
    make_block,
    make_branch,
    make_closure,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db


def refused(code: str, **booking) -> BookingError:
    """Try the booking, expect it refused with `code`, and check nothing was saved."""
    before = Appointment.objects.count()
    with pytest.raises(BookingError) as caught:
        book(**booking)
    assert caught.value.code == code
    assert Appointment.objects.count() == before
    return caught.value


def branch_at_midday():
    """A branch where it is about noon right now, with Ana there from 8 am to 6 pm today.

    The notice rules are about "now", so the branch's zone is chosen to put now in the middle of
    the working day, whatever time the tests run.
    """
    now = timezone.now()
    offset = 12 - now.hour  # hours east of UTC
    branch = make_branch("Harbour Branch", tz=f"Etc/GMT{-offset:+d}")
    today = now.astimezone(branch.tz)
    assert 12 <= today.hour < 13
    return branch, today


def soon_on_the_grid(branch, minutes: int) -> datetime:
    """The first half-hour mark at least `minutes` from now, in the branch's time."""
    moment = timezone.now().astimezone(branch.tz) + timedelta(minutes=minutes)
    rounded = moment.replace(second=0, microsecond=0) + timedelta(minutes=(-moment.minute) % 30)
    if rounded < moment:
        rounded += timedelta(minutes=30)
    return rounded


def test_patron_books_inside_the_librarians_hours(librarian, topic, branch):
    tuesday = next_weekday(1)
    patron = make_patron("Marcus Lee")

    appointment = book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 10, 30))

    saved = Appointment.objects.get()
    assert saved == appointment
    assert saved.patron == patron
    assert saved.staff == librarian
    assert saved.starts_at == local(tuesday, 10, 30)
    assert saved.ends_at == local(tuesday, 11, 30)
    assert saved.status == Status.CONFIRMED
    assert saved.channel == "online"
    assert saved.limit_override_reason == ""


def test_time_outside_the_librarians_hours_is_refused(librarian, topic, branch):
    tuesday = next_weekday(1)

    error = refused("taken", topic=topic, branch=branch, start=local(tuesday, 14))
    assert error.message == SLOT_TAKEN
    refused("taken", topic=topic, branch=branch, start=local(tuesday, 11, 30))  # ends 12:30
    refused("taken", topic=topic, branch=branch, start=local(next_weekday(2), 10))  # Wednesday
    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10, 10))  # off the grid


def test_time_inside_a_block_is_refused(librarian, topic, branch):
    thursday = next_weekday(3)
    make_block(librarian, local(thursday, 10), local(thursday, 11), reason="Staff meeting")

    refused("taken", topic=topic, branch=branch, start=local(thursday, 10))
    refused("taken", topic=topic, branch=branch, start=local(thursday, 10, 30))
    assert book(topic=topic, branch=branch, start=local(thursday, 11)).staff == librarian


def test_nothing_is_booked_on_a_day_the_branch_is_closed(librarian, topic, branch):
    tuesday = next_weekday(1)
    make_closure(branch, tuesday, tuesday + timedelta(days=2), reason="Renovation")

    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10))
    refused("taken", topic=topic, branch=branch, start=local(tuesday + timedelta(days=2), 10))
    next_week = book(topic=topic, branch=branch, start=local(tuesday + timedelta(days=7), 10))
    assert next_week.staff == librarian


def test_staff_member_who_does_not_teach_the_topic_cannot_be_booked_for_it(
    librarian, topic, branch
):
    tuesday = next_weekday(1)
    # Ben works the same hours at the same branch, but only helps with job searches.
    jobs = make_topic("Job search and résumés")
    ben = make_staff("Ben K.", branch=branch, topics=[jobs], hours=[(1, 10, 12)])

    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10), staff=ben)
    assert book(topic=jobs, branch=branch, start=local(tuesday, 10), staff=ben).staff == ben


def test_online_booking_needs_notice_but_the_desk_can_book_a_walk_in_now(topic):
    branch, today = branch_at_midday()
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(today.weekday(), 8, 18)])
    desk = make_user("desk")
    start = soon_on_the_grid(branch, minutes=45)
    assert start - timezone.now() < timedelta(hours=settings.BOOKING_MIN_NOTICE_HOURS)

    refused("taken", topic=topic, branch=branch, start=start)
    appointment = book(topic=topic, branch=branch, start=start, channel="desk", booked_by=desk)

    assert appointment.staff == ana
    assert appointment.channel == "desk"
    assert appointment.booked_by == desk


def test_online_booking_with_enough_notice_the_same_day_is_accepted(topic):
    branch, today = branch_at_midday()
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(today.weekday(), 8, 18)])
    start = soon_on_the_grid(branch, minutes=60 * settings.BOOKING_MIN_NOTICE_HOURS + 5)

    assert book(topic=topic, branch=branch, start=start).starts_at == start


def test_a_session_in_the_past_is_refused_even_at_the_desk(topic):
    branch, today = branch_at_midday()
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(today.weekday(), 8, 18)])
    earlier = datetime.combine(today.date(), time(9), tzinfo=branch.tz)

    desk = make_user("desk")
    refused("taken", topic=topic, branch=branch, start=earlier, channel="desk", booked_by=desk)


def test_time_beyond_the_booking_window_is_refused(librarian, topic, branch):
    far_tuesday = next_weekday(1, weeks_ahead=9)
    assert far_tuesday - timezone.localdate() > timedelta(days=settings.BOOKING_WINDOW_DAYS)

    refused("taken", topic=topic, branch=branch, start=local(far_tuesday, 10))
    desk = make_user("desk")
    refused(
        "taken",
        topic=topic,
        branch=branch,
        start=local(far_tuesday, 10),
        channel="desk",
        booked_by=desk,
    )


def test_topic_no_longer_offered_cannot_be_booked(librarian, topic, branch):
    topic.is_active = False
    topic.save()

    error = refused("rules", topic=topic, branch=branch, start=local(next_weekday(1), 10))
    assert error.message == "This topic is not offered at the moment."


def test_length_the_topic_does_not_offer_is_refused(librarian, topic, branch):
    error = refused(
        "rules", topic=topic, branch=branch, start=local(next_weekday(1), 10), length=45
    )
    assert error.message == "Please choose one of the session lengths offered."


def test_any_staff_gives_the_time_to_a_free_colleague(librarian, topic, branch):
    tuesday = next_weekday(1)
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    assert librarian.pk < ben.pk  # Ana would be tried first
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))

    appointment = book(topic=topic, branch=branch, start=local(tuesday, 10))

    assert appointment.staff == ben
    assert Appointment.objects.filter(starts_at=local(tuesday, 10)).count() == 2
    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10))


def test_any_staff_only_offers_staff_who_work_at_that_branch(librarian, topic, branch):
    tuesday = next_weekday(1)
    eastside = make_branch("Eastside Branch")
    make_staff("Cam R.", branch=eastside, topics=[topic], hours=[(1, 10, 12)])
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))

    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10))


def test_wrap_up_time_after_a_session_is_kept_free(librarian, branch):
    tuesday = next_weekday(1)
    padded = make_topic("Smartphones and tablets", lengths=(30, 60), padding_after=15)
    librarian.topics.add(padded)
    book(topic=padded, branch=branch, start=local(tuesday, 10), length=30)

    refused("taken", topic=padded, branch=branch, start=local(tuesday, 10, 30), length=30)
    assert book(topic=padded, branch=branch, start=local(tuesday, 11), length=30)


def test_upcoming_limit_stops_online_booking_kindly(librarian, topic, branch):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    patron = make_patron("Daily Booker")
    for start in (local(tuesday, 10), local(thursday, 10)):
        book(patron=patron, topic=topic, branch=branch, start=start)
    assert settings.BOOKING_MAX_UPCOMING == 2

    error = refused("limit", patron=patron, topic=topic, branch=branch, start=local(tuesday, 11))

    # The same words as for a pause: whoever types these details online learns no count.
    assert error.message == ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE)


def test_past_and_cancelled_sessions_do_not_count_towards_the_limit(librarian, topic, branch):
    tuesday = next_weekday(1)
    patron = make_patron()
    last_week = timezone.localdate() - timedelta(days=7)
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=patron,
        start=local(last_week, 10),
        status=Status.ATTENDED,
    )
    cancelled = book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 10))
    cancel_appointment(cancelled)
    book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 11))

    assert book(patron=patron, topic=topic, branch=branch, start=local(next_weekday(3), 10))


def test_desk_must_give_a_reason_to_book_past_the_limit(librarian, topic, branch):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    patron = make_patron("Daily Booker")
    desk = make_user("desk")
    for start in (local(tuesday, 10), local(thursday, 10)):
        book(patron=patron, topic=topic, branch=branch, start=start)
    attempt = dict(patron=patron, topic=topic, branch=branch, start=local(tuesday, 11))

    error = refused("limit", channel="desk", booked_by=desk, limit_override_reason="  ", **attempt)
    assert error.message == (
        "Daily Booker has 2 upcoming sessions (the limit is 2); 1 already that day (the limit "
        "is 1 a day); 2 already that week (the limit is 2 a week). To go ahead anyway, say why."
    )

    reason = "Job interview on Friday; needs one more practice session"
    appointment = book(channel="desk", booked_by=desk, limit_override_reason=reason, **attempt)

    appointment.refresh_from_db()
    assert appointment.limit_override_reason == reason
    assert appointment.booked_by == desk
    assert patron.appointments.count() == 3


def test_a_reason_is_not_kept_when_no_limit_was_lifted(librarian, topic, branch):
    appointment = book(
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        channel="desk",
        booked_by=make_user("desk"),
        limit_override_reason="Just in case",
    )

    appointment.refresh_from_db()
    assert appointment.limit_override_reason == ""


def test_patron_cannot_hold_two_overlapping_sessions(librarian, topic, branch, settings):
    settings.BOOKING_MAX_PER_DAY = 3  # the overlap rule, not the daily cap, must refuse these
    tuesday = next_weekday(1)
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    patron = make_patron("Marcus Lee")
    book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 10), staff=librarian)

    same_time = dict(patron=patron, topic=topic, branch=branch, start=local(tuesday, 10))
    error = refused("patron_overlap", staff=ben, **same_time)
    assert error.message == "You already have a session at that time. Please choose another time."
    refused("patron_overlap", **same_time)  # any staff: Ana is busy, Ben is free, patron is not
    refused(
        "patron_overlap",
        patron=patron,
        topic=topic,
        branch=branch,
        start=local(tuesday, 10, 30),
        staff=ben,
    )
    # The same person under a second record (a second online booking) is no different.
    again = make_patron("Marcus L.", email=patron.email.upper())
    refused("patron_overlap", **{**same_time, "patron": again, "staff": ben})

    assert book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 11), staff=ben)


def test_cancelling_a_session_frees_the_time(librarian, topic, branch):
    tuesday = next_weekday(1)
    first = book(topic=topic, branch=branch, start=local(tuesday, 10))
    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10))

    assert cancel_appointment(first)
    second = book(topic=topic, branch=branch, start=local(tuesday, 10))

    assert second.staff == librarian
    assert Appointment.objects.active().get() == second


def test_database_refuses_an_overlapping_session_even_without_the_service(librarian, topic, branch):
    tuesday = next_weekday(1)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))

    with pytest.raises(IntegrityError, match="appointment_no_staff_overlap"), transaction.atomic():
        make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10, 30))

    assert Appointment.objects.count() == 1


def test_database_refuses_a_session_that_overlaps_only_through_padding(librarian, topic, branch):
    tuesday = next_weekday(1)
    make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10), padding_after=15
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 11))

    assert Appointment.objects.count() == 1


def test_database_accepts_a_session_over_a_cancelled_one(librarian, topic, branch):
    tuesday = next_weekday(1)
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=local(tuesday, 10),
        status=Status.CANCELLED,
    )

    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))

    assert Appointment.objects.count() == 2
    assert Appointment.objects.active().count() == 1


def test_changing_a_topics_length_leaves_booked_sessions_alone(librarian, branch):
    tuesday = next_weekday(1)
    topic = make_topic("Smartphones and tablets", lengths=(30, 60), padding_after=10)
    librarian.topics.add(topic)
    appointment = book(topic=topic, branch=branch, start=local(tuesday, 10), length=30)

    topic.session_lengths = [45]
    topic.padding_after = 0
    topic.save()

    appointment.refresh_from_db()
    assert appointment.starts_at == local(tuesday, 10)
    assert appointment.ends_at == local(tuesday, 10, 30)
    assert appointment.minutes == 30
    assert appointment.padding_after == 10
    assert appointment.occupied_until == local(tuesday, 10, 40)
    assert Availability.objects.filter(staff=librarian).count() == 2
    # The padding kept with the booking still holds the wrap-up time free.
    refused("taken", topic=topic, branch=branch, start=local(tuesday, 10, 30), length=45)


def test_times_in_other_zones_mean_the_same_instant(librarian, topic, branch):
    tuesday = next_weekday(1)
    in_new_york = local(tuesday, 11, tz=ZoneInfo("America/New_York"))  # 10:00 in Chicago

    appointment = book(topic=topic, branch=branch, start=in_new_york)

    assert appointment.local_starts_at.hour == 10


def test_a_desk_booking_must_name_who_made_it(librarian, topic, branch):
    with pytest.raises(ValueError):
        book(topic=topic, branch=branch, start=local(next_weekday(1), 10), channel="phone")
    assert not Appointment.objects.exists()
